"""OGC API - Records on the SQL provider, over HTTP against a real `eoorder serve` (SQLite)."""

from __future__ import annotations

import json

import pytest
import requests

from tests.conftest import Server
from tests.support.catalogue import eo_record, records_resource

N = 12


@pytest.fixture(scope='module')
def catalogue(tmp_path_factory):
    resources = {
        'products': records_resource('products', processes=['ndvi']),
        'readonly': records_resource('readonly', editable=False),
    }
    server = Server(tmp_path_factory.mktemp('catalogue'),
                    {'jobs': {'workers': 1},
                     'ordering': {'enabled': True, 'collections': ['products']}},
                    resources).start()
    for index in range(N):
        reply = requests.post(f'{server.url}/collections/products/items', json=eo_record(index),
                              headers={'Content-Type': 'application/geo+json'}, timeout=10)
        assert reply.status_code == 201, reply.text
    yield server
    server.stop()


def items(server, **params) -> dict:
    reply = requests.get(f'{server.url}/collections/products/items', params=params, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def ids(body: dict) -> list[str]:
    return sorted((f['id'] for f in body['features']), key=lambda i: int(i.split('-')[1]))


def test_a_feature_posted_as_a_search_is_a_clear_error(catalogue):
    """POST .../items is a CQL2-JSON search unless the body is GeoJSON (a new record): a
    feature sent as plain JSON is a 400 problem saying so, not a 500."""
    reply = requests.post(f'{catalogue.url}/collections/products/items', json={
        **eo_record(N + 1), 'bbox': [1, 2, 1, 2]}, timeout=10)
    assert reply.status_code == 400, reply.text
    assert 'application/geo+json' in reply.json()['detail']
    assert items(catalogue, limit=100)['numberMatched'] == N


def test_all_records_with_number_matched(catalogue):
    body = items(catalogue, limit=100)
    assert body['numberMatched'] == N and body['numberReturned'] == N


def test_q_whitespace_means_all_words_comma_means_any(catalogue):
    assert ids(items(catalogue, q='optical')) == [f'scene-{i}' for i in range(1, N, 2)]
    assert ids(items(catalogue, q='scene 3')) == ['scene-3']          # both words
    assert ids(items(catalogue, q='tile-3,tile-4')) == ['scene-3', 'scene-4']  # either
    assert ids(items(catalogue, q='radar tile-3')) == []               # tile-3 is optical


def test_bbox_intersects_footprints(catalogue):
    assert ids(items(catalogue, bbox='2.5,2.5,3.5,3.5')) == ['scene-2', 'scene-3']
    assert ids(items(catalogue, bbox='100,10,110,20')) == []


@pytest.mark.parametrize('value, expected', [
    ('2021-01-03T06:00:00Z', [2]),                      # instant inside scene-2's interval
    ('2021-01-03T13:00:00Z', []),                       # after its end, before scene-3
    ('2021-01-03', [2]),                                # a whole day
    ('2021-01-03T06:00:00Z/2021-01-04T06:00:00Z', [2, 3]),
    ('../2021-01-02T06:00:00Z', [0, 1]),                # open start
    ('2021-01-11T06:00:00Z/..', [10, 11]),              # open end
])
def test_datetime_intersects_with_open_ends(catalogue, value, expected):
    assert ids(items(catalogue, datetime=value)) == [f'scene-{i}' for i in expected]


def test_type_ids_external_ids_and_properties(catalogue):
    assert items(catalogue, type='product')['numberMatched'] == N
    assert items(catalogue, type='service')['numberMatched'] == 0
    assert ids(items(catalogue, ids='scene-4,scene-7')) == ['scene-4', 'scene-7']
    assert ids(items(catalogue, externalIds='ESA-5')) == ['scene-5']
    assert ids(items(catalogue, externalIds='esa:ESA-6')) == ['scene-6']
    assert ids(items(catalogue, platform='SENTINEL-2A', orbitNumber='1003')) == ['scene-3']
    assert ids(items(catalogue, orbitDirection='descending', cloudCover='20')) == ['scene-2']


def test_sortby_limit_offset_and_paging_links(catalogue):
    body = items(catalogue, sortby='-cloudCover,id', limit=3)
    assert [f['properties']['cloudCover'] for f in body['features']] == [90.0, 80.0, 70.0]
    assert body['numberMatched'] == N and body['numberReturned'] == 3
    next_link = next(link['href'] for link in body['links'] if link['rel'] == 'next')
    second = requests.get(next_link, timeout=10).json()
    assert [f['properties']['cloudCover'] for f in second['features']] == [60.0, 50.0, 40.0]
    assert items(catalogue, sortby='+orbitNumber', offset=10)['features'][0]['id'] == 'scene-10'


def test_queryables_and_sortables(catalogue):
    queryables = requests.get(f'{catalogue.url}/collections/products/queryables',
                              timeout=10).json()['properties']
    for name in ('platform', 'instrument', 'productType', 'processingLevel', 'cloudCover',
                 'orbitNumber', 'orbitDirection', 'start_datetime', 'end_datetime', 'geometry'):
        assert name in queryables, name
    assert queryables['cloudCover']['type'] == 'number'
    reply = requests.get(f'{catalogue.url}/collections/products/sortables', timeout=10)
    assert reply.status_code == 200
    sortables = reply.json()['properties']
    assert 'cloudCover' in sortables and 'description' not in sortables


@pytest.mark.parametrize('cql, expected', [
    ("cloudCover < 25 AND platform = 'SENTINEL-1B'", [0, 2, 10]),
    ("productType IN ('GRD') AND orbitNumber BETWEEN 1003 AND 1006", [4, 6]),
    ("title LIKE 'Scene 1%'", [1, 10, 11]),
    ("CASEI(platform) = 'sentinel-2a' AND cloudCover >= 90", [9]),
    ("S_INTERSECTS(geometry, BBOX(4.5, 4.5, 5.5, 5.5))", [4, 5]),
    ("S_INTERSECTS(geometry, POLYGON((6.2 6.2, 6.8 6.2, 6.8 6.8, 6.2 6.8, 6.2 6.2)))", [6]),
    ("S_WITHIN(geometry, BBOX(0, 0, 2.5, 2.5))", [0, 1]),
    ("T_INTERSECTS(datetime, INTERVAL('2021-01-05T00:00:00Z', '2021-01-06T00:00:00Z'))", [4, 5]),
    ("T_AFTER(datetime, TIMESTAMP('2021-01-11T00:00:00Z'))", [11]),
    ("T_BEFORE(datetime, DATE('2021-01-02'))", [0]),
    ("T_DURING(datetime, INTERVAL('2021-01-04', '2021-01-05'))", [4]),  # 3 starts with it
    ("T_INTERSECTS(datetime, INTERVAL('2021-01-11T00:00:00Z', '..'))", [10, 11]),
    ("NOT (orbitDirection = 'ASCENDING') AND cloudCover > 70", [8]),
    ("A_CONTAINS(keywords, ('optical', 'tile-3'))", [3]),
    ("a_overlaps(keywords, ('tile-1', 'tile-2'))\nAND true", [1, 2]),
    ("NOT (title LIKE 'Scene 1%' OR false)", [0, *range(2, 10)]),
])
def test_filter_cql2_text(catalogue, cql, expected):
    assert ids(items(catalogue, filter=cql, limit=100)) == [f'scene-{i}' for i in expected]


def test_filter_cql2_json_in_query_and_body(catalogue):
    document = {'op': 'and', 'args': [
        {'op': 's_intersects', 'args': [{'property': 'geometry'}, {'bbox': [2.5, 2.5, 5.5, 5.5]}]},
        {'op': 't_intersects', 'args': [{'property': 'datetime'},
                                        {'interval': ['2021-01-04T00:00:00Z', '..']}]}]}
    body = items(catalogue, **{'filter-lang': 'cql2-json', 'filter': json.dumps(document)})
    assert ids(body) == ['scene-3', 'scene-4', 'scene-5']
    reply = requests.post(f'{catalogue.url}/collections/products/items', data=json.dumps(document),
                          headers={'Content-Type': 'application/query-cql-json'}, timeout=10)
    assert reply.status_code == 200, reply.text
    assert ids(reply.json()) == ['scene-3', 'scene-4', 'scene-5']


@pytest.mark.parametrize('params, parameter', [
    ({'bbox': '1,2,3'}, 'bbox'),
    ({'bbox': 'a,b,c,d'}, 'bbox'),
    ({'datetime': '2021-13-45'}, 'datetime'),
    ({'datetime': '2021-01-05/2021-01-01'}, 'datetime'),
    ({'filter': 'cloudCover <'}, 'filter'),
    ({'filter': 'nosuchfield = 1'}, 'filter'),
    ({'filter': '{"op": "=", "args": [{"property": "secret"}, 1]}',
      'filter-lang': 'cql2-json'}, 'filter'),
    ({'filter-lang': 'sql'}, 'filter-lang'),
    ({'filter': 'S_INTERSECTS(geometry, POLYGON((0 0, 1 1)))'}, 'filter'),
    ({'filter': 'S_INTERSECTS(geometry, POLYGON((0 0, 2 2, 2 0, 0 2, 0 0)))'}, 'filter'),
    ({'filter': '{"op": "s_intersects", "args": [{"property": "geometry"}, {"type": '
                '"Polygon", "coordinates": [[[0, 0], [1, 1]]]}]}',
      'filter-lang': 'cql2-json'}, 'filter'),
    ({'sortby': 'description'}, 'sortby'),
    ({'limit': 'ten'}, 'limit'),
    ({'cloudCover': 'cloudy'}, 'cloudCover'),
    ({'nosuchparameter': '1'}, 'nosuchparameter'),
])
def test_bad_input_is_400_naming_the_parameter(catalogue, params, parameter):
    reply = requests.get(f'{catalogue.url}/collections/products/items', params=params, timeout=10)
    assert reply.status_code == 400, reply.text
    assert reply.headers['Content-Type'].startswith('application/problem+json')
    assert reply.json()['detail'].startswith(parameter + ':'), reply.json()


def test_eo_record_links_enclosure_order_execute(catalogue):
    record = requests.get(f'{catalogue.url}/collections/products/items/scene-3',
                          timeout=10).json()
    rels = {link['rel']: link['href'] for link in record['links']}
    assert rels['enclosure'] == 'https://data.invalid/scene-3.zip'
    assert rels['order'] == f'{catalogue.url}/ui/order?collection=products&identifier=scene-3'
    execute = 'http://www.opengis.net/def/rel/ogc/1.0/execute'
    assert rels[execute] == f'{catalogue.url}/processes/ndvi/execution'
    props = record['properties']
    assert (props['platform'], props['instrument'], props['orbitDirection']) == (
        'SENTINEL-2A', 'MSI', 'ASCENDING')
    assert record['time']['interval'] == ['2021-01-04T00:00:00Z', '2021-01-04T12:00:00Z']


def test_transactions_create_replace_delete(catalogue):
    url = f'{catalogue.url}/collections/products/items'
    headers = {'Content-Type': 'application/geo+json'}
    record = eo_record(50, id='tx-1')
    reply = requests.post(url, json=record, headers=headers, timeout=10)
    assert reply.status_code == 201 and reply.headers['Location'].endswith('/items/tx-1')
    assert requests.post(url, json=record, headers=headers, timeout=10).status_code == 409
    record['properties']['cloudCover'] = 3.5
    assert requests.put(f'{url}/tx-1', json=record, headers=headers, timeout=10).status_code == 204
    assert requests.get(f'{url}/tx-1', timeout=10).json()['properties']['cloudCover'] == 3.5
    bad = dict(record, time={'interval': ['2021-01-02T00:00:00Z', '2021-01-01T00:00:00Z']})
    reply = requests.put(f'{url}/tx-1', json=bad, headers=headers, timeout=10)
    assert reply.status_code == 400 and 'time' in reply.json()['detail']
    assert requests.delete(f'{url}/tx-1', timeout=10).status_code == 200
    assert requests.get(f'{url}/tx-1', timeout=10).status_code == 404
    assert requests.delete(f'{url}/tx-1', timeout=10).status_code == 404


def test_read_only_collection_refuses_transactions(catalogue):
    reply = requests.post(f'{catalogue.url}/collections/readonly/items', json=eo_record(1),
                          headers={'Content-Type': 'application/geo+json'}, timeout=10)
    assert reply.status_code in (400, 405), reply.text


def test_records_conformance_classes(catalogue):
    conforms = requests.get(f'{catalogue.url}/conformance', timeout=10).json()['conformsTo']
    for suffix in ('record-core', 'record-collection', 'sorting', 'json'):
        assert f'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/{suffix}' in conforms
    assert 'http://www.opengis.net/spec/cql2/1.0/conf/cql2-json' in conforms


def test_html_pages_render(catalogue):
    reply = requests.get(f'{catalogue.url}/collections/products/items',
                         params={'f': 'html', 'q': 'optical'}, timeout=10)
    assert reply.status_code == 200 and 'Scene 1 over area 1' in reply.text
    reply = requests.get(f'{catalogue.url}/collections/products/items/scene-2',
                         params={'f': 'html'}, timeout=10)
    assert reply.status_code == 200 and 'SENTINEL-1B' in reply.text


def test_cql2_json_between_with_three_arguments(catalogue):
    # the form of the official cql2.json schema: {"op": "between", "args": [a, low, high]}
    document = {'op': 'between', 'args': [{'property': 'orbitNumber'}, 1003, 1006]}
    expected = [f'scene-{i}' for i in range(N) if 1003 <= 1000 + i <= 1006]
    body = items(catalogue, **{'filter-lang': 'cql2-json', 'filter': json.dumps(document),
                               'limit': 100})
    assert ids(body) == expected
    reply = requests.post(f'{catalogue.url}/collections/products/items',
                          data=json.dumps({'op': 'not', 'args': [document]}),
                          headers={'Content-Type': 'application/query-cql-json',
                                   'Accept': 'application/geo+json'}, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.headers['Content-Type'].split(';')[0] == 'application/geo+json'
    assert ids(reply.json()) == [f'scene-{i}' for i in range(N) if f'scene-{i}' not in expected]


# Conformance classes of OGC API - Records - Part 1 (current draft, opengeospatial/
# ogcapi-records core/standard/abstract_tests): nothing else under this prefix exists
RECORDS_DRAFT_CLASSES = {f'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/{name}' for name
                         in ('record-core', 'record-collection', 'records-api',
                             'record-core-query-parameters', 'cql-filter', 'sorting', 'json',
                             'html', 'oas30', 'autodiscovery', 'query-param-profile',
                             'searchable-catalog', 'searchable-catalog/filtering',
                             'searchable-catalog/sorting', 'local-resources-catalog',
                             'crawlable-catalog')}


def test_conformance_lists_only_uris_of_the_current_records_draft(catalogue):
    conforms = requests.get(f'{catalogue.url}/conformance', timeout=10).json()['conformsTo']
    records = {uri for uri in conforms
               if uri.startswith('http://www.opengis.net/spec/ogcapi-records-1/')}
    assert records and records <= RECORDS_DRAFT_CLASSES, records - RECORDS_DRAFT_CLASSES
    for name in ('records-api', 'cql-filter', 'searchable-catalog'):
        assert f'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/{name}' in records


RECORD_PROFILE = 'http://www.opengis.net/def/profile/OGC/0/ogc-record'
CATALOG_PROFILE = 'http://www.opengis.net/def/profile/OGC/0/ogc-catalog'


@pytest.mark.parametrize('path', ['/collections/products/items',
                                  '/collections/products/items/scene-3'])
def test_records_are_geojson_when_asked_with_a_profile_link(catalogue, path):
    url = catalogue.url + path
    for kwargs in ({'headers': {'Accept': 'application/geo+json'}},
                   {'params': {'f': 'geojson'}},
                   {'params': {'f': 'application/geo+json'}}):
        reply = requests.get(url, timeout=10, **kwargs)
        assert reply.status_code == 200, reply.text
        assert reply.headers['Content-Type'].split(';')[0] == 'application/geo+json', kwargs
        body = reply.json()
        assert body['type'] in ('Feature', 'FeatureCollection')
        assert {'rel': 'profile', 'href': RECORD_PROFILE} in [
            {k: link.get(k) for k in ('rel', 'href')} for link in body['links']]
    plain = requests.get(url, params={'f': 'json'}, timeout=10)
    assert plain.headers['Content-Type'].split(';')[0] == 'application/json'


def _catalogue_members(collection: dict) -> None:
    assert collection['type'] == 'Collection'
    rels = {(link['rel'], link['href']) for link in collection['links']}
    assert ('profile', CATALOG_PROFILE) in rels
    sortables = [href for rel, href in rels
                 if rel == 'http://www.opengis.net/def/rel/ogc/1.0/sortables']
    assert sortables and sortables[0].endswith(f"/collections/{collection['id']}/sortables")
    assert requests.get(sortables[0], timeout=10).status_code == 200


def test_collections_are_typed_with_sortables_and_profile_links(catalogue):
    _catalogue_members(requests.get(f'{catalogue.url}/collections/products', timeout=10).json())
    listed = requests.get(f'{catalogue.url}/collections', timeout=10).json()['collections']
    _catalogue_members(next(c for c in listed if c['id'] == 'products'))


def test_queryables_schema_and_array_properties(catalogue):
    body = requests.get(f'{catalogue.url}/collections/products/queryables', timeout=10).json()
    assert body['$schema'] == 'https://json-schema.org/draft/2020-12/schema'
    record = requests.get(f'{catalogue.url}/collections/products/items/scene-3',
                          timeout=10).json()
    for name in ('keywords', 'externalIds'):  # arrays in the records themselves
        assert isinstance(record['properties'][name], list)
        assert body['properties'][name]['type'] == 'array', body['properties'][name]
        assert body['properties'][name]['items']['type'] == 'string'
    assert body['properties']['cloudCover']['type'] == 'number'


@pytest.mark.parametrize('interval, instants', [
    # (record interval, {datetime= value: found?} computed by hand from the interval)
    (['2021-02-01T00:00:00Z', '..'], {'2030-01-01T00:00:00Z': True,
                                      '2021-01-31T00:00:00Z': False,
                                      '2021-02-01T00:00:00Z/..': True,
                                      '../2021-01-15T00:00:00Z': False}),
    (['..', '2021-02-01T00:00:00Z'], {'1990-01-01T00:00:00Z': True,
                                      '2021-02-02T00:00:00Z': False,
                                      '../1900-01-01T00:00:00Z': True,
                                      '2021-02-01T00:00:01Z/..': False}),
])
def test_open_ended_record_intervals_are_not_instants(catalogue, interval, instants):
    url = f'{catalogue.url}/collections/products/items'
    record = eo_record(40, id='open-ended', time={'interval': interval})
    reply = requests.post(url, json=record, headers={'Content-Type': 'application/geo+json'},
                          timeout=10)
    assert reply.status_code == 201, reply.text
    try:
        for value, found in instants.items():
            matched = [f['id'] for f in items(catalogue, datetime=value, limit=100)['features']]
            assert ('open-ended' in matched) is found, value
        # CQL2 T_BEFORE: the record ends before the instant; an open end never does
        before = "T_BEFORE(datetime, TIMESTAMP('2021-03-01T00:00:00Z'))"
        assert ('open-ended' in ids_of(items(catalogue, filter=before, limit=100))) is (
            interval[0] == '..')
    finally:
        requests.delete(f'{url}/open-ended', timeout=10)


def ids_of(body: dict) -> list[str]:
    return [f['id'] for f in body['features']]

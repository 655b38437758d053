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

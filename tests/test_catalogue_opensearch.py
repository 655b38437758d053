"""OpenSearch Geo/Time/EO at /opensearch over HTTP against a real `eoorder serve`."""

from __future__ import annotations

import re

import pytest
import requests
from lxml import etree

from tests.conftest import Server
from tests.support.catalogue import eo_record, records_resource

NS = {'os': 'http://a9.com/-/spec/opensearch/1.1/',
      'param': 'http://a9.com/-/spec/opensearch/extensions/parameters/1.0/',
      'atom': 'http://www.w3.org/2005/Atom', 'georss': 'http://www.georss.org/georss',
      'eo': 'http://a9.com/-/opensearch/extensions/eo/1.0/',
      'dc': 'http://purl.org/dc/elements/1.1/'}
N = 12


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    resources = {'products': records_resource('Sentinel products'),
                 'landsat': records_resource('Landsat scenes')}
    resources['landsat']['keywords'] = ['landsat', 'usgs']
    server = Server(tmp_path_factory.mktemp('opensearch'), {'jobs': {'workers': 1}},
                    resources).start()
    for index in range(N):
        reply = requests.post(f'{server.url}/collections/products/items', json=eo_record(index),
                              headers={'Content-Type': 'application/geo+json'}, timeout=10)
        assert reply.status_code == 201, reply.text
    yield server
    server.stop()


def xml(reply):
    assert reply.status_code == 200, reply.text
    return etree.fromstring(reply.content)


def search(site, **params):
    params.setdefault('count', 50)
    return requests.get(f'{site.url}/opensearch/collections/products/search', params=params,
                        timeout=10)


def atom_ids(reply) -> list[str]:
    feed = xml(reply)
    return sorted((e.findtext('dc:identifier', namespaces=NS) for e in
                   feed.findall('atom:entry', NS)), key=lambda i: int(i.split('-')[1]))


def fill(template: str, values: dict) -> str:
    """Fill an OpenSearch URL template like a client: unknown optional ones become empty."""
    def replace(match):
        name = match.group(1).rstrip('?')
        return str(values.get(name, ''))
    return re.sub(r'\{([^}]+)\}', replace, template)


def test_catalogue_description_document(site):
    root = xml(requests.get(f'{site.url}/opensearch', timeout=10))
    assert root.tag == '{http://a9.com/-/spec/opensearch/1.1/}OpenSearchDescription'
    urls = {u.get('type'): u for u in root.findall('os:Url', NS)}
    assert {'application/atom+xml', 'application/geo+json'} <= set(urls)
    atom = urls['application/atom+xml']
    assert '{eo:parentIdentifier?}' in atom.get('template')
    params = {p.get('name'): p for p in atom.findall('param:Parameter', NS)}
    options = {o.get('value') for o in params['parentIdentifier'].findall('param:Option', NS)}
    assert options == {'products', 'landsat'}
    assert params['cloudCover'].get('value') == '{eo:cloudCover}'
    assert params['cloudCover'].get('maxInclusive') == '100'
    assert params['cloudCover'].get('pattern')
    assert params['count'].get('maxInclusive') == '100'


def test_collection_description_offers_values_found(site):
    root = xml(requests.get(f'{site.url}/opensearch/collections/products', timeout=10))
    url = root.find('os:Url[@type="application/atom+xml"]', NS)
    params = {p.get('name'): p for p in url.findall('param:Parameter', NS)}
    platforms = {o.get('value') for o in params['platform'].findall('param:Option', NS)}
    assert platforms == {'SENTINEL-1B', 'SENTINEL-2A'}
    directions = {o.get('value') for o in params['orbitDirection'].findall('param:Option', NS)}
    assert directions == {'ASCENDING', 'DESCENDING'}
    assert 'parentIdentifier' not in params
    assert requests.get(f'{site.url}/opensearch/collections/nope', timeout=10).status_code == 404


def test_two_step_search(site):
    # step 1: find the collection, follow its description, fill its template
    feed = xml(requests.get(f'{site.url}/opensearch/search', params={'q': 'sentinel'},
                            timeout=10))
    entries = feed.findall('atom:entry', NS)
    assert [e.findtext('dc:identifier', namespaces=NS) for e in entries] == ['products']
    assert [e.findtext('atom:id', namespaces=NS) for e in entries] == [
        f'{site.url}/collections/products']
    osdd = entries[0].find('atom:link[@rel="search"]', NS).get('href')
    description = xml(requests.get(osdd, timeout=10))
    template = description.find('os:Url[@type="application/atom+xml"]', NS).get('template')
    url = fill(template, {'eo:platform': 'SENTINEL-2A', 'eo:cloudCover': '[30,70]',
                          'count': 20})
    assert atom_ids(requests.get(url, timeout=10)) == ['scene-3', 'scene-5', 'scene-7']
    # or in one endpoint, by parentIdentifier
    reply = requests.get(f'{site.url}/opensearch/search', timeout=10, params={
        'parentIdentifier': 'products', 'platform': 'SENTINEL-2A', 'cloudCover': '[30,70]'})
    assert atom_ids(reply) == ['scene-3', 'scene-5', 'scene-7']
    reply = requests.get(f'{site.url}/opensearch/search', params={'parentIdentifier': 'x'},
                         timeout=10)
    assert reply.status_code == 400 and 'parentIdentifier' in reply.json()['detail']


def test_atom_response_members(site):
    feed = xml(search(site, count=4, startIndex=3, platform='SENTINEL-1B'))
    assert feed.findtext('os:totalResults', namespaces=NS) == '6'
    assert feed.findtext('os:startIndex', namespaces=NS) == '3'
    assert feed.findtext('os:itemsPerPage', namespaces=NS) == '4'
    query = feed.find('os:Query', NS)
    assert query.get('role') == 'request'
    assert query.get('{http://a9.com/-/opensearch/extensions/eo/1.0/}platform') == 'SENTINEL-1B'
    entries = feed.findall('atom:entry', NS)
    assert [e.findtext('dc:identifier', namespaces=NS) for e in entries] == [
        'scene-4', 'scene-6', 'scene-8', 'scene-10']
    assert [e.findtext('atom:id', namespaces=NS) for e in entries] == [  # IRIs
        f'{site.url}/collections/products/items/scene-{i}' for i in (4, 6, 8, 10)]
    polygon = entries[0].findtext('georss:polygon', namespaces=NS)
    assert polygon.split()[:4] == ['4.0', '4.0', '4.0', '5.0']  # lat lon pairs
    assert entries[0].find('atom:link[@rel="enclosure"]', NS) is not None
    assert feed.find('atom:link[@rel="next"]', NS) is None  # 6 results, 3..6 shown
    assert feed.find('atom:link[@rel="previous"]', NS) is not None


def test_start_page_and_start_index_paging(site):
    first = atom_ids(search(site, count=5, startPage=1))
    second = atom_ids(search(site, count=5, startPage=2))
    assert len(first) == 5 and len(second) == 5 and not set(first) & set(second)
    assert atom_ids(search(site, count=5, startIndex=6)) == second
    assert len(atom_ids(search(site, count=5, startPage=3))) == 2


def test_geojson_results(site):
    reply = search(site, httpAccept='application/geo+json', uid='scene-2,scene-3')
    assert reply.headers['Content-Type'].startswith('application/geo+json')
    body = reply.json()
    assert body['totalResults'] == 2 and body['startIndex'] == 1
    feature = body['features'][0]
    assert feature['properties']['identifier'] == 'scene-2'
    acquisition = feature['properties']['acquisitionInformation'][0]
    assert acquisition['platform']['platformShortName'] == 'SENTINEL-1B'
    assert acquisition['acquisitionParameters']['orbitNumber'] == 1002
    assert feature['properties']['links']['data'][0]['href'].endswith('scene-2.zip')


@pytest.mark.parametrize('value, expected', [
    ('30', [3]),
    ('{0,50}', [0, 5, 10]),
    ('[20,40]', [2, 3, 4]),
    (']20,40[', [3]),
    ('[20,40[', [2, 3]),
    (']20,40]', [3, 4]),
    ('[80', [8, 9]),
    (']80', [9]),
    ('10]', [0, 1, 10, 11]),
    ('10[', [0, 10]),
])
def test_eo_value_syntax(site, value, expected):
    assert atom_ids(search(site, cloudCover=value)) == [f'scene-{i}' for i in expected]


def test_eo_ranges_on_integers_and_strings(site):
    assert atom_ids(search(site, orbitNumber='[1003,1005]')) == ['scene-3', 'scene-4', 'scene-5']
    assert atom_ids(search(site, productType='{GRD,S2MSI1C}', orbitNumber=']1009')) == [
        'scene-10', 'scene-11']
    assert atom_ids(search(site, orbitDirection='descending', cloudCover='[60')) == [
        'scene-6', 'scene-8']


def test_geo_and_time_parameters(site):
    assert atom_ids(search(site, bbox='2.5,2.5,3.5,3.5')) == ['scene-2', 'scene-3']
    assert atom_ids(search(site, geometry='POINT(7.5 7.5)')) == ['scene-7']
    assert atom_ids(search(site, lat='5.5', lon='5.5', radius='1000')) == ['scene-5']
    assert atom_ids(search(site, start='2021-01-03T06:00:00Z', end='2021-01-04T06:00:00Z')) \
        == ['scene-2', 'scene-3']
    assert atom_ids(search(site, start='2021-01-11T00:00:00Z')) == ['scene-10', 'scene-11']
    assert atom_ids(search(site, end='2021-01-01T06:00:00Z')) == ['scene-0']
    assert atom_ids(search(site, start='2021-01-02T00:00:00Z', end='2021-01-04T00:00:00Z',
                           relation='during')) == ['scene-2']
    assert atom_ids(search(site, q='radar tile-4')) == ['scene-4']


@pytest.mark.parametrize('params, parameter', [
    ({'cloudCover': '[50,10]'}, 'cloudCover'),
    ({'cloudCover': '[a,b]'}, 'cloudCover'),
    ({'cloudCover': '1,2'}, 'cloudCover'),
    ({'orbitNumber': '{}'}, 'orbitNumber'),
    ({'start': 'yesterday'}, 'start'),
    ({'bbox': '1,2,3'}, 'bbox'),
    ({'geometry': 'POLYGON((0 0'}, 'geometry'),
    ({'count': '-1'}, 'count'),
    ({'startIndex': '0'}, 'startIndex'),
    ({'relation': 'near'}, 'relation'),
    ({'httpAccept': 'text/csv'}, 'httpAccept'),
    ({'colour': 'blue'}, 'colour'),
])
def test_bad_parameters_are_400_naming_them(site, params, parameter):
    reply = search(site, **params)
    assert reply.status_code == 400, reply.text
    assert reply.json()['detail'].startswith(parameter + ':'), reply.json()


def test_opensearch_is_in_openapi(site):
    paths = requests.get(f'{site.url}/openapi', params={'f': 'json'}, timeout=10).json()['paths']
    assert '/opensearch' in paths and '/opensearch/collections/{collection_id}/search' in paths


def test_control_characters_never_break_the_atom_document(site):
    feed = xml(search(site, instrument='\x08MSI'))
    assert feed.findtext('os:totalResults', namespaces=NS) == '0'
    assert feed.find('os:Query', NS).get(
        '{http://a9.com/-/opensearch/extensions/eo/1.0/}instrument') == 'MSI'


def _is_absolute_iri(value: str) -> bool:
    """RFC 3987: an absolute IRI starts with a scheme and has no spaces."""
    return bool(re.fullmatch(r'[A-Za-z][A-Za-z0-9+.-]*:[^\s<>"{}|\\^`]+', value))


def test_atom_id_is_an_iri_and_antimeridian_footprints_are_not_the_whole_globe(site):
    url = f'{site.url}/collections/landsat/items'
    # a scene crossing the antimeridian, stored as two polygons (RFC 7946 3.1.9)
    west = [[170.0, -20.0], [180.0, -20.0], [180.0, -10.0], [170.0, -10.0], [170.0, -20.0]]
    east = [[-180.0, -20.0], [-170.0, -20.0], [-170.0, -10.0], [-180.0, -10.0],
            [-180.0, -20.0]]
    record = eo_record(0, id='LC08 crossing', geometry={
        'type': 'MultiPolygon', 'coordinates': [[west], [east]]})
    record['properties'].update({'instrument': ['OLI', 'TIRS'],
                                 'keywords': ['landsat', 'thermal', 'antimeridian']})
    reply = requests.post(url, json=record, headers={'Content-Type': 'application/geo+json'},
                          timeout=10)
    assert reply.status_code == 201, reply.text
    try:
        feed = xml(requests.get(f'{site.url}/opensearch/collections/landsat/search',
                                params={'instrument': 'TIRS'}, timeout=10))
        [entry] = feed.findall('atom:entry', NS)
        atom_id = entry.findtext('atom:id', namespaces=NS)
        assert _is_absolute_iri(atom_id), atom_id
        assert atom_id == f'{site.url}/collections/landsat/items/LC08%20crossing'
        assert requests.get(atom_id, timeout=10).json()['id'] == 'LC08 crossing'
        assert entry.find('georss:box', NS) is None
        polygons = [[float(v) for v in p.text.split()]
                    for p in entry.findall('georss:polygon', NS)]
        # oracle: each ring as lat lon pairs, longitudes never spanning the globe
        expected = [[c for lon, lat in ring for c in (lat, lon)] for ring in (west, east)]
        assert polygons == expected
        assert [e.text for e in entry.findall('eo:instrument', NS)] == ['OLI', 'TIRS']
        assert [c.get('term') for c in entry.findall('atom:category', NS)] == [
            'landsat', 'thermal', 'antimeridian']
        for instrument in ('OLI', 'TIRS'):  # every value is searchable
            assert len(xml(requests.get(
                f'{site.url}/opensearch/collections/landsat/search',
                params={'instrument': instrument}, timeout=10)).findall('atom:entry', NS)) == 1
    finally:
        requests.delete(f'{url}/LC08%20crossing', timeout=10)

"""The STAC API (`/stac`) over the SQL catalogue, on SQLite and on PostGIS, through a
running server: pystac-client for discovery and every search parameter (answers checked
against an oracle computed on the synthetic records), paging through more than 1,000
items, transactions under the auth model, visibility, and stac-api-validator."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone

import pystac
import pytest
import requests
from pystac_client import Client

from pygeoapi_eoorder.catalogue.repository import RecordRepository
from pygeoapi_eoorder.catalogue.visibility import Ownership
from tests.conftest import Server, server_env
from tests.support.auth import as_, write_users
from tests.support.catalogue import records_resource
from tests.support.cluster import Database
from tests.support.stac_data import matching, record, truth
from tests.support.stac_schemas import SchemaProxy

COUNT = 1200            # products: more than 1,000, to page through
ARCHIVE = 30            # a second collection
PRIVATE = (5000, 5001)  # alice's private results (in products)
USERS = {'alice': ['user'], 'cora': ['curator'], 'root': ['admin']}


def _load(store_url: str, asset_href: str) -> list:
    facts = [truth(i) for i in range(COUNT)]
    archive = [truth(i, 'archive') for i in range(ARCHIVE)]
    private = [truth(i, private=True) for i in PRIVATE]
    products = RecordRepository(store_url, 'products')
    products.clear()
    products.upsert([record(f, asset_href) for f in facts])
    products.upsert([record(f, asset_href) for f in private],
                    ownership=Ownership('alice', 'private'))
    RecordRepository(store_url, 'archive').clear()
    RecordRepository(store_url, 'archive').upsert([record(f, asset_href) for f in archive])
    return facts + private + archive


def server_block(directory, store_url: str) -> dict:
    """The eoorder block of a STAC test server: the store, the test users (basic auth,
    anonymous reading), one job worker."""
    users = write_users(directory / 'users.yml', USERS)
    return {'jobs': {'workers': 1}, 'store': {'url': store_url},
            'auth': {'authenticators': [{'name': 'basic', 'users_file': str(users)}],
                     'anonymous': True}}


@pytest.fixture(scope='module', params=['sqlite', 'postgis'])
def stac(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f'stac-{request.param}')
    database = None
    if request.param == 'postgis':
        database = Database('eoorder_stac').create(postgis=True)
        store_url = database.url
    else:
        store_url = f"sqlite:///{directory / 'catalogue.db'}"
    server = Server(directory, server_block(directory, store_url), {
        'products': records_resource('Products'),
        'archive': records_resource('Archive', editable=False)})
    server.facts = _load(store_url, f'{server.url}/stac/api')
    server.root = f'{server.url}/stac'
    server.start()
    yield server
    server.stop()
    if database is not None:
        database.drop()


def client(stac, user: str | None = None) -> Client:
    headers = {}
    if user:
        import base64
        headers['Authorization'] = 'Basic ' + base64.b64encode(
            ':'.join(as_(user)).encode()).decode()
    return Client.open(stac.root, headers=headers)


def ids_of(items) -> list[str]:
    return [item.id if hasattr(item, 'id') else item['id'] for item in items]


def when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace('Z', '+00:00')).astimezone(timezone.utc)


def test_discovery_with_pystac_client(stac):
    catalogue = client(stac)
    assert catalogue.conforms_to('ITEM_SEARCH') and catalogue.conforms_to('FILTER')
    assert catalogue.conforms_to('SORT') and catalogue.conforms_to('FIELDS')
    assert {c.id for c in catalogue.get_collections()} == {'products', 'archive'}
    products = catalogue.get_collection('products')
    assert products.extent.spatial.bboxes == [[-180, -90, 180, 90]]
    item = next(products.get_items())
    assert item.collection_id == 'products'
    assert item.get_self_href().endswith(f'/stac/collections/products/items/{item.id}')
    queryables = catalogue.get_merged_queryables(['products'])['properties']
    assert {'eo:cloud_cover', 'platform', 'instruments', 'datetime'} <= set(queryables)


SEARCHES = [  # (pystac-client search arguments, oracle arguments)
    ({'bbox': [0, 0, 40, 40]}, {'bbox': [0, 0, 40, 40]}),
    ({'intersects': {'type': 'Polygon', 'coordinates': [[[-50, -50], [-20, -50], [-20, 10],
                                                         [-50, -50]]]}},
     {'geometry': {'type': 'Polygon', 'coordinates': [[[-50, -50], [-20, -50], [-20, 10],
                                                       [-50, -50]]]}}),
    ({'datetime': '2020-02-01T00:00:00Z/2020-02-10T12:00:00Z'},
     {'start': when('2020-02-01T00:00:00Z'), 'end': when('2020-02-10T12:00:00Z')}),
    ({'datetime': '../2020-01-05T00:00:00Z'}, {'end': when('2020-01-05T00:00:00Z')}),
    ({'datetime': '2020-10-01T00:00:00Z/..'}, {'start': when('2020-10-01T00:00:00Z')}),
    ({'datetime': '2020-03-01T06:10:00Z'},
     {'start': when('2020-03-01T06:10:00Z'), 'end': when('2020-03-01T06:10:00Z')}),
    ({'ids': ['products-00007', 'products-00700', 'archive-00003', 'nope']},
     {'ids': {'products-00007', 'products-00700', 'archive-00003'}}),
    ({'collections': ['archive']}, {'collections': {'archive'}}),
    ({'filter': "eo:cloud_cover < 20 AND platform = 'LANDSAT-9'", 'filter_lang': 'cql2-text'},
     {'where': lambda f: f.cloud < 20 and f.platform == 'LANDSAT-9'}),
    ({'filter': {'op': 'and', 'args': [
        {'op': 'a_contains', 'args': [{'property': 'instruments'}, ['TIRS']]},
        {'op': '>=', 'args': [{'property': 'sat:absolute_orbit'}, 1900]}]},
      'filter_lang': 'cql2-json'},
     {'where': lambda f: 'TIRS' in f.instruments and f.orbit >= 1900}),
    # the array functions compare sets, in either order of their operands (CQL2)
    ({'filter': "A_CONTAINEDBY(instruments, ('MSI', 'OLI'))\nAND eo:cloud_cover < 50",
      'filter_lang': 'cql2-text'},
     {'where': lambda f: set(f.instruments) <= {'MSI', 'OLI'} and f.cloud < 50}),
    ({'filter': "a_equals(instruments, ('TIRS', 'OLI')) OR A_CONTAINS(('TIRS'), instruments)",
      'filter_lang': 'cql2-text'},
     {'where': lambda f: set(f.instruments) in ({'OLI', 'TIRS'}, {'TIRS'})}),
    ({'filter': "A_OVERLAPS(instruments, ('TIRS', 'SAR')) AND NOT A_CONTAINS(instruments, ())",
      'filter_lang': 'cql2-text'},
     {'where': lambda f: False}),
    ({'filter': {'op': 'or', 'args': [
        {'op': 'a_containedBy', 'args': [['TIRS'], {'property': 'instruments'}]},
        {'op': 'a_equals', 'args': [{'property': 'instruments'}, ['MSI', 'MSI']]}]},
      'filter_lang': 'cql2-json'},
     {'where': lambda f: 'TIRS' in f.instruments or set(f.instruments) == {'MSI'}}),
    ({'filter': "instruments = 'TIRS' AND sat:orbit_state = 'ascending' AND "
                "collection = 'archive'", 'filter_lang': 'cql2-text'},
     {'where': lambda f: 'TIRS' in f.instruments and f.index % 2 == 1
      and f.collection == 'archive'}),
]


@pytest.mark.parametrize('method', ['GET', 'POST'])
@pytest.mark.parametrize('case', range(len(SEARCHES)))
def test_search_parameters_against_the_oracle(stac, method, case):
    arguments, oracle = SEARCHES[case]
    search = client(stac).search(method=method, limit=500, **arguments)
    expected = {f.id for f in matching(stac.facts, **oracle)}
    found = ids_of(search.items_as_dicts())
    assert len(found) == len(set(found))
    assert set(found) == expected
    assert search.matched() == len(expected)


@pytest.mark.parametrize('method', ['GET', 'POST'])
def test_sort_fields_and_limit(stac, method):
    search = client(stac).search(method=method, collections=['products'], max_items=25,
                                 limit=10, sortby='-eo:cloud_cover,+id',
                                 fields=['id', 'properties.eo:cloud_cover', '-links'])
    items = list(search.items_as_dicts())
    visible = [f for f in stac.facts if f.collection == 'products' and not f.private]
    expected = sorted(visible, key=lambda f: (-f.cloud, f.id))[:25]
    assert ids_of(items) == [f.id for f in expected]
    assert all(set(item) == {'id', 'type', 'stac_version', 'links', 'properties'}
               for item in items)
    assert all(set(item['properties']) == {'eo:cloud_cover'} for item in items)


@pytest.mark.parametrize('method', ['GET', 'POST'])
def test_paging_through_more_than_a_thousand_items(stac, method):
    search = client(stac).search(method=method, collections=['products'], limit=250)
    found = ids_of(search.items_as_dicts())
    expected = [f.id for f in stac.facts if f.collection == 'products' and not f.private]
    assert search.matched() == len(expected) == COUNT
    assert sorted(found) == sorted(expected)
    pages = list(client(stac).search(method=method, collections=['products'],
                                     limit=250).pages_as_dicts())
    assert [len(p['features']) for p in pages] == [250, 250, 250, 250, 200]


def test_items_pages_have_next_and_prev_links(stac):
    url = f'{stac.root}/collections/products/items'
    first = requests.get(url, params={'limit': 500}, timeout=30).json()
    links = {link['rel']: link for link in first['links']}
    assert 'prev' not in links and first['numberMatched'] == COUNT
    second = requests.get(links['next']['href'], timeout=30).json()
    assert {link['rel'] for link in second['links']} >= {'next', 'prev', 'self', 'root'}
    assert not set(ids_of(first['features'])) & set(ids_of(second['features']))
    back = requests.get({link['rel']: link for link in second['links']}['prev']['href'],
                        timeout=30).json()
    assert ids_of(back['features']) == ids_of(first['features'])


def test_items_are_valid_stac_items(stac):
    body = requests.get(f'{stac.root}/search', params={'limit': 40}, timeout=30).json()
    for feature in body['features']:
        item = pystac.Item.from_dict(feature)
        assert item.validate()  # pystac's bundled STAC 1.1.0 schemas
        assert feature['assets']['data']['roles'] == ['data']
        rels = {link['rel'] for link in feature['links']}
        assert rels >= {'self', 'parent', 'collection', 'root'}


def test_open_ended_record_is_found_by_a_later_instant(stac):
    open_ended = next(f for f in stac.facts if f.end.year == 9999 and not f.private)
    body = requests.get(f'{stac.root}/search', timeout=30, params={
        'datetime': '2030-01-01T00:00:00Z', 'ids': open_ended.id}).json()
    assert ids_of(body['features']) == [open_ended.id]
    assert body['features'][0]['properties']['datetime'] is not None


@pytest.mark.parametrize('path, params, status', [
    ('/search', {'bbox': '1,2,3'}, 400),
    ('/search', {'datetime': 'yesterday'}, 400),
    ('/search', {'filter': 'eo:cloud_cover <<< 3'}, 400),
    ('/search', {'filter': 'no.such = 3'}, 400),
    ('/search', {'limit': '0'}, 400),
    ('/search', {'sortby': 'description'}, 400),
    ('/search', {'intersects': '{"type": "Polygon"}'}, 400),
    ('/search', {'colections': 'products'}, 400),
    ('/collections/nope', {}, 404),
    ('/collections/nope/items', {}, 404),
    ('/collections/products/items/nope', {}, 404),
])
def test_errors_are_stac_api_errors(stac, path, params, status):
    reply = requests.get(stac.root + path, params=params, timeout=30)
    assert reply.status_code == status
    assert reply.headers['Content-Type'].startswith('application/json')
    assert set(reply.json()) == {'code', 'description'}


@pytest.mark.parametrize('body', [
    {'sortby': 5}, {'sortby': [{'field': 5}]}, {'limit': 'x'}, {'bbox': 'x'}, {'bbox': [1, 2]},
    {'datetime': 5}, {'intersects': 5}, {'filter': 5}, {'fields': 5}, {'collections': 5},
    {'ids': 5}, {'token': 'x'}, [], 5,
])
def test_malformed_post_searches_are_stac_api_errors(stac, body):
    reply = requests.post(stac.root + '/search', json=body, timeout=30)
    assert reply.status_code == 400, reply.text
    assert set(reply.json()) == {'code', 'description'}


def test_true_and_false_are_filters(stac):
    """Basic CQL2: a filter that is `true` or `false` (JSON and text, POST and GET)."""
    everything = len(matching(stac.facts))
    for body, expected in (({'filter': True}, everything), ({'filter': False}, 0),
                           ({'filter': 'false', 'filter-lang': 'cql2-text'}, 0)):
        reply = requests.post(f'{stac.root}/search', json={**body, 'limit': 1}, timeout=30)
        assert reply.status_code == 200, reply.text
        assert reply.json()['numberMatched'] == expected
    reply = requests.get(f'{stac.root}/search', params={
        'filter': 'NOT false AND true', 'limit': 1}, timeout=30)
    assert reply.status_code == 200, reply.text
    assert reply.json()['numberMatched'] == everything


def test_a_filter_of_thousands_of_alternatives(stac):
    """A list of ids as an OR chain (as clients build one) is evaluated as written; a
    filter longer than the server takes is a STAC API error."""
    present = sorted(f.id for f in matching(stac.facts, collections={'products'}))[::150]
    ids = present + [f'absent-{i}' for i in range(2000)]
    reply = requests.post(f'{stac.root}/search', timeout=60, json={
        'filter': ' OR '.join(f"id = '{i}'" for i in ids), 'filter-lang': 'cql2-text',
        'limit': 100})
    assert reply.status_code == 200, reply.text[:300]
    assert sorted(ids_of(reply.json()['features'])) == present
    reply = requests.post(f'{stac.root}/search', timeout=60, json={'filter': {
        'op': 'or', 'args': [{'op': '=', 'args': [{'property': 'id'}, f'absent-{i}']}
                             for i in range(9000)]}})
    assert reply.status_code == 400
    assert set(reply.json()) == {'code', 'description'}


def test_private_records_are_absent_for_others(stac):
    private_id = truth(PRIVATE[0]).id
    url = f'{stac.root}/collections/products/items/{private_id}'
    assert requests.get(url, timeout=30).status_code == 404
    assert requests.get(url, auth=as_('alice'), timeout=30).status_code == 200
    for user, seen in ((None, 0), ('alice', 1), ('root', 1)):
        found = client(stac, user).search(ids=[private_id], method='POST').matched()
        assert found == seen, user


def _new_item(stac, identifier: str) -> dict:
    return {'type': 'Feature', 'stac_version': '1.1.0', 'id': identifier,
            'stac_extensions': [],
            'geometry': {'type': 'Point', 'coordinates': [10.5, 45.5]}, 'bbox': [
                10.5, 45.5, 10.5, 45.5],
            'properties': {'datetime': '2024-05-01T10:00:00Z', 'platform': 'sentinel-2c',
                           'instruments': ['msi'], 'eo:cloud_cover': 4.5, 'gsd': 10},
            'links': [{'rel': 'license', 'href': 'https://example.com/licence'}],
            'assets': {'B04': {'href': f'{stac.root}/api', 'type': 'image/tiff',
                               'roles': ['data'], 'title': 'red'}},
            'collection': 'products'}


def test_transactions(stac):
    url = f'{stac.root}/collections/products/items'
    item = _new_item(stac, 'txn-1')
    assert requests.post(url, json=item, timeout=30).status_code == 401
    assert requests.post(url, json=item, auth=as_('alice'), timeout=30).status_code == 403
    created = requests.post(url, json=item, auth=as_('cora'), timeout=30)
    assert created.status_code == 201, created.text
    served = requests.get(created.headers['Location'], timeout=30).json()
    for member in ('properties', 'assets', 'geometry', 'bbox', 'stac_extensions'):
        assert served[member] == item[member], member
    assert {'rel': 'license', 'href': 'https://example.com/licence'} in served['links']
    assert requests.post(url, json=item, auth=as_('cora'), timeout=30).status_code == 409
    # properties that are no catalogue column are searched in the stored item
    for text, found in (("gsd = 10 AND platform = 'sentinel-2c'", 1), ('gsd > 10', 0),
                        ("nosuch = 'x'", 0)):
        search = client(stac).search(filter=text, filter_lang='cql2-text', ids=['txn-1'])
        assert search.matched() == found, text
    item['properties']['eo:cloud_cover'] = 50.0
    replaced = requests.put(f'{url}/txn-1', json=item, auth=as_('cora'), timeout=30)
    assert replaced.status_code == 204
    assert requests.get(f'{url}/txn-1', timeout=30).json()['properties'][
        'eo:cloud_cover'] == 50.0
    patched = requests.patch(f'{url}/txn-1', json={'properties': {'gsd': None, 'x': 1}},
                             auth=as_('root'), timeout=30,
                             headers={'Content-Type': 'application/merge-patch+json'})
    assert patched.status_code == 204, patched.text
    patched = requests.get(f'{url}/txn-1', timeout=30).json()
    assert 'gsd' not in patched['properties'] and patched['properties']['x'] == 1
    assert client(stac).search(filter='eo:cloud_cover = 50', filter_lang='cql2-text',
                               ids=['txn-1']).matched() == 1
    assert requests.delete(f'{url}/txn-1', auth=as_('alice'), timeout=30).status_code == 403
    assert requests.delete(f'{url}/txn-1', auth=as_('cora'), timeout=30).status_code == 204
    assert requests.get(f'{url}/txn-1', timeout=30).status_code == 404
    # deleting what is absent (or invisible) answers the same
    assert requests.delete(f'{url}/txn-1', auth=as_('cora'), timeout=30).status_code == 204
    archive = f'{stac.root}/collections/archive/items'
    assert requests.post(archive, json=_new_item(stac, 'x'), auth=as_('cora'),
                         timeout=30).status_code == 405


def test_ogc_landing_page_links_the_stac_api(stac):
    body = requests.get(stac.url + '/', params={'f': 'json'}, timeout=30).json()
    assert any(link['href'] == stac.root for link in body['links'])


VALIDATED = ('core', 'collections', 'features', 'item-search', 'filter',
             'item-search#sort', 'item-search#fields', 'transaction')


def test_stac_api_validator(stac, tmp_path):
    """stac-api-validator over every class we declare (features#fields/#sort it only
    reports as not yet validated); the STAC schemas come from a local proxy."""
    with SchemaProxy(tmp_path) as proxy:
        command = [sys.executable, '-m', 'stac_api_validator', '--root-url', stac.root,
                   '--collection', 'products', '--geometry',
                   '{"type": "Point", "coordinates": [-169.5, -79.5]}',  # in item 0
                   '--fields-nested-property', 'properties.eo:cloud_cover',
                   '--transaction-collection', 'products',
                   '-H', 'Authorization: Basic ' + _basic('cora')]
        for name in VALIDATED:
            command += ['--conformance', name]
        result = subprocess.run(command, capture_output=True, text=True, timeout=600,
                                env={**server_env(), **proxy.env()})
    report = result.stdout[-8000:] + result.stderr[-3000:]
    assert result.returncode == 0 and 'Errors: none' in result.stdout, report
    print(report)
    assert not proxy.misses, proxy.misses


def _basic(user: str) -> str:
    import base64
    return base64.b64encode(':'.join(as_(user)).encode()).decode()

"""The STAC API (`/stac`) under a client's odd requests, through a running server: item
ids with a slash (a job's results, `<job id>/<item id>`), refusals made before the
blueprint's views (routing, the web safety, the auth layer) in STAC's error format,
non-finite or wrongly typed numbers and unknown members in POST searches."""

from __future__ import annotations

from urllib.parse import quote

import pytest
import requests

from pygeoapi_eoorder.catalogue.repository import RecordRepository
from pygeoapi_eoorder.catalogue.visibility import Ownership
from tests.conftest import Server
from tests.support.auth import as_
from tests.test_stac_api import server_block
from tests.support.catalogue import records_resource
from tests.support.stac_data import record, truth

JOB_ITEM = 'zebrajob/priv-0'       # a job's result, private to alice (not editable)
CURATED_ITEM = 'batch-7/scene-1'   # a curated record with a slash (editable)


def _stored(fact, identifier: str, href: str) -> dict:
    return {**record(fact, href), 'id': identifier}


@pytest.fixture(scope='module')
def stac(tmp_path_factory):
    directory = tmp_path_factory.mktemp('stac-robustness')
    store_url = f"sqlite:///{directory / 'catalogue.db'}"
    server = Server(directory, server_block(directory, store_url), {'products': records_resource('Products'),
                                       'results': records_resource('Results',
                                                                   editable=False)},
                    web=(1, 4))
    href = f'{server.url}/stac/api'
    products = RecordRepository(store_url, 'products')
    products.upsert([record(truth(i), href) for i in range(12)])
    products.upsert([_stored(truth(20), CURATED_ITEM, href)])
    RecordRepository(store_url, 'results').upsert(
        [_stored(truth(0, 'results'), JOB_ITEM, href)],
        ownership=Ownership('alice', 'private'))
    server.root = f'{server.url}/stac'
    server.start()
    yield server
    server.stop()


def is_stac_error(reply: requests.Response, status: int) -> bool:
    """A STAC API error: JSON `{code, description}` (strings) with the status."""
    if reply.status_code != status or \
            not reply.headers.get('Content-Type', '').startswith('application/json'):
        return False
    body = reply.json()
    return set(body) == {'code', 'description'} and \
        all(isinstance(body[k], str) and body[k] for k in body)


def _new_item(stac, identifier: str) -> dict:
    return {'type': 'Feature', 'stac_version': '1.1.0', 'id': identifier,
            'stac_extensions': [],
            'geometry': {'type': 'Point', 'coordinates': [10.5, 45.5]},
            'bbox': [10.5, 45.5, 10.5, 45.5],
            'properties': {'datetime': '2024-05-01T10:00:00Z', 'eo:cloud_cover': 4.5},
            'links': [], 'collection': 'products',
            'assets': {'data': {'href': f'{stac.root}/api', 'roles': ['data']}}}


# -- item ids with a slash -----------------------------------------------------------------
def test_an_item_id_with_a_slash_is_served_at_its_self_link(stac):
    found = requests.post(f'{stac.root}/search', json={'ids': [JOB_ITEM]}, auth=as_('alice'),
                          timeout=30).json()
    assert [f['id'] for f in found['features']] == [JOB_ITEM]
    self_href = next(link['href'] for link in found['features'][0]['links']
                     if link['rel'] == 'self')
    assert self_href == f'{stac.root}/collections/results/items/{quote(JOB_ITEM, safe="")}'
    for url in (self_href, f'{stac.root}/collections/results/items/{JOB_ITEM}'):
        reply = requests.get(url, auth=as_('alice'), timeout=30)
        assert reply.status_code == 200, reply.text
        assert reply.json()['id'] == JOB_ITEM and reply.json()['collection'] == 'results'
        assert next(link['href'] for link in reply.json()['links']
                    if link['rel'] == 'self') == self_href
    # private to alice: for others, an item that is not there (a STAC API error)
    assert is_stac_error(requests.get(self_href, timeout=30), 404)


@pytest.mark.parametrize('path, kind', [
    ('/collections/results', 'Collection'), ('/collections/results/items', 'FeatureCollection'),
    ('/collections/results/queryables', 'object')])
def test_collection_routes_are_not_taken_by_item_ids(stac, path, kind):
    reply = requests.get(stac.root + path, auth=as_('alice'), timeout=30)
    assert reply.status_code == 200 and reply.json()['type'] == kind


def test_transactions_on_an_item_id_with_a_slash(stac):
    url = f'{stac.root}/collections/products/items'
    encoded = f'{url}/{quote(CURATED_ITEM, safe="")}'
    item = _new_item(stac, CURATED_ITEM)
    item['properties']['eo:cloud_cover'] = 50.0
    replaced = requests.put(encoded, json=item, auth=as_('cora'), timeout=30)
    assert replaced.status_code == 204, replaced.text
    assert requests.get(encoded, timeout=30).json()['properties']['eo:cloud_cover'] == 50.0
    patched = requests.patch(f'{url}/{CURATED_ITEM}', json={'properties': {'x': 1}},
                             auth=as_('cora'), timeout=30,
                             headers={'Content-Type': 'application/merge-patch+json'})
    assert patched.status_code == 204, patched.text
    assert requests.get(encoded, timeout=30).json()['properties']['x'] == 1
    assert requests.delete(encoded, auth=as_('cora'), timeout=30).status_code == 204
    assert is_stac_error(requests.get(encoded, timeout=30), 404)


def test_an_item_created_with_a_slash_is_at_its_location(stac):
    url = f'{stac.root}/collections/products/items'
    created = requests.post(url, json=_new_item(stac, 'batch-9/new-1'), auth=as_('cora'),
                            timeout=30)
    assert created.status_code == 201, created.text
    assert created.headers['Location'] == f'{url}/batch-9%2Fnew-1'
    assert requests.get(created.headers['Location'], timeout=30).json()['id'] == 'batch-9/new-1'
    assert requests.delete(created.headers['Location'], auth=as_('cora'),
                           timeout=30).status_code == 204


# -- refusals made before the views --------------------------------------------------------
DEEP = '{"filter": ' + '[' * 150 + ']' * 150 + '}'


@pytest.mark.parametrize('method, path, options, status', [
    ('GET', '/nope', {}, 404),
    ('GET', '/search/', {}, 404),
    ('GET', '/collections/', {}, 404),
    ('PUT', '/search', {'json': {}}, 405),
    ('DELETE', '/collections/products/items', {}, 405),
    ('POST', '/search', {'data': '{}', 'headers': {'Content-Type': 'text/plain'}}, 415),
    ('POST', '/search', {'data': DEEP, 'headers': {'Content-Type': 'application/json'}}, 400),
    ('GET', '', {'auth': ('alice', 'wrong')}, 401),
])
def test_refusals_before_the_views_are_stac_errors(stac, method, path, options, status):
    reply = requests.request(method, stac.root + path, timeout=30, **options)
    assert is_stac_error(reply, status), (reply.status_code, reply.headers, reply.text)
    if status == 405:
        assert 'GET' in reply.headers['Allow']
    if status == 401:
        assert 'Basic' in reply.headers['WWW-Authenticate']


def test_error_codes_are_names_as_the_views_give(stac):
    """A refusal before the views has the `code` the views give for its status."""
    own_404 = requests.get(f'{stac.root}/collections/nope', timeout=30).json()['code']
    own_405 = requests.post(f'{stac.root}/collections/results/items', auth=as_('cora'),
                            json=_new_item(stac, 'x'), timeout=30).json()['code']
    assert requests.get(f'{stac.root}/nope', timeout=30).json()['code'] == own_404
    assert requests.put(f'{stac.root}/search', json={},
                        timeout=30).json()['code'] == own_405


def test_other_paths_keep_their_problem_documents(stac):
    reply = requests.get(f'{stac.url}/stacnope', timeout=30)
    assert reply.status_code == 404
    assert reply.headers['Content-Type'].startswith('application/problem+json')


# -- POST searches ---------------------------------------------------------------------------
@pytest.mark.parametrize('body', [
    '{"limit": Infinity}', '{"limit": -Infinity}', '{"limit": 1e400}', '{"limit": true}',
    '{"limit": 2.5}', '{"limit": "10"}', '{"bbox": [0, 0, 1, %s]}' % ('1' + '0' * 400),
    '{"bbox": [0, 0, 0, 1, 1, Infinity]}', '{"bbox": [0, 0, NaN, 1, 1, 1]}',
    '{"bbox": ["0", "0", "1", "1"]}', '{"bbox": [false, 0, 1, 1]}',
    '{"filter": {"op": "<", "args": [{"property": "eo:cloud_cover"}, Infinity]}}',
    '{"filter": {"op": "<", "args": [{"property": "eo:cloud_cover"}, NaN]}}',
])
def test_non_finite_or_mistyped_numbers_are_refused(stac, body):
    reply = requests.post(f'{stac.root}/search', data=body, timeout=30,
                          headers={'Content-Type': 'application/json'})
    assert is_stac_error(reply, 400), reply.text


def test_a_non_finite_number_in_an_item_is_refused(stac):
    """(Stored, it would be served as `NaN`, which no JSON parser need read.)"""
    body = '{"type": "Feature", "id": "nan-1", "properties": {"datetime": ' \
           '"2024-05-01T10:00:00Z", "x": NaN}, "assets": {}, ' \
           '"geometry": {"type": "Point", "coordinates": [1, 2]}}'
    url = f'{stac.root}/collections/products/items'
    reply = requests.post(url, data=body, auth=as_('cora'), timeout=30,
                          headers={'Content-Type': 'application/json'})
    assert is_stac_error(reply, 400), reply.text
    assert is_stac_error(requests.get(f'{url}/nan-1', timeout=30), 404)


@pytest.mark.parametrize('name, value', [
    ('q', 'zzzznomatch'), ('bogus', 1), ('query', {'eo:cloud_cover': {'lt': 5}}),
    ('colections', ['products'])])
def test_unknown_members_of_a_post_search_are_refused(stac, name, value):
    reply = requests.post(f'{stac.root}/search', json={name: value}, timeout=30)
    assert is_stac_error(reply, 400), reply.text
    assert name in reply.json()['description']
    by_get = requests.get(f'{stac.root}/search', params={name: str(value)}, timeout=30)
    assert is_stac_error(by_get, 400)  # as GET's unknown parameters


def test_every_search_parameter_is_a_post_member(stac):
    body = {'bbox': [-180, -90, 180, 90], 'datetime': '2019-01-01T00:00:00Z/..',
            'ids': [f'products-{i:05d}' for i in range(12)], 'collections': ['products'],
            'limit': 5, 'filter': {'op': '>=', 'args': [{'property': 'eo:cloud_cover'}, 0]},
            'filter-lang': 'cql2-json',
            'filter-crs': 'http://www.opengis.net/def/crs/OGC/1.3/CRS84',
            'sortby': [{'field': 'id', 'direction': 'asc'}],
            'fields': {'include': ['id'], 'exclude': []}, 'f': 'json'}
    first = requests.post(f'{stac.root}/search', json=body, timeout=30)
    assert first.status_code == 200, first.text
    assert [f['id'] for f in first.json()['features']] == [
        f'products-{i:05d}' for i in range(5)]
    following = next(link for link in first.json()['links'] if link['rel'] == 'next')
    second = requests.post(following['href'], json=following['body'], timeout=30)
    assert second.status_code == 200, second.text
    assert [f['id'] for f in second.json()['features']] == [
        f'products-{i:05d}' for i in range(5, 10)]
    geometry = {'type': 'Point', 'coordinates': [0, 0]}
    assert requests.post(f'{stac.root}/search', json={'intersects': geometry},
                         timeout=30).status_code == 200

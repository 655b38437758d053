"""STAC federation: a remote STAC API (stac-fastapi-pgstac on loopback) served as a
records collection through pystac-client; failing and hanging remotes give 502 / 504."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from tests.conftest import Server
from tests.support.egress import allow_loopback
from tests.support.catalogue_stac import MisbehavingServer, StacServer, stac_item

PROVIDER = 'pygeoapi_eoorder.catalogue.stac_provider.STACProvider'
N = 10


def remote_resource(url: str, collections=None, timeout=None) -> dict:
    provider = {'type': 'record', 'name': PROVIDER, 'data': url}
    if collections:
        provider['collections'] = collections
    if timeout:
        provider['timeout'] = timeout
    return {'type': 'collection', 'title': 'remote', 'description': 'a remote STAC API',
            'keywords': [], 'links': [],
            'extents': {'spatial': {'bbox': [-180, -90, 180, 90]}}, 'providers': [provider]}


@pytest.fixture(scope='module')
def stac_api(tmp_path_factory):
    server = StacServer(tmp_path_factory.mktemp('stac'))
    collection = f'fed-{uuid.uuid4().hex[:8]}'
    server.add_collection(collection)
    server.add_items(collection, [stac_item(i, collection) for i in range(N)])
    server.collection = collection
    yield server
    server.remove_collection(collection)
    server.stop()


@pytest.fixture(scope='module')
def federation(stac_api, tmp_path_factory):
    broken, hanging = MisbehavingServer('error'), MisbehavingServer('hang')
    resources = {'remote': remote_resource(stac_api.url, [stac_api.collection]),
                 'broken': remote_resource(broken.url, timeout=2),
                 'hanging': remote_resource(hanging.url, timeout=2)}
    server = Server(tmp_path_factory.mktemp('federation'),
                    allow_loopback({'jobs': {'workers': 1},
                                    'catalogue': {'federation': {'timeout_seconds': 5}}}),
                    resources).start()
    yield server
    server.stop()
    broken.stop()
    hanging.stop()


def items(server, collection='remote', **params):
    return requests.get(f'{server.url}/collections/{collection}/items', params=params,
                        timeout=30)


def ids(reply) -> list[str]:
    assert reply.status_code == 200, reply.text
    return sorted((f['id'] for f in reply.json()['features']),
                  key=lambda i: int(i.split('-')[1]))


def test_all_items_become_records(federation):
    reply = items(federation, limit=50)
    body = reply.json()
    assert ids(reply) == [f'item-{i}' for i in range(N)]
    assert body['numberMatched'] == N
    record = next(f for f in body['features'] if f['id'] == 'item-3')
    assert record['properties']['platform'] == 'sentinel-2a'
    assert record['properties']['cloudCover'] == 30.0
    assert record['properties']['orbitDirection'] == 'ASCENDING'
    enclosure = next(link for link in record['links'] if link['rel'] == 'enclosure')
    assert enclosure['href'].endswith('/item-3.tif')


def test_bbox_datetime_and_ids(federation):
    assert ids(items(federation, bbox='2.5,2.5,3.5,3.5')) == ['item-2', 'item-3']
    assert ids(items(federation, datetime='2021-01-04T00:00:00Z/2021-01-05T23:00:00Z')) == [
        'item-3', 'item-4']
    assert ids(items(federation, datetime='2021-01-09T00:00:00Z/..')) == ['item-8', 'item-9']
    assert ids(items(federation, ids='item-1,item-7')) == ['item-1', 'item-7']


def test_filter_becomes_a_stac_cql2_filter(federation):
    assert ids(items(federation, filter="cloudCover >= 70")) == ['item-7', 'item-8', 'item-9']
    assert ids(items(federation, filter="platform = 'sentinel-1b' AND cloudCover < 30")) == [
        'item-0', 'item-2']
    assert ids(items(federation, platform='sentinel-2a', filter='cloudCover < 40')) == [
        'item-1', 'item-3']
    reply = items(federation, filter="T_INTERSECTS(datetime, INTERVAL('2021-01-02T00:00:00Z',"
                                     " '2021-01-03T23:00:00Z'))")
    assert ids(reply) == ['item-1', 'item-2']


def test_sortby_limit_and_paging(federation):
    reply = items(federation, sortby='-cloudCover', limit=3)
    assert [f['id'] for f in reply.json()['features']] == ['item-9', 'item-8', 'item-7']
    reply = items(federation, sortby='-cloudCover', limit=3, offset=3)
    assert [f['id'] for f in reply.json()['features']] == ['item-6', 'item-5', 'item-4']
    assert reply.json()['numberMatched'] == N


def test_single_record(federation):
    reply = requests.get(f'{federation.url}/collections/remote/items/item-5', timeout=30)
    assert reply.status_code == 200 and reply.json()['id'] == 'item-5'
    assert requests.get(f'{federation.url}/collections/remote/items/nope',
                        timeout=30).status_code == 404


def test_unsupported_and_bad_parameters_are_400(federation):
    reply = items(federation, externalIds='x')
    assert reply.status_code == 400 and reply.json()['detail'].startswith('externalIds')
    reply = items(federation, filter='nosuch = 1')
    assert reply.status_code == 400 and reply.json()['detail'].startswith('filter')


def test_failing_remote_is_502(federation):
    started = time.monotonic()
    reply = items(federation, 'broken')
    assert reply.status_code == 502, reply.text
    assert reply.headers['Content-Type'].startswith('application/problem+json')
    assert time.monotonic() - started < 5


def test_hanging_remote_is_504_within_the_timeout(federation):
    started = time.monotonic()
    reply = items(federation, 'hanging')
    elapsed = time.monotonic() - started
    assert reply.status_code == 504, reply.text
    assert 'did not answer within 2 s' in reply.json()['detail']
    assert elapsed < 2 * 2 + 2  # landing page + search at most, never a hang


def test_q_on_a_remote_without_free_text_is_400_not_ignored(federation):
    # stac-fastapi-pgstac has no free-text item search: q must not be silently dropped
    reply = items(federation, q='optical')
    assert reply.status_code == 400, reply.text
    assert reply.json()['detail'].startswith('q: ') and 'free-text' in reply.json()['detail']


@pytest.fixture(scope='module')
def limited_federation(tmp_path_factory):
    """A real stac-fastapi-pgstac without the Filter and Sort extensions, federated."""
    remote = StacServer(tmp_path_factory.mktemp('stac-limited'), extensions='pagination')
    collection = f'fed-{uuid.uuid4().hex[:8]}'
    remote.add_collection(collection)
    remote.add_items(collection, [stac_item(i, collection) for i in range(N)])
    remote.collection = collection
    server = Server(tmp_path_factory.mktemp('federation-limited'),
                    allow_loopback({'jobs': {'workers': 1}}),
                    {'limited': remote_resource(remote.url, [collection])}).start()
    yield server, remote
    server.stop()
    remote.remove_collection(collection)
    remote.stop()


@pytest.mark.parametrize('params, parameter', [
    ({'filter': 'cloudCover >= 70'}, 'filter'),
    ({'platform': 'sentinel-2a'}, 'platform'),
    ({'filter-lang': 'cql2-json', 'filter': '{"op": ">=", "args": [{"property": '
      '"cloudCover"}, 70]}'}, 'filter'),
    ({'sortby': '-cloudCover'}, 'sortby'),
])
def test_remote_without_filter_or_sort_is_400_never_a_wrong_200(limited_federation, params,
                                                                parameter):
    server, remote = limited_federation
    conforms = requests.get(f'{remote.url}/conformance', timeout=30).json()['conformsTo']
    assert not any(uri.endswith(('#filter', '#sort')) for uri in conforms)  # the premise
    # the remote itself ignores them: an unfiltered, unsorted 200 (what we must not pass on)
    assert len(requests.get(f'{remote.url}/search', params={
        'filter': 'eo:cloud_cover >= 70', 'limit': 50, 'collections': remote.collection},
        timeout=30).json()['features']) == N
    reply = items(server, 'limited', **params)
    assert reply.status_code == 400, reply.text
    assert reply.headers['Content-Type'].startswith('application/problem+json')
    assert reply.json()['detail'].startswith(f'{parameter}: '), reply.json()
    assert 'does not support' in reply.json()['detail']
    # what the remote supports still works
    assert ids(items(server, 'limited', bbox='2.5,2.5,3.5,3.5')) == ['item-2', 'item-3']


def test_multi_valued_property_on_a_remote_is_never_compared_as_a_string(federation,
                                                                         stac_api):
    conforms = requests.get(f'{stac_api.url}/conformance', timeout=30).json()['conformsTo']
    declares_arrays = any('/cql2/1.0/conf/array-functions' in uri for uri in conforms)
    # oracle: items with 'msi' among their instruments (odd indexes, see stac_item)
    expected = [f'item-{i}' for i in range(N) if 'msi' in stac_item(i, 'x')['properties'][
        'instruments']]
    reply = items(federation, instrument='msi', limit=50)
    if declares_arrays:
        assert ids(reply) == expected
    else:  # refused, never `instruments = 'msi'` (0 matches, a wrong 200)
        assert reply.status_code == 400, reply.text
        assert reply.json()['detail'].startswith('instrument: ')


def test_between_reaches_the_remote_in_the_cql2_json_form(federation):
    expected = [f'item-{i}' for i in range(N) if 20 <= i * 10 <= 40]
    assert ids(items(federation, filter='cloudCover BETWEEN 20 AND 40', limit=50)) == expected

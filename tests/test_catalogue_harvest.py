"""Harvesting (`eoorder harvest` and the harvest job) from a real STAC API, a static STAC
catalog, and this server's own OGC API - Records and OpenSearch endpoints."""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
import requests

from pygeoapi_eoorder.catalogue.repository import RecordRepository
from tests.conftest import REPO, Server, embedded_default, server_env
from tests.support.catalogue import eo_record, make_catalog, records_resource
from tests.support.catalogue_stac import StacServer, stac_item
from tests.support.egress import allow_loopback_args


def run_harvest(*args: str) -> subprocess.CompletedProcess:
    """`eoorder harvest ARGS`, allowed to reach the loopback test sources."""
    return subprocess.run([sys.executable, '-m', 'pygeoapi_eoorder.cli', 'harvest', *args,
                           *allow_loopback_args()],
                          capture_output=True, text=True, timeout=120, env=server_env(),
                          cwd=REPO)


@pytest.fixture
def store(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'harvest.db'}"


@pytest.fixture(scope='module')
def stac_api(tmp_path_factory):
    server = StacServer(tmp_path_factory.mktemp('stac-harvest'))
    collection = f'hv-{uuid.uuid4().hex[:8]}'
    server.add_collection(collection)
    server.add_items(collection, [stac_item(i, collection) for i in range(9)])
    server.collection = collection
    yield server
    server.remove_collection(collection)
    server.stop()


@pytest.fixture(scope='module')
def source_server(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp('harvest-source'), {'jobs': {'workers': 1}},
                    {'products': records_resource('Products')}).start()
    for index in range(7):
        reply = requests.post(f'{server.url}/collections/products/items', json=eo_record(index),
                              headers={'Content-Type': 'application/geo+json'}, timeout=10)
        assert reply.status_code == 201
    yield server
    server.stop()


def test_static_catalog_incremental(tmp_path, store):
    root = make_catalog(tmp_path / 'cat', count=5)
    first = run_harvest(str(root), '--into', 'static', '--store', store)
    assert first.returncode == 0, first.stderr
    assert 'stac-static: 5 new, 0 updated, 0 unchanged; complete' in first.stdout
    second = run_harvest(str(root), '--into', 'static', '--store', store)
    assert '0 new, 0 updated, 5 unchanged; complete' in second.stdout
    record = RecordRepository(store, 'static').get('result-2')
    assert record['properties']['platform'] == 'sentinel-2b'


def test_stac_api_with_progress_and_incremental_update(stac_api, store):
    args = [stac_api.url, '--into', 'remote', '--store', store, '--collection',
            stac_api.collection]
    first = run_harvest(*args)
    assert first.returncode == 0, first.stderr
    assert 'stac-api: 9 new, 0 updated, 0 unchanged; complete' in first.stdout
    assert 'harvest remote' in first.stderr and '9/9' in first.stderr  # the progress bar
    changed = stac_item(4, stac_api.collection)
    changed['properties']['eo:cloud_cover'] = 1.5
    reply = requests.put(f'{stac_api.url}/collections/{stac_api.collection}/items/item-4',
                         json=changed, timeout=30)
    assert reply.status_code == 200, reply.text
    second = run_harvest(*args)
    assert 'stac-api: 0 new, 1 updated, 8 unchanged; complete' in second.stdout
    assert RecordRepository(store, 'remote').get('item-4')['properties']['cloudCover'] == 1.5


def test_interrupted_harvest_resumes(stac_api, store):
    args = [stac_api.url, '--into', 'resume', '--store', store, '--collection',
            stac_api.collection, '--quiet']
    first = run_harvest(*args, '--max-records', '4')
    assert 'stac-api: 4 new' in first.stdout and 'stopped (run again to resume)' in first.stdout
    assert RecordRepository(store, 'resume').count() == 4
    second = run_harvest(*args)
    assert 'stac-api: 5 new, 0 updated, 0 unchanged, resumed at 4; complete' in second.stdout
    assert RecordRepository(store, 'resume').count() == 9
    third = run_harvest(*args, '--restart')
    assert '0 new, 0 updated, 9 unchanged; complete' in third.stdout


def test_records_endpoint_as_source(source_server, store):
    result = run_harvest(f'{source_server.url}/collections/products', '--into', 'copy',
                         '--store', store, '--quiet')
    assert result.returncode == 0, result.stderr
    assert 'records: 7 new' in result.stdout
    copied = RecordRepository(store, 'copy').get('scene-3')
    assert copied['properties']['orbitNumber'] == 1003
    assert copied['time']['interval'][0] == '2021-01-04T00:00:00Z'


def test_opensearch_endpoint_as_source(source_server, store):
    osdd = f'{source_server.url}/opensearch/collections/products'
    result = run_harvest(osdd, '--into', 'os-copy', '--store', store, '--quiet')
    assert result.returncode == 0, result.stderr
    assert 'opensearch: 7 new' in result.stdout
    copied = RecordRepository(store, 'os-copy').get('scene-5')
    props = copied['properties']
    assert (props['platform'], props['cloudCover'], props['orbitDirection']) == (
        'SENTINEL-2A', 50.0, 'ASCENDING')
    assert copied['geometry']['coordinates'][0][0] == [5.0, 5.0]
    again = run_harvest(osdd, '--into', 'os-copy', '--store', store, '--quiet')
    assert '0 new, 0 updated, 7 unchanged' in again.stdout


def test_unreachable_source_is_a_one_line_error(store):
    result = run_harvest('http://127.0.0.1:9/nothing', '--into', 'x', '--store', store)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and 'cannot connect' in lines[0], result.stderr
    assert 'Traceback' not in result.stderr


def test_harvest_as_a_job(make_server, tmp_path):
    root = make_catalog(tmp_path / 'cat', count=3)
    resources = {'harvest': {'type': 'process', 'processor': {
        'name': 'pygeoapi_eoorder.catalogue.harvest.job.HarvestProcessor'}},
        'results': records_resource('Results')}
    server = make_server(eoorder={'jobs': {'workers': 1}}, resources=resources)
    job_id = server.submit('harvest', {'source': str(root), 'collection': 'results'})
    job = server.wait_for(job_id, timeout=60)
    assert job['status'] == 'successful', job
    body = requests.get(f'{server.url}/collections/results/items', timeout=10).json()
    assert body['numberMatched'] == 3
    bad = server.wait_for(server.submit('harvest', {'source': str(tmp_path / 'none'),
                                                    'collection': 'results'}), timeout=60)
    assert bad['status'] == 'failed' and 'harvest:' in bad['message']


def test_cli_submits_a_harvest_job(make_server, tmp_path):
    root = make_catalog(tmp_path / 'cat', count=2)
    resources = {'harvest': {'type': 'process', 'processor': {
        'name': 'pygeoapi_eoorder.catalogue.harvest.job.HarvestProcessor'}},
        'results': records_resource('Results')}
    server = make_server(eoorder={'jobs': {'workers': 1}}, resources=resources)
    result = run_harvest(str(root), '--into', 'results', '--config', str(server.config),
                         '--as-job')
    assert result.returncode == 0, result.stderr
    job_id = result.stdout.split()[2]
    job = server.wait_for(job_id, timeout=60)
    assert job['status'] == 'successful', job
    assert requests.get(f'{server.url}/jobs', params={'type': 'harvest'},
                        timeout=10).json()['jobs'][0]['jobID'] == job_id
    body = requests.get(f'{server.url}/collections/results/items', timeout=10).json()
    assert body['numberMatched'] == 2
    missing = run_harvest(str(root), '--into', 'results', '--config', str(server.config),
                          '--as-job', 'nosuch')
    assert missing.returncode != 0 and 'no harvest process' in missing.stderr


def landsat_record(index: int) -> dict:
    """A record with multi-valued properties: two instruments, several keywords."""
    record = eo_record(index, id=f'lc-{index}')
    record['properties'].update({'instrument': ['OLI', 'TIRS'] if index % 2 else ['OLI'],
                                 'platform': 'LANDSAT-8',
                                 'keywords': ['landsat', f'path-{index}', 'thermal']})
    return record


@pytest.fixture(scope='module')
def multi_source(tmp_path_factory):
    server = Server(tmp_path_factory.mktemp('harvest-multi'), {'jobs': {'workers': 1}},
                    {'landsat': records_resource('Landsat')}).start()
    for index in range(4):
        reply = requests.post(f'{server.url}/collections/landsat/items',
                              json=landsat_record(index),
                              headers={'Content-Type': 'application/geo+json'}, timeout=10)
        assert reply.status_code == 201, reply.text
    yield server
    server.stop()


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _tirs(store: str, collection: str) -> set[str]:
    from pygeoapi_eoorder.catalogue.query import property_node
    documents, _ = RecordRepository(store, collection).search(property_node('instrument',
                                                                            'TIRS'))
    return {d['id'] for d in documents}


@pytest.mark.parametrize('kind', ['records', 'opensearch'])
def test_harvest_keeps_every_value_of_multi_valued_properties(multi_source, store, kind):
    source = (f'{multi_source.url}/collections/landsat' if kind == 'records'
              else f'{multi_source.url}/opensearch/collections/landsat')
    result = run_harvest(source, '--into', 'copy', '--store', store, '--quiet')
    assert result.returncode == 0, result.stderr
    assert f'{kind}: 4 new' in result.stdout
    served = {f['id']: f for f in requests.get(f'{multi_source.url}/collections/landsat/items',
                                               timeout=10).json()['features']}
    repository = RecordRepository(store, 'copy')
    for identifier, original in served.items():
        copy = repository.get(identifier)
        for name in ('instrument', 'keywords', 'platform', 'cloudCover', 'orbitNumber',
                     'title'):
            # Atom cannot tell one instrument from a list of one: compared as lists
            assert as_list(copy['properties'][name]) == as_list(
                original['properties'][name]), (kind, name)
        assert copy['time'] == original['time'] and copy['geometry'] == original['geometry']
        if kind == 'records':  # the whole record round-trips (served links aside)
            assert copy['properties'] == original['properties']
    assert _tirs(store, 'copy') == {'lc-1', 'lc-3'}


def test_stac_harvest_keeps_every_instrument_and_keyword(stac_api, store):
    collection = f'hv-multi-{uuid.uuid4().hex[:8]}'
    stac_api.add_collection(collection)
    items = []
    for index in range(4):
        item = stac_item(index, collection)
        item['properties']['instruments'] = ['oli', 'tirs'] if index % 2 else ['oli']
        item['properties']['keywords'] = ['landsat', f'path-{index}']
        items.append(item)
    stac_api.add_items(collection, items)
    try:
        result = run_harvest(stac_api.url, '--into', 'stac-multi', '--store', store,
                             '--collection', collection, '--quiet')
        assert result.returncode == 0, result.stderr
        repository = RecordRepository(store, 'stac-multi')
        for item in items:
            props = repository.get(item['id'])['properties']
            instruments = item['properties']['instruments']
            assert props['instrument'] == (instruments if len(instruments) > 1
                                           else instruments[0])
            assert props['keywords'] == item['properties']['keywords']
        from pygeoapi_eoorder.catalogue.query import property_node
        found, _ = repository.search(property_node('instrument', 'tirs'))
        assert {d['id'] for d in found} == {'item-1', 'item-3'}  # all, not 0
        found, _ = repository.search(property_node('instrument', 'oli'))
        assert len(found) == 4
    finally:
        stac_api.remove_collection(collection)


@pytest.fixture(scope='module')
def demo_source(tmp_path_factory):
    """The embedded default configuration, demo products included."""
    server = embedded_default(tmp_path_factory.mktemp('harvest-demo')).start()
    yield server
    server.stop()


OPENSEARCH_CARRIES = ('title', 'description', 'platform', 'instrument', 'productType',
                      'processingLevel', 'cloudCover', 'orbitNumber', 'orbitDirection',
                      'parentIdentifier', 'keywords')


@pytest.mark.parametrize('kind', ['records', 'opensearch'])
def test_harvest_of_the_demo_data_round_trips(demo_source, store, kind):
    served = requests.get(f'{demo_source.url}/collections/products/items',
                          params={'limit': 100}, timeout=10).json()['features']
    assert served
    source = (f'{demo_source.url}/collections/products' if kind == 'records'
              else f'{demo_source.url}/opensearch/collections/products')
    result = run_harvest(source, '--into', 'demo-copy', '--store', store, '--quiet')
    assert result.returncode == 0, result.stderr
    repository = RecordRepository(store, 'demo-copy')
    assert repository.count() == len(served)
    for original in served:
        copy = repository.get(original['id'])
        assert copy['time'] == original['time'] and copy['geometry'] == original['geometry']
        if kind == 'records':
            assert copy['properties'] == original['properties']
            assert [link for link in copy['links'] if link['rel'] == 'enclosure'] == [
                link for link in original['links'] if link['rel'] == 'enclosure']
        else:  # everything an Atom entry carries
            for name in OPENSEARCH_CARRIES:
                if name in original['properties']:
                    assert as_list(copy['properties'][name]) == as_list(
                        original['properties'][name]), name

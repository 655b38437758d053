"""openEO batch jobs in depth (issue #19): temporal extents with an exclusive end, job
details kept beside the job and changed with PATCH, deletion leaving nothing behind,
estimates from what is known, deployed processes whose ids openEO does not accept.

Oracles: the demo products' dates come from their files' names and their instants from
the Records API; what a deletion leaves is read from the store's tables and the disk."""

from __future__ import annotations

import copy
import json
import re
import time
from datetime import datetime, timedelta

import pytest
import requests
import xarray
from sqlalchemy import create_engine, text

from pygeoapi_eoorder.config import load as load_config

from .conftest import REPO, Server
from .support.auth import as_, write_users

LOCAL = __import__('yaml').safe_load((REPO / 'config' / 'local.yml').read_text())
PACKAGES = REPO / 'tests' / 'data' / 'packages'
LYON = {'west': 4.75, 'south': 45.70, 'east': 4.95, 'north': 45.85}
SCHEMA_FIELDS = {'id', 'title', 'description', 'process', 'status', 'progress', 'created',
                 'updated', 'plan', 'costs', 'budget', 'usage', 'log_level', 'links'}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp('openeo-jobs')
    block = copy.deepcopy(LOCAL['eoorder'])
    block['data_dir'] = str(directory / 'data')
    users = write_users(directory / 'users.yml', {'alice': ['user', 'developer'],
                                                  'bob': ['user'], 'erin': ['user']})
    block['auth'] = {'authenticators': [{'name': 'basic', 'users_file': str(users)}]}
    running = Server(directory, block, LOCAL['resources']).start()
    yield running
    running.stop()


def api(server: Server) -> str:
    return f'{server.url}/openeo/1.2'


def demo_products(server: Server) -> list[tuple[str, str]]:
    """(record id, date) of each demo bands product, from the files' names (the server
    writes them in the background as it starts)."""
    found, deadline = [], time.monotonic() + 60
    while len(list((server.data_dir / 'demo').glob('DEMO_S2_BANDS_*.tif'))) < 3 and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    for path in sorted((server.data_dir / 'demo').glob('DEMO_S2_BANDS_*.tif')):
        day = re.search(r'_(\d{8})_', path.name).group(1)
        found.append((path.stem, f'{day[:4]}-{day[4:6]}-{day[6:]}'))
    assert len(found) == 3
    return found


def acquired(server: Server, record_id: str) -> datetime:
    """The instant a product was acquired, as the Records API gives it."""
    record = requests.get(f'{server.url}/collections/products/items/{record_id}?f=json',
                          timeout=10).json()
    start = (record.get('time') or {}).get('interval', [None])[0] or \
        record['properties'].get('datetime')
    return datetime.fromisoformat(start.replace('Z', '+00:00'))


def load(extent, filtered=None) -> dict:
    graph = {'load': {'process_id': 'load_collection', 'arguments': {
        'id': 'products', 'spatial_extent': LYON, 'temporal_extent': extent,
        'bands': ['red', 'nir']}}}
    last = 'load'
    if filtered is not None:
        graph['filter'] = {'process_id': 'filter_temporal', 'arguments': {
            'data': {'from_node': 'load'}, 'extent': filtered}}
        last = 'filter'
    graph['save'] = {'process_id': 'save_result', 'arguments': {
        'data': {'from_node': last}, 'format': 'netCDF'}, 'result': True}
    return {'process_graph': graph}


def loaded_dates(server: Server, extent, filtered=None) -> list[str]:
    reply = requests.post(f'{api(server)}/result', auth=as_('alice'), timeout=120,
                          json={'process': load(extent, filtered)})
    assert reply.status_code == 200, reply.text
    target = server.directory / 'loaded.nc'
    target.write_bytes(reply.content)
    with xarray.open_dataset(target) as dataset:
        return sorted(str(t)[:10] for t in dataset['t'].values)


def test_temporal_extent_end_is_exclusive(server):
    (_, d0), (id1, d1), (id2, d2) = demo_products(server)
    assert loaded_dates(server, [d0, d1]) == [d0]
    assert loaded_dates(server, [d0, d2]) == [d0, d1]
    assert loaded_dates(server, [d0, None]) == [d0, d1, d2]
    at = acquired(server, id1)  # an end at the very instant excludes that product
    iso = (lambda t: t.isoformat().replace('+00:00', 'Z'))
    assert loaded_dates(server, [d0, iso(at)]) == [d0]
    assert loaded_dates(server, [d0, iso(at + timedelta(seconds=1))]) == [d0, d1]
    # filter_temporal on a loaded cube: the same rule
    assert loaded_dates(server, [d0, None], [d1, iso(acquired(server, id2))]) == [d1]
    empty = requests.post(f'{api(server)}/result', auth=as_('alice'), timeout=60,
                          json={'process': load([d1, d1])})
    assert empty.status_code == 400 and empty.json()['code'] == 'TemporalExtentEmpty'


def ndvi_graph(extent) -> dict:
    return {'process_graph': {
        'load': {'process_id': 'load_collection', 'arguments': {
            'id': 'products', 'spatial_extent': LYON, 'temporal_extent': extent,
            'bands': ['red', 'nir']}},
        'ndvi': {'process_id': 'ndvi', 'arguments': {'data': {'from_node': 'load'}}},
        'save': {'process_id': 'save_result', 'arguments': {
            'data': {'from_node': 'ndvi'}, 'format': 'GTiff'}, 'result': True}}}


def create(server: Server, user: str, body: dict) -> str:
    reply = requests.post(f'{api(server)}/jobs', auth=as_(user), json=body, timeout=30)
    assert reply.status_code == 201, reply.text
    return reply.headers['OpenEO-Identifier']


def run(server: Server, user: str, job_id: str, timeout: float = 120) -> dict:
    started = requests.post(f'{api(server)}/jobs/{job_id}/results', auth=as_(user),
                            timeout=30)
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f'{api(server)}/jobs/{job_id}', auth=as_(user), timeout=10).json()
        if job['status'] in ('finished', 'error', 'canceled'):
            return job
        time.sleep(0.2)
    pytest.fail(f'job {job_id} did not end in {timeout} s')


def store(server: Server):
    _, settings = load_config(server.config)
    return create_engine(settings.store_url), settings


def test_answers_without_a_body_name_no_media_type(server):
    """A created job (201), a started one (202) and a deleted one (204) are answered
    without a body: no Content-Type (not werkzeug's default `text/html`, which would
    also draw the page-only headers), the security headers of every answer kept."""
    auth = as_('alice')
    graph = {'add': {'process_id': 'add', 'arguments': {'x': 1, 'y': 2}, 'result': True}}
    created = requests.post(f'{api(server)}/jobs', json={'process': {'process_graph': graph}},
                            auth=auth, timeout=30)
    started = requests.post(f'{created.headers["Location"]}/results', auth=auth, timeout=30)
    deleted = requests.delete(created.headers['Location'], auth=auth, timeout=30)
    assert [r.status_code for r in (created, started, deleted)] == [201, 202, 204]
    for reply in (created, started, deleted):
        assert reply.content == b''
        assert 'Content-Type' not in reply.headers, reply.headers
        assert 'Content-Security-Policy' not in reply.headers
        assert reply.headers['X-Content-Type-Options'] == 'nosniff'


def test_job_details_are_metadata_changed_with_patch(server):
    (_, d0), (_, d1), _ = demo_products(server)
    body = {'process': ndvi_graph([d0, d1]), 'title': 'NDVI June', 'description': 'first',
            'plan': 'free', 'budget': 5}
    job_id = create(server, 'alice', body)
    url = f'{api(server)}/jobs/{job_id}'
    shown = requests.get(url, auth=as_('alice'), timeout=10).json()
    assert {k: shown[k] for k in ('title', 'description', 'plan', 'budget')} == {
        'title': 'NDVI June', 'description': 'first', 'plan': 'free', 'budget': 5}
    assert set(shown) <= SCHEMA_FIELDS and shown['process'] == body['process']
    listed = requests.get(f'{api(server)}/jobs', auth=as_('alice'), timeout=10).json()
    assert next(j for j in listed['jobs'] if j['id'] == job_id)['title'] == 'NDVI June'
    engine, _ = store(server)
    with engine.connect() as connection:
        inputs, details = connection.execute(text(
            'select inputs, details from eoorder_job where id = :id'), {'id': job_id}).one()
    inputs = json.loads(inputs) if isinstance(inputs, str) else inputs
    assert set(inputs) == {'process', 'user_processes'}  # the details are not inputs
    assert json.loads(details)['title'] == 'NDVI June'
    patch = requests.patch(url, auth=as_('alice'), timeout=10,
                           json={'title': 'NDVI early June', 'description': None})
    assert patch.status_code == 204, patch.text
    shown = requests.get(url, auth=as_('alice'), timeout=10).json()
    assert shown['title'] == 'NDVI early June' and 'description' not in shown
    bad = requests.patch(url, auth=as_('alice'), timeout=10, json={'budget': 'lots'})
    assert bad.status_code == 400 and set(bad.json()) == {'id', 'code', 'message', 'links'}
    assert requests.patch(url, auth=as_('bob'), timeout=10,
                          json={'title': 'mine'}).json()['code'] == 'JobNotFound'
    assert run(server, 'alice', job_id)['status'] == 'finished'
    results = requests.get(f'{url}/results', auth=as_('alice'), timeout=10).json()
    assert results['properties']['title'] == 'NDVI early June'
    assert requests.patch(url, auth=as_('alice'), timeout=10,
                          json={'title': 'done'}).status_code == 204
    locked = requests.patch(url, auth=as_('alice'), timeout=10,
                            json={'process': ndvi_graph([d0, None])})
    assert locked.status_code == 400 and locked.json()['code'] == 'JobLocked'
    assert requests.get(url, auth=as_('alice'), timeout=10).json()['title'] == 'done'


def test_deleting_a_job_leaves_nothing(server):
    (_, d0), (_, d1), _ = demo_products(server)
    job_id = create(server, 'alice', {'process': ndvi_graph([d0, d1]), 'title': 'gone'})
    assert run(server, 'alice', job_id)['status'] == 'finished'
    engine, settings = store(server)
    records = text('select identifier from eoorder_record where identifier like :p')
    with engine.connect() as connection:
        assert connection.execute(records, {'p': f'{job_id}/%'}).all()  # registered
    assert settings.job_dir(job_id).exists()
    others = requests.delete(f'{api(server)}/jobs/{job_id}', auth=as_('bob'), timeout=30)
    assert others.status_code == 404 and others.json()['code'] == 'JobNotFound'
    assert settings.job_dir(job_id).exists()  # another user's delete changed nothing
    reply = requests.delete(f'{api(server)}/jobs/{job_id}', auth=as_('alice'), timeout=30)
    assert reply.status_code == 204
    with engine.connect() as connection:
        assert connection.execute(records, {'p': f'{job_id}%'}).all() == []
        for table, column in (('eoorder_job', 'id'), ('eoorder_job_file', 'job_id')):
            assert connection.execute(text(f'select count(*) from {table} where '
                                           f'{column} = :id'), {'id': job_id}).scalar() == 0
    assert not settings.job_dir(job_id).exists()
    found = requests.get(f'{server.url}/collections/results/items', auth=as_('alice'),
                         timeout=10).json()['features']
    assert not [r for r in found if r['id'].startswith(job_id)]
    assert requests.get(f'{api(server)}/jobs/{job_id}', auth=as_('alice'),
                        timeout=10).json()['code'] == 'JobNotFound'


def test_estimates_come_from_the_data_and_past_jobs(server):
    (_, d0), (_, d1), _ = demo_products(server)
    first = create(server, 'erin', {'process': ndvi_graph([d0, None])})
    url = f'{api(server)}/jobs/{first}/estimate'
    # no history yet: only the size, from the pixels read (openEO requires one of
    # costs, duration, size)
    assert set(requests.get(url, auth=as_('erin'), timeout=10).json()) == {'size'}
    assert run(server, 'erin', first)['status'] == 'finished'
    job = requests.get(f'{server.url}/jobs/{first}?f=json', auth=as_('erin'),
                       timeout=10).json()
    seconds = (datetime.fromisoformat(job['finished'].replace('Z', '+00:00')) -
               datetime.fromisoformat(job['started'].replace('Z', '+00:00'))).total_seconds()
    assets = requests.get(f'{api(server)}/jobs/{first}/results', auth=as_('erin'),
                          timeout=10).json()['assets']
    size = sum(a['file:size'] for a in assets.values())
    assert len(assets) == 3  # one GeoTIFF per date
    # the same graph on one date of three reads a third of the pixels
    second = create(server, 'erin', {'process': ndvi_graph([d0, d1])})
    estimate = requests.get(f'{api(server)}/jobs/{second}/estimate', auth=as_('erin'),
                            timeout=10).json()
    assert estimate['size'] == pytest.approx(size / 3, abs=1)
    duration = re.fullmatch(r'PT(?:(\d+)M)?([\d.]+)S', estimate['duration'])
    estimated = int(duration.group(1) or 0) * 60 + float(duration.group(2))
    assert estimated == pytest.approx(seconds / 3, rel=0.05, abs=0.01)
    assert 'costs' not in estimate  # no billing here
    other = requests.get(f'{api(server)}/jobs/{second}/estimate', auth=as_('bob'),
                         timeout=10)
    assert other.status_code == 404 and other.json()['code'] == 'JobNotFound'


def test_deployed_processes_get_openeo_ids(server, tmp_path):
    package = json.loads((PACKAGES / 'echo.ogcapppkg.json').read_text())
    package['processDescription']['id'] = 'say-hello'
    deployed = requests.post(f'{server.url}/processes', auth=as_('alice'), timeout=30,
                             json=package, headers={'Content-Type':
                                                    'application/ogcapppkg+json'})
    assert deployed.status_code == 201, deployed.text
    listed = requests.get(f'{api(server)}/processes/ogc', timeout=10).json()['processes']
    ids = [p['id'] for p in listed]
    assert all(re.fullmatch(r'\w+', pid, re.ASCII) for pid in ids), ids
    assert {'say_hello', 'hello_world'} <= set(ids) and 'say-hello' not in ids
    described = requests.get(f'{api(server)}/processes/ogc/say_hello', timeout=10).json()
    assert [p['name'] for p in described['parameters']] == ['message']
    job_id = create(server, 'bob', {'process': {'process_graph': {'say': {
        'process_id': 'say_hello', 'namespace': 'ogc', 'arguments': {'message': 'bonjour'},
        'result': True}}}})
    job = run(server, 'bob', job_id)
    assert job['status'] == 'finished', requests.get(
        f'{api(server)}/jobs/{job_id}/logs', auth=as_('bob'), timeout=10).text
    assets = requests.get(f'{api(server)}/jobs/{job_id}/results', auth=as_('bob'),
                          timeout=10).json()['assets']
    written = [name for name in assets if name.startswith('step1_say-hello_result')]
    assert written, assets
    content = requests.get(assets[written[0]]['href'], auth=as_('bob'), timeout=10).text
    assert content.strip() == 'bonjour'
    # the id the process was deployed with is no openEO id
    checked = requests.post(f'{api(server)}/validation', auth=as_('bob'), timeout=10, json={
        'process_graph': {'x': {'process_id': 'say-hello', 'arguments': {}, 'result': True}}})
    assert checked.json()['errors'][0]['code'] == 'ProcessUnsupported'


def test_openeo_ids_of_ogc_ids_are_valid_unique_and_stable():
    from pygeoapi_eoorder.datacube.ogc_steps import openeo_ids
    given = {'hello-world', 'hello_world', 'a.b-c', 'landcover', 'x-y', 'x_y', 'x--y'}
    found = openeo_ids(given)
    assert set(found.values()) == given  # every process reachable, each by one name
    assert all(re.fullmatch(r'\w+', name, re.ASCII) for name in found)
    assert found['hello_world'] == 'hello_world' and found['hello_world_2'] == 'hello-world'
    assert found['landcover'] == 'landcover' and found['a_b_c'] == 'a.b-c'
    assert found['x_y'] == 'x_y' and found['x_y_2'] == 'x-y' and found['x__y'] == 'x--y'
    assert openeo_ids(sorted(given, reverse=True)) == found  # order of listing: no matter

"""Deployed application packages run in real Docker containers as jobs of the engine."""

import hashlib
import json
import subprocess
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.support.egress import allow_loopback

PACKAGES = Path(__file__).parent / 'data' / 'packages'
PKG = 'application/ogcapppkg+json'


def containers_of(job_id):
    out = subprocess.run(['docker', 'ps', '-q', '--filter', f'label=eoorder.job={job_id}'],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    """A loopback HTTP server with input files, and a directory allowed for file://."""
    root = tmp_path_factory.mktemp('files')
    (root / 'scene.tif').write_bytes(bytes(range(256)) * 40)
    item = {'type': 'Feature', 'stac_version': '1.0.0', 'id': 'scene-1',
            'geometry': {'type': 'Point', 'coordinates': [5, 50]}, 'bbox': [5, 50, 5, 50],
            'properties': {'datetime': '2026-01-01T00:00:00Z'}, 'links': [],
            'assets': {'image': {'href': 'scene.tif', 'type': 'image/tiff'}}}
    (root / 'item.json').write_text(json.dumps(item))
    httpd = ThreadingHTTPServer(('127.0.0.1', 0),
                                partial(SimpleHTTPRequestHandler, directory=str(root)))
    httpd.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield root, f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()


@pytest.fixture(scope='module')
def ades(tmp_path_factory, files):
    from .conftest import Server
    root, _ = files
    server = Server(tmp_path_factory.mktemp('ades'), allow_loopback({
        'jobs': {'workers': 3},
        'execution': {'stage_in': {'allowed_file_roots': [str(root)]}}})).start()
    for name in ('echo.ogcapppkg.json', 'landcover.ogcapppkg.json'):
        reply = requests.post(f'{server.url}/processes', data=(PACKAGES / name).read_bytes(),
                              headers={'Content-Type': PKG}, timeout=30)
        assert reply.status_code == 201, reply.text
    for pid, image, config in (('fail', 'eoorder-test/fail:1.0', {}),
                               ('sleep', 'eoorder-test/sleep:1.0', {'timeout': 3}),
                               ('sleep-long', 'eoorder-test/sleep:1.0', {})):
        body = {'processDescription': {
            'id': pid, 'inputs': {'seconds': {'minOccurs': 0, 'schema': {'type': 'integer'}}},
            'outputs': {'result': {'schema': {'type': 'string'}}}},
            'executionUnit': {'type': 'docker', 'image': image, 'config': config}}
        assert requests.post(f'{server.url}/processes', json=body, timeout=30,
                             headers={'Content-Type': PKG}).status_code == 201
    yield server
    server.stop()


def test_echo_literal_input_to_file_output(ades):
    reply = ades.execute('echo', {'message': 'hello EO'}, async_=False)
    assert reply.status_code == 200, reply.text
    assert reply.text.strip() == 'hello EO'
    assert reply.headers['Content-Type'].startswith('text/plain')
    job_id = reply.headers['Location'].rsplit('/', 1)[-1]
    document = requests.get(f'{ades.url}/jobs/{job_id}/results?response=document',
                            timeout=10).json()
    href = document['result']['href']
    assert href == f'{ades.url}/jobs/{job_id}/results/result'
    assert requests.get(href, timeout=10).text.strip() == 'hello EO'
    log = requests.get(f'{ades.url}/jobs/{job_id}/log', timeout=10).text
    assert 'container:' in log


def check_landcover(ades, job_id, source_bytes):
    job = ades.wait_for(job_id, timeout=60)
    assert job['status'] == 'successful', job
    document = requests.get(f'{ades.url}/jobs/{job_id}/results?response=document',
                            timeout=10).json()
    csv = requests.get(document['classification']['href'], timeout=10).text
    assert f'source_bytes,{len(source_bytes)}' in csv
    assert f'source_sha256,{hashlib.sha256(source_bytes).hexdigest()}' in csv
    assert 'epsg,32631' in csv
    catalog_url = document['stac']['href']
    assert catalog_url.endswith('/catalog.json')
    import pystac
    catalog = pystac.Catalog.from_file(catalog_url)
    items = list(catalog.get_items(recursive=True))
    assert len(items) == 1
    asset = next(iter(items[0].assets.values()))
    assert requests.get(asset.get_absolute_href(), timeout=10).text == csv


def test_landcover_stages_http_input(ades, files):
    root, base = files
    job_id = ades.submit('landcover', {'source': {'href': f'{base}/scene.tif'},
                                       'aoi': '5.5,50.1,6.25,51', 'epsg': 32631,
                                       'resolution': 20})
    check_landcover(ades, job_id, (root / 'scene.tif').read_bytes())


def test_landcover_stages_file_input_under_allowed_root(ades, files):
    root, _ = files
    job_id = ades.submit('landcover', {'source': {'href': f'file://{root}/scene.tif'},
                                       'aoi': '5.5,50.1,6.25,51', 'epsg': 32631})
    check_landcover(ades, job_id, (root / 'scene.tif').read_bytes())


def test_file_input_outside_allowed_roots_fails(ades):
    job_id = ades.submit('landcover', {'source': {'href': 'file:///etc/passwd'},
                                       'aoi': '5,50,6,51'})
    job = ades.wait_for(job_id)
    assert job['status'] == 'failed' and 'outside the allowed file roots' in job['message']


def test_stac_item_input_is_staged_as_local_catalog(ades, files):
    root, base = files
    job_id = ades.submit('echo', {'message': {'href': f'{base}/item.json'}})
    assert ades.wait_for(job_id)['status'] == 'successful'
    staged = ades.data_dir / 'jobs' / job_id / 'work' / 'inputs' / 'message' / 'stac'
    catalog = json.loads((staged / 'catalog.json').read_text())
    assert catalog['type'] == 'Catalog'
    item = json.loads((staged / 'scene-1' / 'scene-1.json').read_text())
    assert (staged / 'scene-1' / 'scene.tif').read_bytes() == (root / 'scene.tif').read_bytes()
    assert item['assets']['image']['href'] == './scene.tif' or \
        item['assets']['image']['href'] == 'scene.tif'
    result = requests.get(f'{ades.url}/jobs/{job_id}/results', timeout=10).text.strip()
    assert result == '/work/inputs/message/stac'  # the app got the catalog directory


def test_unreachable_staging_url_fails_clearly(ades):
    job_id = ades.submit('landcover', {'source': {'href': 'http://127.0.0.1:9/none.tif'},
                                       'aoi': '5,50,6,51'})
    job = ades.wait_for(job_id)
    assert job['status'] == 'failed' and 'cannot fetch http://127.0.0.1:9/none.tif' in \
        job['message']


def test_failing_application(ades):
    job = ades.wait_for(ades.submit('fail'))
    assert job['status'] == 'failed'
    assert 'exited with code 3' in job['message'] and 'simulated processing error' in \
        job['message']


def test_missing_output(ades):
    job = ades.wait_for(ades.submit('echo', {'message': 'x'}, outputs={'result': {}}))
    assert job['status'] == 'successful'
    body = {'processDescription': {'id': 'echo-extra', 'inputs': {'message': {
        'schema': {'type': 'string'}}}, 'outputs': {
        'result': {'schema': {'type': 'string'}}, 'other': {'schema': {'type': 'string'}}}},
        'executionUnit': {'type': 'docker', 'image': 'eoorder-test/echo:1.0'}}
    requests.post(f'{ades.url}/processes', json=body, headers={'Content-Type': PKG},
                  timeout=30)
    job = ades.wait_for(ades.submit('echo-extra', {'message': 'x'}))
    assert job['status'] == 'failed' and 'output other is missing' in job['message']


def test_image_missing_at_execution(ades):
    body = {'processDescription': {'id': 'ghost', 'outputs': {'r': {'schema': {
        'type': 'string'}}}}, 'executionUnit': {'type': 'docker', 'image': 'eoorder-test/no:1'}}
    requests.post(f'{ades.url}/processes', json=body, headers={'Content-Type': PKG},
                  timeout=30)
    job = ades.wait_for(ades.submit('ghost'))
    assert job['status'] == 'failed' and 'image eoorder-test/no:1 is not on the Docker' in \
        job['message']


def test_timeout_kills_the_container(ades):
    job_id = ades.submit('sleep', {'seconds': 60})
    job = ades.wait_for(job_id, timeout=30)
    assert job['status'] == 'failed' and 'timed out' in job['message']
    assert containers_of(job_id) == []


def test_progress_and_dismissal_stop_the_container(ades):
    job_id = ades.submit('sleep-long', {'seconds': 120})
    deadline = time.monotonic() + 20
    while not containers_of(job_id):
        assert time.monotonic() < deadline, 'no container started'
        time.sleep(0.1)
    deadline = time.monotonic() + 20
    while ades.job(job_id)['progress'] < 11:
        assert time.monotonic() < deadline, 'no progress reported from the container'
        time.sleep(0.2)
    started = time.monotonic()
    assert requests.delete(f'{ades.url}/jobs/{job_id}', timeout=10).json()[
        'status'] == 'dismissed'
    while containers_of(job_id) and time.monotonic() - started < 2:
        time.sleep(0.05)
    assert containers_of(job_id) == [], 'container still running 2 s after dismissal'
    assert not (ades.data_dir / 'jobs' / job_id).exists()


def test_twenty_concurrent_executions_all_complete(ades):
    ids = [ades.submit('echo', {'message': f'm{i}'}) for i in range(20)]
    for i, job_id in enumerate(ids):
        assert ades.wait_for(job_id, timeout=120)['status'] == 'successful'
        assert requests.get(f'{ades.url}/jobs/{job_id}/results',
                            timeout=10).text.strip() == f'm{i}'


def test_cwl_tool_and_workflow_run_with_cwltool(ades):
    for name, process_id, params in (('echo.cwl', 'echo-cwl', None),
                                     ('echo-workflow.cwl', 'main', {'w': 'main'})):
        text = (PACKAGES / name).read_text().replace('\nid: echo\n', '\nid: echo-cwl\n')
        reply = requests.post(f'{ades.url}/processes', data=text.encode(), params=params,
                              headers={'Content-Type': 'application/cwl+yaml'}, timeout=30)
        assert reply.status_code == 201, reply.text
        assert reply.json()['id'] == process_id
        job_id = ades.submit(process_id, {'message': f'via {name}'})
        job = ades.wait_for(job_id, timeout=120)
        assert job['status'] == 'successful', (job, requests.get(
            f'{ades.url}/jobs/{job_id}/log', timeout=10).text[-2000:])
        document = requests.get(f'{ades.url}/jobs/{job_id}/results?response=document',
                                timeout=10).json()
        assert requests.get(document['result']['href'], timeout=10).text.strip() == \
            f'via {name}'


def test_unreachable_engine_fails_the_job_clearly(make_server, tmp_path):
    server = make_server({'execution': {'docker': {
        'base_url': f'unix://{tmp_path}/no-docker.sock'}}})
    reply = requests.post(f'{server.url}/processes', data=(PACKAGES / 'echo.ogcapppkg.json')
                          .read_bytes(), headers={'Content-Type': PKG}, timeout=30)
    assert reply.status_code == 201
    assert any('could not check images' in w for w in reply.json()['warnings'])
    job = server.wait_for(server.submit('echo', {'message': 'x'}))
    assert job['status'] == 'failed'
    assert f'the Docker engine at unix://{tmp_path}/no-docker.sock is unreachable' in \
        job['message']


def test_stac_output_is_registered_in_the_results_collection(make_server, files):
    from .conftest import TEST_PROCESSES
    root, base = files
    results = {'type': 'collection', 'title': 'Job results', 'description': 'ADES outputs',
               'keywords': ['results'], 'links': [],
               'extents': {'spatial': {'bbox': [-180, -90, 180, 90]}},
               'providers': [{'type': 'record', 'data': 'eoorder',
                              'name': 'pygeoapi_eoorder.catalogue.sql_provider.'
                                      'SQLRecordProvider'}]}
    server = make_server(allow_loopback({'catalogue': {'results_collection': 'results'}}),
                         {**TEST_PROCESSES, 'results': results})
    reply = requests.post(f'{server.url}/processes', timeout=30, headers={'Content-Type': PKG},
                          data=(PACKAGES / 'landcover.ogcapppkg.json').read_bytes())
    assert reply.status_code == 201
    job_id = server.submit('landcover', {'source': {'href': f'{base}/scene.tif'},
                                         'aoi': '5.5,50.1,6.25,51', 'epsg': 32631})
    assert server.wait_for(job_id, timeout=60)['status'] == 'successful'
    items = requests.get(f'{server.url}/collections/results/items', timeout=10).json()
    assert items['numberMatched'] == 1
    record = items['features'][0]
    assert record['geometry']['type'] == 'Polygon'
    hrefs = [link['href'] for link in record.get('links', [])] + [
        asset['href'] for asset in (record.get('assets') or {}).values()]
    csv_links = [h for h in hrefs if h.endswith('classification.csv')]
    assert csv_links and csv_links[0].startswith(f'{server.url}/jobs/{job_id}/results/stac/')
    assert 'source_bytes' in requests.get(csv_links[0], timeout=10).text
    log = requests.get(f'{server.url}/jobs/{job_id}/log', timeout=10).text
    assert 'registered 1 STAC item(s)' in log


def test_subset_of_outputs_runs_and_unrequested_outputs_are_discarded(ades, files):
    """Issue 20 item 7: the application gets a WPS_OUTPUT_* path for every declared output
    (landcover insists on writing both); only the requested one is kept and served."""
    root, base = files
    job_id = ades.submit('landcover', {'source': {'href': f'{base}/scene.tif'},
                                       'aoi': '5.5,50.1,6.25,51', 'epsg': 32631},
                         outputs={'classification': {}})
    job = ades.wait_for(job_id, timeout=60)
    assert job['status'] == 'successful', (job, ades.log()[-2000:])
    document = requests.get(f'{ades.url}/jobs/{job_id}/results?response=document',
                            timeout=10).json()
    assert set(document) == {'classification'}
    csv = requests.get(document['classification']['href'], timeout=10).text
    assert f'source_bytes,{len((root / "scene.tif").read_bytes())}' in csv
    for name in ('stac/catalog.json', 'stac'):
        assert requests.get(f'{ades.url}/jobs/{job_id}/results/{name}',
                            timeout=10).status_code == 404
    job_dir = ades.data_dir / 'jobs' / job_id
    assert not list(job_dir.rglob('catalog.json')), 'the unrequested STAC output was kept'


def test_cwl_subset_of_outputs_discards_unrequested_files(ades, files):
    """The CWL runner answers and keeps only the requested outputs too."""
    _, base = files
    text = (PACKAGES / 'landcover.cwl').read_text().replace('\nid: landcover\n',
                                                             '\nid: landcover-cwl\n')
    reply = requests.post(f'{ades.url}/processes', data=text.encode(), timeout=30,
                          headers={'Content-Type': 'application/cwl+yaml'})
    assert reply.status_code == 201, reply.text
    job_id = ades.submit('landcover-cwl', {'source': {'href': f'{base}/scene.tif'},
                                           'aoi': '5.5,50.1,6.25,51'},
                         outputs={'classification': {}})
    job = ades.wait_for(job_id, timeout=120)
    assert job['status'] == 'successful', (job, requests.get(
        f'{ades.url}/jobs/{job_id}/log', timeout=10).text[-2000:])
    document = requests.get(f'{ades.url}/jobs/{job_id}/results?response=document',
                            timeout=10).json()
    assert set(document) == {'classification'}
    assert 'source_bytes,10240' in requests.get(document['classification']['href'],
                                                timeout=10).text
    assert requests.get(f'{ades.url}/jobs/{job_id}/results/stac/catalog.json',
                        timeout=10).status_code == 404
    assert not list((ades.data_dir / 'jobs' / job_id).rglob('catalog.json'))

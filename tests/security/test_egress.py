"""Finding 11: server-side requests (stage-in, STAC assets, CWL executionUnit.href, harvest,
callbacks) and file:// inputs go through one egress policy. Each test performs the attack
against a running server and the real Docker engine, and asserts the refusal and that
nothing reached the internal service or leaked into the job's status, log or results."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from pathlib import Path

import pytest
import requests

from ..conftest import TEST_PROCESSES
from ..support.auth import as_
from ..support.catalogue import records_resource
from .conftest import InternalService, call, deploy_package, run_async, start_secure_server

PACKAGES = Path(__file__).parent.parent / 'data' / 'packages'
SECRET = b'TOP-SECRET-VALUE'
SECRET_SHA = hashlib.sha256(SECRET).hexdigest()
HOST_SECRET = 'HOST-SECRET-CONTENT\n'
HOST_SECRET_SHA = hashlib.sha256(HOST_SECRET.encode()).hexdigest()
AOI = '5.5,50.1,6.25,51'
REFUSED = 'internal addresses are refused'
RESOURCES = {**TEST_PROCESSES, 'results': records_resource('Results'),
             'harvest': {'type': 'process', 'processor': {
                 'name': 'pygeoapi_eoorder.catalogue.harvest.job.HarvestProcessor'}}}


def _start(directory: Path, **extra):
    server = start_secure_server(directory, RESOURCES, **extra)
    reply = deploy_package(server, 'dev', (PACKAGES / 'landcover.ogcapppkg.json').read_bytes())
    assert reply.status_code == 201, reply.text
    return server


@pytest.fixture(scope='module')
def file_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp('allowed-root')
    (root / 'inside.tif').write_bytes(b'inside')
    return root


@pytest.fixture(scope='module')
def strict(tmp_path_factory, file_root):
    """The default policy: no egress allowance."""
    server = _start(tmp_path_factory.mktemp('egress-strict'),
                    execution={'stage_in': {'allowed_file_roots': [str(file_root)]}})
    yield server
    server.stop()


@pytest.fixture(scope='module')
def allowing(tmp_path_factory):
    """The deployer allows the host name `localhost` (and nothing else internal)."""
    server = _start(tmp_path_factory.mktemp('egress-allowing'),
                    egress={'allowed_hosts': ['localhost']})
    yield server
    server.stop()


@pytest.fixture
def redirector():
    service = InternalService(host='localhost')  # a public-looking host: `/to?<url>` redirects
    yield service
    service.close()


def traces(server, user: str, job: dict) -> str:
    """Everything `user` can read about the job: status, log, results document."""
    job_id = job['jobID']
    texts = [json.dumps(job)]
    for path in (f'/jobs/{job_id}/log', f'/jobs/{job_id}/results'):
        texts.append(call(server, 'GET', path, user).text)
    return '\n'.join(texts)


def landcover(server, href: str, user: str = 'alice') -> dict:
    return run_async(server, user, 'landcover', {'source': {'href': href}, 'aoi': AOI})


def assert_refused(server, job: dict, *, secrets: tuple[str, ...], reason: str) -> None:
    assert job['status'] == 'failed', job
    assert 'input source' in job['message'] and reason in job['message'], job['message']
    seen = traces(server, 'alice', job)
    for secret in secrets:
        assert secret not in seen


@pytest.mark.parametrize('target', ['loopback', 'localhost', 'ipv6-loopback', 'metadata',
                                    'metadata-ipv6', 'private'])
def test_finding_11_stage_in_of_internal_address_is_refused(strict, internal_service, target):
    port = internal_service.port
    href = {'loopback': f'http://127.0.0.1:{port}/secret',
            'localhost': f'http://localhost:{port}/secret',  # a name that resolves inside
            'ipv6-loopback': f'http://[::1]:{port}/secret',
            'metadata': 'http://169.254.169.254/latest/meta-data/',
            'metadata-ipv6': 'http://[fd00:ec2::254]/latest/meta-data/',
            'private': f'http://10.0.0.1:{port}/secret'}[target]
    job = landcover(strict, href)
    assert_refused(strict, job, secrets=(SECRET.decode(), SECRET_SHA), reason=REFUSED)
    assert 'egress.allowed_hosts' in job['message']  # says how the deployer allows it
    assert internal_service.hits == []


def test_finding_11_stage_in_from_internal_host_is_allowed_with_allowed_hosts(
        allowing, internal_service):
    job = landcover(allowing, f'http://localhost:{internal_service.port}/secret')
    assert job['status'] == 'successful', job
    results = call(allowing, 'GET', f"/jobs/{job['jobID']}/results?response=document",
                   'alice').json()
    href = results['classification']['href']
    assert SECRET_SHA in requests.get(href, auth=as_('alice'), timeout=30).text
    assert internal_service.hits == ['/secret']
    # an allowance by name does not open the address itself
    refused = landcover(allowing, f'http://127.0.0.1:{internal_service.port}/secret')
    assert_refused(allowing, refused, secrets=(SECRET.decode(), SECRET_SHA), reason=REFUSED)
    assert internal_service.hits == ['/secret']


def test_finding_11_redirect_from_allowed_host_to_internal_address_is_refused(
        allowing, internal_service, redirector):
    href = (f'http://localhost:{redirector.port}/to?'
            f'http://127.0.0.1:{internal_service.port}/secret')
    job = landcover(allowing, href)
    assert_refused(allowing, job, secrets=(SECRET.decode(), SECRET_SHA), reason=REFUSED)
    assert internal_service.hits == []


def test_finding_11_redirect_to_a_file_url_is_refused(allowing, redirector, canary):
    job = landcover(allowing, f'http://localhost:{redirector.port}/to?file://{canary}/secret.txt')
    assert_refused(allowing, job, secrets=(HOST_SECRET.strip(), HOST_SECRET_SHA),
                   reason='only http and https')


def test_finding_11_stac_asset_on_internal_address_is_refused(allowing, internal_service,
                                                             redirector):
    item = {'type': 'Feature', 'stac_version': '1.0.0', 'id': 'scene', 'links': [],
            'geometry': None, 'properties': {'datetime': '2021-01-01T00:00:00Z'},
            'assets': {'data': {'href': f'http://127.0.0.1:{internal_service.port}/secret'}}}
    redirector.files['/item.json'] = json.dumps(item).encode()
    job = landcover(allowing, f'http://localhost:{redirector.port}/item.json')
    assert_refused(allowing, job, secrets=(SECRET.decode(), SECRET_SHA), reason=REFUSED)
    assert internal_service.hits == []


@pytest.mark.parametrize('host', ['127.0.0.1', 'localhost'])
def test_finding_11_execution_unit_href_to_internal_address_is_refused_at_deploy(
        strict, internal_service, host):
    pid = f'ssrf-{uuid.uuid4().hex[:6]}'
    body = {'processDescription': {'id': pid, 'version': '1.0.0', 'inputs': {},
                                   'outputs': {'result': {'schema': {'type': 'string'}}}},
            'executionUnit': {'href': f'http://{host}:{internal_service.port}/secret',
                              'type': 'application/cwl+yaml'}}
    reply = deploy_package(strict, 'dev', body)
    assert reply.status_code == 400, reply.text
    assert reply.headers['Content-Type'].startswith('application/problem+json')
    assert REFUSED in reply.json()['detail']
    assert SECRET.decode() not in reply.text
    assert internal_service.hits == []
    assert call(strict, 'GET', f'/processes/{pid}', 'dev').status_code == 404


def test_finding_11_harvest_from_internal_url_is_refused(strict, internal_service):
    internal_service.files['/catalog.json'] = json.dumps({
        'type': 'Catalog', 'stac_version': '1.0.0', 'id': 'internal', 'description': 'x',
        'links': []}).encode()
    for path in ('/catalog.json', '/secret'):
        job = run_async(strict, 'admin', 'harvest', {
            'source': f'http://127.0.0.1:{internal_service.port}{path}',
            'collection': 'results'})
        assert job['status'] == 'failed', job
        assert 'harvest:' in job['message'] and REFUSED in job['message'], job['message']
        assert SECRET.decode() not in traces(strict, 'admin', job)
    assert internal_service.hits == []


def test_finding_11_callback_to_internal_address_is_still_refused(strict, internal_service):
    job = run_async(strict, 'alice', 'countdown-external', {'steps': 1}, subscriber={
        'successUri': f'http://127.0.0.1:{internal_service.port}/success',
        'failedUri': f'http://localhost:{internal_service.port}/failed'})
    assert job['status'] == 'successful', job
    # the success callback is the job's last act: wait until its refusal is logged
    refused = f'callback to http://127.0.0.1:{internal_service.port}/success refused'
    deadline = time.monotonic() + 15
    log = ''
    while refused not in log and time.monotonic() < deadline:
        log = call(strict, 'GET', f"/jobs/{job['jobID']}/log", 'alice').text
        time.sleep(0.05)
    assert refused in log, log
    assert internal_service.hits == []


@pytest.mark.parametrize('case', ['outside', 'link-to-file', 'link-to-dir', 'link-in-dir'])
def test_finding_11_file_input_outside_roots_or_through_a_link_is_refused(
        strict, file_root, canary, case):
    name = f'{case}-{uuid.uuid4().hex[:6]}'
    if case == 'outside':
        href = f'file://{canary}/secret.txt'
    elif case == 'link-to-file':
        (file_root / name).symlink_to(canary / 'secret.txt')
        href = f'file://{file_root}/{name}'
    elif case == 'link-to-dir':
        (file_root / name).symlink_to(canary)
        href = f'file://{file_root}/{name}/secret.txt'
    else:
        (file_root / name).mkdir()
        (file_root / name / 'scene.tif').symlink_to(canary / 'secret.txt')
        href = f'file://{file_root}/{name}'
    job = landcover(strict, href)
    assert_refused(strict, job, secrets=(HOST_SECRET.strip(), HOST_SECRET_SHA),
                   reason='outside the allowed file roots')
    assert sorted(p.name for p in canary.iterdir()) == ['secret.txt']
    assert (canary / 'secret.txt').read_text() == HOST_SECRET


def _remote(url: str) -> dict:
    provider = {'type': 'record', 'data': url, 'timeout': 5,
                'name': 'pygeoapi_eoorder.catalogue.stac_provider.STACProvider'}
    return {'type': 'collection', 'title': 'remote', 'description': 'a remote STAC API',
            'keywords': [], 'links': [], 'extents': {'spatial': {'bbox': [-180, -90, 180, 90]}},
            'providers': [provider]}


def test_finding_11_federation_to_internal_address_is_refused(tmp_path, internal_service,
                                                             redirector):
    secret_search = f'http://127.0.0.1:{internal_service.port}/secret'
    redirector.files['/'] = json.dumps({  # an allowed remote whose search link points inside
        'type': 'Catalog', 'stac_version': '1.0.0', 'id': 'remote', 'description': 'x',
        'conformsTo': ['https://api.stacspec.org/v1.0.0/core',
                       'https://api.stacspec.org/v1.0.0/item-search'],
        'links': [{'rel': 'search', 'href': secret_search, 'type': 'application/geo+json'}]
    }).encode()
    server = start_secure_server(tmp_path / 'federation', {
        'internal': _remote(f'http://127.0.0.1:{internal_service.port}/'),
        'relay': _remote(f'http://localhost:{redirector.port}/')},
        egress={'allowed_hosts': ['localhost']})
    try:
        for collection in ('internal', 'relay'):
            reply = call(server, 'GET', f'/collections/{collection}/items', 'alice')
            assert reply.status_code == 502, reply.text
            assert reply.headers['Content-Type'].startswith('application/problem+json')
            assert REFUSED in reply.json()['detail']
            assert SECRET.decode() not in reply.text
    finally:
        server.stop()
    assert internal_service.hits == []

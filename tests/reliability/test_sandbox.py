"""The container sandbox of deployed applications, checked from inside real containers
(the `eoorder-test/probe` image, docker/test-apps/probe): no network unless
`execution.docker.network` allows it, killed at the memory limit and at the time limit
(the job fails and says why), nothing writable but the work directory, not root."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import requests

from .test_xml_attacks import Listener

REPO = Path(__file__).resolve().parents[2]
PKG = 'application/ogcapppkg+json'
PROBE = 'eoorder-test/probe:1.0'


@pytest.fixture(scope='module', autouse=True)
def probe_image():
    """The probe image, built from its recipe if the engine does not have it yet."""
    present = subprocess.run(['docker', 'image', 'inspect', PROBE], capture_output=True)
    if present.returncode != 0:
        subprocess.run([str(REPO / 'docker' / 'build-test-images'), 'probe'], check=True,
                       timeout=300)


def deploy(server) -> None:
    optional = {'minOccurs': 0}
    packages = [
        ('probe', PROBE, {'memory': '32m', 'timeout': 60},
         {'action': {'schema': {'type': 'string'}},
          'port': {**optional, 'schema': {'type': 'integer'}},
          'megabytes': {**optional, 'schema': {'type': 'integer'}}}),
        ('slow', 'eoorder-test/sleep:1.0', {'timeout': 2},
         {'seconds': {**optional, 'schema': {'type': 'integer'}}}),
    ]
    for pid, image, config, inputs in packages:
        body = {'processDescription': {
            'id': pid, 'inputs': inputs,
            'outputs': {'result': {'schema': {'type': 'string',
                                              'contentMediaType': 'text/plain'}}}},
            'executionUnit': {'type': 'docker', 'image': image, 'config': config}}
        reply = requests.post(f'{server.url}/processes', json=body, timeout=30,
                              headers={'Content-Type': PKG})
        assert reply.status_code == 201, reply.text


def report(server, **inputs) -> dict[str, str]:
    """Run the probe synchronously; its report as a dict."""
    reply = server.execute('probe', inputs, async_=False)
    assert reply.status_code == 200, reply.text
    return dict(line.split('=', 1) for line in reply.text.splitlines() if '=' in line)


@pytest.fixture(scope='module')
def sandboxed(tmp_path_factory):
    from ..conftest import Server
    server = Server(tmp_path_factory.mktemp('sandbox'), {'jobs': {'workers': 2}}).start()
    try:
        deploy(server)
        yield server
    finally:
        server.stop()


@pytest.fixture
def listener():
    listener = Listener()
    yield listener
    listener.close()


def test_no_network_by_default(sandboxed, listener):
    probe = report(sandboxed, action='network', port=listener.port)
    assert probe['interfaces'].split() == ['lo'], probe  # no interface but its own loopback
    assert probe['connect'] == 'failed', probe
    assert listener.connections == 0


def test_network_when_the_configuration_allows_it(make_server, listener):
    # `host` shares the host's network, so the probe can reach a listener on 127.0.0.1:
    # the one network the tests may use
    server = make_server({'execution': {'docker': {'network': 'host'}}})
    deploy(server)
    probe = report(server, action='network', port=listener.port)
    assert probe['connect'] == 'ok', probe
    assert listener.connections >= 1


def test_runs_as_non_root_without_capabilities(sandboxed):
    probe = report(sandboxed, action='identity')
    assert probe['uid'] == '1000' and probe['gid'] == '1000', probe
    assert int(probe['cap_eff'], 16) == 0, probe
    assert probe['no_new_privs'] == '1', probe


def test_cannot_write_outside_its_work_directory(sandboxed):
    reply = sandboxed.execute('probe', {'action': 'write'}, async_=False)
    assert reply.status_code == 200, reply.text
    probe = dict(line.split('=', 1) for line in reply.text.splitlines())
    outside = {path: result for path, result in probe.items() if path != '/work'}
    assert outside and set(outside.values()) == {'denied'}, probe
    assert probe['/work'] == 'wrote', probe
    job_id = reply.headers['Location'].rsplit('/', 1)[-1]
    # what it wrote is in the job's work directory on the host, and only there
    assert (sandboxed.data_dir / 'jobs' / job_id / 'work' / 'probe-inside').is_file()


def test_killed_at_its_memory_limit(sandboxed):
    job_id = sandboxed.submit('probe', {'action': 'memory', 'megabytes': 256})
    job = sandboxed.wait_for(job_id, timeout=60)
    assert job['status'] == 'failed', job
    assert 'memory limit' in job['message'] and '32m' in job['message'], job['message']
    # within the limit it runs
    assert report(sandboxed, action='memory', megabytes=4)['memory'] == 'survived'


def test_killed_at_its_timeout(sandboxed):
    started = time.monotonic()
    job_id = sandboxed.submit('slow', {'seconds': 60})
    job = sandboxed.wait_for(job_id, timeout=60)
    assert job['status'] == 'failed', job
    assert 'timed out' in job['message'] and '2 s' in job['message'], job['message']
    assert time.monotonic() - started < 30
    left = subprocess.run(['docker', 'ps', '-aq', '--filter', f'label=eoorder.job={job_id}'],
                          capture_output=True, text=True, check=True).stdout.split()
    assert not left, 'the container of the timed-out job is still there'

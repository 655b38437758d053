"""Findings 9 (the container contract), 15 (operator limits are ceilings, pids limit, disk
quota, oversized inline inputs) and, from 21, a hostile image name at deploy and a container
whose start fails: each attack runs against a real server and the real Docker engine.

The applications are `eoorder-test/stress` (docker/test-apps/stress: reports the cgroup
limits it sees, starts many processes, fills its work directory) and `eoorder-test/sleep`."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import call, deploy_package, run_async, run_sync, start_secure_server

REPO = Path(__file__).resolve().parents[2]
STRESS = 'eoorder-test/stress:1.0'
NOSTART = 'eoorder-test/nostart:1.0'  # built here: its entrypoint does not exist
MIB = 1024 ** 2
CEILINGS = {'memory': '256m', 'cpus': 1, 'timeout': 6, 'pids_limit': 64,
            'disk_quota': '8m', 'disk_check_seconds': 0.5}
OPTIONAL = {'minOccurs': 0}


def _image_present(image: str) -> bool:
    return subprocess.run(['docker', 'image', 'inspect', image],
                          capture_output=True).returncode == 0


@pytest.fixture(scope='module', autouse=True)
def images(tmp_path_factory):
    """The stress image (from its recipe) and an image whose container cannot start."""
    if not _image_present(STRESS):
        subprocess.run([str(REPO / 'docker' / 'build-test-images'), 'stress'], check=True,
                       timeout=300)
    context = tmp_path_factory.mktemp('nostart')
    (context / 'Dockerfile').write_text('FROM eoorder-test/echo:1.0\n'
                                        'ENTRYPOINT ["/app/missing"]\n')
    subprocess.run(['docker', 'build', '--network', 'none', '-q', '-t', NOSTART, str(context)],
                   check=True, capture_output=True, timeout=300,
                   env={'DOCKER_BUILDKIT': '0', 'PATH': '/usr/bin:/bin:/usr/sbin:/sbin'})
    yield
    subprocess.run(['docker', 'image', 'rm', '-f', NOSTART], capture_output=True)


def package(pid: str, image: str, config: dict | None = None,
            inputs: dict | None = None) -> dict:
    return {'processDescription': {
        'id': pid, 'inputs': inputs or {},
        'outputs': {'result': {'schema': {'type': 'string', 'contentMediaType': 'text/plain'}}}},
        'executionUnit': {'type': 'docker', 'image': image, 'config': config or {}}}


STRESS_INPUTS = {name: {**OPTIONAL, 'schema': {'type': kind}} for name, kind in (
    ('action', 'string'), ('count', 'integer'), ('seconds', 'integer'),
    ('megabytes', 'integer'), ('pause', 'number'))}
PACKAGES = [
    # finding 15: a package asking for far more than the operator's ceilings
    package('greedy', STRESS, {'memory': '64g', 'cpu': 8, 'timeout': 31536000},
            STRESS_INPUTS),
    package('greedy-draft', STRESS, {'memoryMax': 999, 'cpuMax': 16, 'jobTimeout': 31536000},
            STRESS_INPUTS),
    package('modest', STRESS, {'memory': '64m'}, STRESS_INPUTS),
    package('forever', 'eoorder-test/sleep:1.0', {'jobTimeout': 31536000},
            {'seconds': {**OPTIONAL, 'schema': {'type': 'integer'}}}),
    package('nostart', NOSTART, {}, {'message': {**OPTIONAL, 'schema': {'type': 'string'}}}),
    package('echo', 'eoorder-test/echo:1.0', {}, {'message': {'schema': {'type': 'string'}}}),
]


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    server = start_secure_server(tmp_path_factory.mktemp('limits'),
                                 execution={'docker': CEILINGS})
    try:
        for body in PACKAGES:
            reply = deploy_package(server, 'dev', body)
            assert reply.status_code == 201, reply.text
        yield server
    finally:
        server.stop()


def report(server, process_id: str, **inputs) -> dict[str, str]:
    reply = run_sync(server, 'alice', process_id, inputs)
    assert reply.status_code == 200, reply.text
    return dict(line.strip().split('=', 1) for line in reply.text.splitlines() if '=' in line)


def containers_of(job_id: str) -> list[str]:
    """Every container of the job on the engine, running or not (`docker ps -a`)."""
    listed = subprocess.run(['docker', 'ps', '-a', '--filter', f'label=eoorder.job={job_id}',
                             '--format', '{{.ID}} {{.Status}}'],
                            capture_output=True, text=True, check=True)
    return listed.stdout.split('\n')[:-1]


def jobs_of(server, user: str) -> list[dict]:
    reply = call(server, 'GET', '/jobs', user, params={'limit': 1000})
    assert reply.status_code == 200, reply.text
    return reply.json()['jobs']


def directory_bytes(path: Path) -> int:
    return sum(p.lstat().st_size for p in path.rglob('*'))


@pytest.mark.parametrize('process_id', ['greedy', 'greedy-draft'])
def test_finding_15_package_limits_above_the_operators_are_capped(server, process_id):
    """A package's memory (64g, 999 GB) and CPUs (8, 16) above the operator's ceilings
    (256m, 1): the container gets the ceilings, as it sees them in its cgroup."""
    seen = report(server, process_id, action='limits')
    assert seen['memory'] == str(256 * MIB), seen
    cpu = seen['cpu'].split()
    assert cpu[0] == '100000' and cpu[-1] == '100000', seen  # one CPU: quota = period


def test_finding_15_package_may_ask_for_less_than_the_ceiling(server):
    seen = report(server, 'modest', action='limits')
    assert seen['memory'] == str(64 * MIB), seen


def test_finding_15_package_timeout_of_a_year_gets_the_operators(server):
    """jobTimeout of one year against the operator's 6 s: the job is killed at 6 s."""
    started = time.monotonic()
    job = run_async(server, 'alice', 'forever', {'seconds': 60})
    took = time.monotonic() - started
    assert job['status'] == 'failed', job
    assert 'timed out' in job['message'] and '6 s' in job['message'], job
    assert took < 40, took
    assert containers_of(job['jobID']) == []


def test_finding_15_pids_limit_stops_a_fork_bomb(server):
    """The pentest ran 1,500 processes in one container; the pids limit (64) stops the
    fork bomb: the shell cannot fork past it, the job fails saying so, nothing is left."""
    job = run_async(server, 'alice', 'greedy', {'action': 'forkbomb', 'count': 1500,
                                                'seconds': 20})
    assert job['status'] == 'failed', job
    assert "can't fork" in job['message'], job  # without a limit all 1,500 start
    assert containers_of(job['jobID']) == []
    seen = report(server, 'greedy', action='limits')
    assert seen['pids'] == '64', seen


def test_finding_15_disk_quota_stops_a_job_that_fills_its_directory(server):
    """The job writes 400 MiB (1 MiB each 50 ms) against a quota of 8m: it is stopped long
    before it ends, fails with a clear message, and what it wrote is removed."""
    started = time.monotonic()
    job = run_async(server, 'alice', 'greedy', {'action': 'fill', 'megabytes': 400,
                                                'pause': 0.05})
    took = time.monotonic() - started
    assert job['status'] == 'failed', job
    assert 'disk quota of 8m exceeded' in job['message'], job
    assert took < 15, took  # writing it all would take 20 s and more
    job_dir = server.data_dir / 'jobs' / job['jobID']
    assert directory_bytes(job_dir) < 8 * MIB
    assert containers_of(job['jobID']) == []


def test_finding_15_disk_quota_lets_a_job_within_it_succeed(server):
    job = run_async(server, 'alice', 'greedy', {'action': 'fill', 'megabytes': 2})
    assert job['status'] == 'successful', job


@pytest.mark.parametrize('chunked', [False, True], ids=['content-length', 'chunked'])
def test_finding_15_oversized_inline_input_is_refused_and_not_stored(server, chunked):
    """A 60 MB inline input: 413 problem+json before anything is stored (no job, and the
    value is nowhere in the server's data directory)."""
    marker = b'OVERSIZED-INLINE-MARKER-%d' % chunked
    body = json.dumps({'inputs': {'message': (marker + b'x' * 1000).decode() * 60_000}})
    data = body.encode()
    before = len(jobs_of(server, 'alice'))
    payload = (data[i:i + MIB] for i in range(0, len(data), MIB)) if chunked else data
    reply = call(server, 'POST', '/processes/echo/execution', 'alice', data=payload,
                 headers={'Content-Type': 'application/json'})
    assert reply.status_code == 413, reply.text[:500]
    assert reply.headers['Content-Type'].startswith('application/problem+json')
    assert 'by reference' in reply.json()['detail']
    assert len(jobs_of(server, 'alice')) == before
    for path in server.data_dir.rglob('*'):
        if path.is_file() and path.stat().st_size > len(marker):
            assert marker not in path.read_bytes(), path
    small = run_sync(server, 'alice', 'echo', {'message': 'x' * 100_000})
    assert small.status_code == 200 and small.text == 'x' * 100_000


@pytest.mark.parametrize('image', [
    'x:1 --privileged', '--privileged', 'eoorder-test/echo:1.0 --network=host', 'X:1',
    'a:b:c', 'echo;id', 'echo:' + 'a' * 200, 'x\n--privileged', 'x' * 300])
def test_finding_21_image_name_that_is_no_reference_is_refused_at_deploy(server, image):
    pid = 'badimage'
    reply = deploy_package(server, 'dev', package(pid, image))
    assert reply.status_code == 400, reply.text
    assert reply.headers['Content-Type'].startswith('application/problem+json')
    assert 'not a Docker image reference' in reply.json()['detail'], reply.text
    assert call(server, 'GET', f'/processes/{pid}', 'dev').status_code == 404


def test_finding_21_container_whose_start_fails_is_removed(server):
    """The image's entrypoint does not exist: the container is created but cannot start.
    The job fails saying so and no `Created` container is left behind."""
    job = run_async(server, 'alice', 'nostart', {})
    assert job['status'] == 'failed', job
    assert 'could not start' in job['message'], job
    assert containers_of(job['jobID']) == []


def test_finding_9_cli_flags_and_sdk_options_are_one_contract():
    """The contract as `docker run` flags (cwltool's containers) and as SDK options (Docker
    units) gives the engine the same container: created both ways, inspected, compared."""
    from pygeoapi_eoorder.execution import containers
    from pygeoapi_eoorder.processes.packages import ExecutionUnit
    limits = containers.effective_limits(
        ExecutionUnit(kind='docker', image=STRESS, memory='64g', cpus=8, timeout=1e9),
        {**CEILINGS, 'network': 'none', 'user': '1000:1000'})
    engine = containers.client()
    names = ['eoorder-contract-cli', 'eoorder-contract-sdk']
    subprocess.run(['docker', 'rm', '-f', *names], capture_output=True)
    try:
        subprocess.run(['docker', 'create', '--name', names[0],
                        *containers.cli_flags(limits, 'contract'), STRESS],
                       check=True, capture_output=True)
        engine.containers.create(STRESS, name=names[1],
                                 **containers.sdk_options(limits, 'contract'))
        keys = ('User', 'CapDrop', 'SecurityOpt', 'ReadonlyRootfs', 'NetworkMode',
                'PidsLimit', 'Memory', 'MemorySwap', 'NanoCpus', 'Tmpfs')
        seen = []
        for name in names:
            attrs = engine.containers.get(name).attrs
            host = attrs['HostConfig']
            seen.append({**{k: host.get(k) for k in keys if k != 'User'},
                         'User': attrs['Config']['User'], 'Labels': attrs['Config']['Labels']})
        assert seen[0] == seen[1]
        assert seen[0]['User'] == '1000:1000' and seen[0]['CapDrop'] == ['ALL']
        assert seen[0]['ReadonlyRootfs'] and seen[0]['NetworkMode'] == 'none'
        assert seen[0]['PidsLimit'] == 64 and seen[0]['Memory'] == 256 * MIB
        assert seen[0]['MemorySwap'] == 256 * MIB and seen[0]['NanoCpus'] == 10 ** 9
        assert seen[0]['Labels'] == {'eoorder.job': 'contract'}
    finally:
        subprocess.run(['docker', 'rm', '-f', *names], capture_output=True)

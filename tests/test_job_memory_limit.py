"""`jobs.memory_limit`: each job worker's data is limited (RLIMIT_DATA), so a job asking
for more fails with MemoryError and the worker, the server and the machine go on (an
openEO graph once grew a worker to 19 GB)."""

import copy
import subprocess

import requests
import yaml

from pygeoapi_eoorder.jobs.memory_limit import limit_bytes

from .conftest import REPO, Server

LOCAL = yaml.safe_load((REPO / 'config' / 'local.yml').read_text())
GIB = 1024 ** 3


def worker_limits(server: Server) -> set[int]:
    """The data limits of the server's processes started from its configuration."""
    found = set()
    pids = subprocess.run(['pgrep', '-f', str(server.config)], capture_output=True,
                          text=True).stdout.split()
    for pid in pids:
        try:
            for line in open(f'/proc/{pid}/limits'):
                if line.startswith('Max data size'):
                    found.add(int(line.split()[3]) if line.split()[3].isdigit() else -1)
        except OSError:
            continue
    return found


def result(server: Server, graph: dict) -> requests.Response:
    return requests.post(f'{server.url}/openeo/1.2/result', timeout=120,
                         json={'process': {'process_graph': graph}})


def test_a_job_over_the_memory_limit_fails_and_the_worker_goes_on(tmp_path):
    block = copy.deepcopy(LOCAL['eoorder'])
    block['data_dir'] = str(tmp_path / 'data')
    block['jobs'] = {**(block.get('jobs') or {}), 'memory_limit': '1g', 'workers': 1}
    server = Server(tmp_path, block, LOCAL['resources']).start()
    try:
        assert GIB in worker_limits(server)  # (the job worker; the web is not limited)
        huge = result(server, {'a': {'process_id': 'array_create', 'arguments': {
            'data': [1.5], 'repeat': 400_000_000}, 'result': True}})
        assert huge.status_code == 500, huge.text
        assert 'memory' in huge.json()['message']
        small = result(server, {'a': {'process_id': 'add', 'arguments': {'x': 1, 'y': 1},
                                      'result': True}})
        assert small.status_code == 200 and small.json() == 2
    finally:
        server.stop()


def test_the_automatic_limit_shares_the_machine():
    import os
    total = os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES')
    assert limit_bytes('auto', 4) == max(4 * GIB, int(total * 0.8 / 4))
    assert limit_bytes('auto', 1000) == 4 * GIB  # (what a worker reserves, at least)
    assert limit_bytes('none', 4) is None and limit_bytes('512m', 4) == 512 * 1024 ** 2

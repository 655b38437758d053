"""Processes added to the store at run time: every worker sees them, OpenAPI lists them."""

import time

import requests

from pygeoapi_eoorder.processes.registry import ProcessRegistry
from pygeoapi_eoorder.store import Store

DEFINITION = {'type': 'process', 'processor': {'name': 'tests.support.processes.Countdown'}}


def eventually(check, timeout=5):
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_added_process_is_listed_described_and_runs(make_server):
    server = make_server()
    registry = ProcessRegistry(Store(f"sqlite:///{server.data_dir / 'eoorder.db'}"))
    assert '/processes/late/execution' not in requests.get(
        server.url + '/openapi', timeout=10).json()['paths']

    registry.put('late', DEFINITION)

    def listed():
        return 'late' in {p['id'] for p in requests.get(
            server.url + '/processes', timeout=10).json()['processes']}
    eventually(listed)
    # every web worker sees it (two gunicorn workers serve these requests)
    assert all(requests.get(server.url + '/processes/late', timeout=10).status_code == 200
               for _ in range(10))
    paths = requests.get(server.url + '/openapi', timeout=10).json()['paths']
    assert '/processes/late/execution' in paths
    job_id = server.submit('late', {'steps': 2})
    assert server.wait_for(job_id)['status'] == 'successful'

    registry.remove('late')
    eventually(lambda: not listed())
    assert '/processes/late/execution' not in requests.get(
        server.url + '/openapi', timeout=10).json()['paths']
    assert requests.post(server.url + '/processes/late/execution', json={},
                         timeout=10).status_code == 404

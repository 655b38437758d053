"""Graphs the openEO API must refuse or stop, found by a fuzz of the API: arguments a
process has no parameter for or lacks (checked before running: the run raised TypeError,
a 500), a division by zero, a stored process graph with a cycle, and a synchronous
request (`POST /result`) that outlives `jobs.sync_timeout_seconds` (answered 408 and its
job stopped: nobody can fetch what it would compute, and a graph can take all the memory
it finds: the fuzz saw 19 GB)."""

import copy
import sqlite3
import time

import pytest
import requests
import yaml

from .conftest import REPO, TEST_PROCESSES, Server

LOCAL = yaml.safe_load((REPO / 'config' / 'local.yml').read_text())


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp('openeo-graph-errors')
    block = copy.deepcopy(LOCAL['eoorder'])
    block['data_dir'] = str(directory / 'data')
    block['jobs'] = {**(block.get('jobs') or {}), 'sync_timeout_seconds': 15}
    running = Server(directory, block, {**LOCAL['resources'],
                                        'countdown': TEST_PROCESSES['countdown']}).start()
    yield running
    running.stop()


def result(server, graph: dict) -> requests.Response:
    return requests.post(f'{server.url}/openeo/1.2/result', timeout=60,
                         json={'process': {'process_graph': graph}})


def one(process_id: str, **arguments) -> dict:
    return {'a': {'process_id': process_id, 'arguments': arguments, 'result': True}}


@pytest.mark.parametrize('graph, code, names', [
    (one('add'), 'ProcessArgumentRequired', ["'x'", "'y'"]),
    (one('cos', x=1, y=3), 'ProcessArgumentUnsupported', ["'y'"]),
    ({'r': {'process_id': 'reduce_dimension', 'arguments': {
        'data': [1], 'dimension': 't', 'reducer': {'process_graph': one('mean', data=[1],
                                                                            nodata=1)}},
      'result': True}}, 'ProcessArgumentUnsupported', ["'nodata'"]),
])
def test_arguments_are_checked_before_the_run(server, graph, code, names):
    reply = result(server, graph)
    assert reply.status_code == 400, reply.text
    assert reply.json()['code'] == code and names[0] in reply.json()['message']
    errors = requests.post(f'{server.url}/openeo/1.2/validation', timeout=30,
                           json={'process_graph': graph}).json()['errors']
    assert [e['code'] for e in errors].count(code) == len(names), errors


def test_a_division_by_zero_is_the_graphs_error(server):
    reply = result(server, one('divide', x=1, y=0))
    assert reply.status_code == 400 and reply.json()['code'] == 'DivisionByZero'


def test_a_stored_process_graph_with_a_cycle_is_refused(server):
    cycle = {'a': {'process_id': 'add', 'arguments': {'x': {'from_node': 'b'}, 'y': 1}},
             'b': {'process_id': 'add', 'arguments': {'x': {'from_node': 'a'}, 'y': 1},
                   'result': True}}
    reply = requests.put(f'{server.url}/openeo/1.2/process_graphs/cyc', timeout=30,
                         json={'process_graph': cycle})
    assert reply.status_code == 400 and reply.json()['code'] == 'ProcessGraphInvalid'
    assert requests.get(f'{server.url}/openeo/1.2/process_graphs/cyc',
                        timeout=30).status_code == 404


def test_a_result_past_the_sync_timeout_is_stopped(server):
    began = time.monotonic()
    reply = result(server, one('countdown', steps=600, delay=0.1))
    assert reply.status_code == 408, reply.text
    assert reply.json()['code'] == 'Timeout'
    assert time.monotonic() - began < 45
    with sqlite3.connect(server.data_dir / 'eoorder.db') as db:
        rows = db.execute("select status from eoorder_job where type = 'openeo-sync' and "
                          "process_id = '_openeo_graph'").fetchall()
    assert ('dismissed',) in rows and ('running',) not in rows


def test_a_failed_jobs_log_has_no_traceback(server):
    """The log of a failed batch job (its owner reads it) says what failed, without the
    traceback of the server's code."""
    api = f'{server.url}/openeo/1.2'
    created = requests.post(f'{api}/jobs', timeout=30, json={'process': {'process_graph': one(
        'load_collection', id='products', spatial_extent=None, temporal_extent=None,
        bands=[1])}})
    assert created.status_code == 201, created.text
    job_url = created.headers['Location']
    assert requests.post(f'{job_url}/results', timeout=30).status_code == 202
    deadline = time.monotonic() + 60
    while requests.get(job_url, timeout=30).json()['status'] != 'error':
        assert time.monotonic() < deadline
        time.sleep(0.2)
    messages = [entry['message'] for entry in
                requests.get(f'{job_url}/logs', timeout=30).json()['logs']]
    assert any('job failed' in m for m in messages), messages
    assert not any('Traceback' in m or 'File "' in m for m in messages), messages

"""Per-user quotas and fair scheduling (issue 18 item 4), through live servers with Basic
auth: a request over the queued-jobs or active-order-items quota is refused before anything
is queued, in each protocol's own error (OGC API problem+json 429, WPS and OSEO
ows:ExceptionReport, openEO's JSON error), naming the limit and the usage; `GET /quotas`
shows limits and usage; the local engine starts the job of the user with the fewest
running jobs, so a user with many queued jobs does not block another user's single one."""

from __future__ import annotations

import copy
import uuid
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests

from .conftest import REPO, TEST_PROCESSES, Server
from .support import oseo
from .support.auth import as_, write_users
from .support.wps_schemas import assert_valid

USERS = {'alice': ['user'], 'bob': ['user'], 'dev': ['user', 'developer'], 'root': ['admin']}
PROBLEM = 'application/problem+json'
OWS = 'http://www.opengis.net/ows/2.0'
WPS = 'http://www.opengis.net/wps/2.0'
LOCAL = __import__('yaml').safe_load((REPO / 'config' / 'local.yml').read_text())


def _auth(directory: Path) -> dict:
    users = write_users(directory / 'users.yml', USERS)
    return {'authenticators': [{'name': 'basic', 'users_file': str(users)}]}


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value.replace('Z', '+00:00'))


def _execute(server: Server, user: str, inputs: dict) -> requests.Response:
    return requests.post(f'{server.url}/processes/countdown/execution', auth=as_(user),
                         json={'inputs': inputs}, headers={'Prefer': 'respond-async'},
                         timeout=30)


def _job(server: Server, user: str, job_id: str) -> dict:
    reply = requests.get(f'{server.url}/jobs/{job_id}', auth=as_(user), timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def _wait(server: Server, user: str, job_id: str, statuses=('successful',),
          timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = _job(server, user, job_id)
        if job['status'] in statuses or job['status'] in ('failed', 'dismissed'):
            assert job['status'] in statuses, job
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def _quotas(server: Server, caller: str, **params) -> requests.Response:
    return requests.get(f'{server.url}/quotas', auth=as_(caller), params=params, timeout=10)


# -- refusals, in every protocol ----------------------------------------------------------
@pytest.fixture(scope='module')
def world(tmp_path_factory):
    """One worker, held busy by alice; at most 2 queued jobs and 1 active order item a
    user (developers: 3 queued jobs; admins exempt)."""
    directory = tmp_path_factory.mktemp('quotas')
    block = copy.deepcopy(LOCAL['eoorder'])
    block.update(data_dir=str(directory / 'data'), auth=_auth(directory),
                 jobs={'workers': 1},
                 quotas={'queued_jobs': 2, 'active_order_items': 1,
                         'roles': {'developer': {'queued_jobs': 3}}})
    oseo.make_products(directory / 'products', ['p1', 'p2'])
    block['ordering'] = oseo.ordering_block(directory / 'products')
    block['execution'] = {'stage_in': {'allowed_file_roots': [str(directory / 'products')]}}
    resources = {**LOCAL['resources'], 'countdown': TEST_PROCESSES['countdown']}
    server = Server(directory, block, resources).start()
    hold = directory / 'hold'
    hold.touch()
    server.hold = hold
    yield server
    hold.unlink(missing_ok=True)
    server.stop()


def _fill(server: Server, user: str, count: int) -> list[str]:
    """`count` jobs of `user` queued behind the held worker."""
    ids = []
    for _ in range(count):
        reply = _execute(server, user, {'steps': 0, 'hold_file': str(server.hold)})
        assert reply.status_code == 201, reply.text
        ids.append(reply.json()['jobID'])
    return ids


@pytest.fixture(scope='module')
def busy(world):
    """alice: one job running (holding the only worker) and two queued: her queue is full."""
    running = _fill(world, 'alice', 1)[0]
    _wait(world, 'alice', running, ('running',))
    queued = _fill(world, 'alice', 2)
    return running, queued


def test_ogc_api_execute_over_the_queue_quota_is_429_naming_limit_and_usage(world, busy):
    before = requests.get(f'{world.url}/jobs', auth=as_('alice'), params={'limit': 100},
                          timeout=10).json()['numberMatched']
    reply = _execute(world, 'alice', {'steps': 0})
    assert reply.status_code == 429, reply.text
    assert reply.headers['Content-Type'] == PROBLEM
    problem = reply.json()
    assert problem['quota'] == {'limit': 'queued_jobs', 'allowed': 2, 'used': 2,
                                'requested': 1}
    assert 'queued_jobs' in problem['detail'] and '2' in problem['detail']
    after = requests.get(f'{world.url}/jobs', auth=as_('alice'), params={'limit': 100},
                         timeout=10).json()['numberMatched']
    assert after == before  # nothing was queued
    # another user's queue is their own; a developer's role allows 3; an admin is exempt
    assert _execute(world, 'bob', {'steps': 0}).status_code == 201
    assert [_execute(world, 'dev', {'steps': 0}).status_code for _ in range(4)] == \
        [201, 201, 201, 429]
    assert [_execute(world, 'root', {'steps': 0}).status_code for _ in range(4)] == [201] * 4


def test_quotas_route_shows_limits_and_usage_to_the_user_and_admins(world, busy):
    mine = _quotas(world, 'alice')
    assert mine.status_code == 200, mine.text
    assert mine.json() == {'user': 'alice', 'quotas': {
        'running_jobs': {'limit': None, 'used': 1},
        'queued_jobs': {'limit': 2, 'used': 2},
        'active_order_items': {'limit': 1, 'used': 0}}}
    assert _quotas(world, 'root').json()['quotas']['queued_jobs']['limit'] is None
    assert _quotas(world, 'dev').json()['quotas']['queued_jobs']['limit'] == 3
    seen = _quotas(world, 'root', user='alice').json()
    assert seen['user'] == 'alice' and seen['quotas']['queued_jobs']['used'] == 2
    refused = _quotas(world, 'bob', user='alice')
    assert refused.status_code == 403 and refused.headers['Content-Type'] == PROBLEM


def test_part4_start_over_the_quota_is_refused_and_the_job_stays_created(world, busy):
    created = requests.post(f'{world.url}/jobs', auth=as_('alice'),
                            json={'process': 'countdown', 'inputs': {'steps': 0}},
                            headers={'Prefer': 'status="created"'}, timeout=30)
    assert created.status_code == 201, created.text  # a created job is not queued
    job_id = created.json()['jobID']
    start = requests.post(f'{world.url}/jobs/{job_id}/results', auth=as_('alice'), timeout=30)
    assert start.status_code == 429 and start.headers['Content-Type'] == PROBLEM, start.text
    assert start.json()['quota']['limit'] == 'queued_jobs'
    assert _job(world, 'alice', job_id)['status'] == 'created'


def test_wps_execute_over_the_quota_is_an_exception_report(world, busy):
    body = (f'<wps:Execute xmlns:wps="{WPS}" xmlns:ows="{OWS}" service="WPS" version="2.0.0" '
            'mode="async" response="document"><ows:Identifier>countdown</ows:Identifier>'
            '<wps:Input id="steps"><wps:Data>0</wps:Data></wps:Input></wps:Execute>')
    reply = requests.post(f'{world.url}/wps', data=body.encode(), auth=as_('alice'),
                          headers={'Content-Type': 'application/xml'}, timeout=30)
    assert reply.status_code == 429, reply.text
    root = assert_valid(reply.content)  # the official WPS 2.0 / OWS schemas
    assert root.tag == f'{{{OWS}}}ExceptionReport'
    exception = root.find(f'{{{OWS}}}Exception')
    assert exception.get('exceptionCode') == 'ServerBusy'
    assert 'queued_jobs' in exception.findtext(f'{{{OWS}}}ExceptionText')


def test_openeo_start_over_the_quota_is_an_openeo_error(world, busy):
    api = f'{world.url}/openeo/1.2'
    graph = {'process_graph': {'load': {'process_id': 'load_collection', 'arguments': {
        'id': 'products', 'spatial_extent': {'west': 4.75, 'south': 45.70, 'east': 4.95,
                                             'north': 45.85},
        'temporal_extent': ['2000-01-01', None], 'bands': ['red', 'nir']}},
        'save': {'process_id': 'save_result', 'arguments': {
            'data': {'from_node': 'load'}, 'format': 'netCDF'}, 'result': True}}}
    created = requests.post(f'{api}/jobs', auth=as_('alice'), json={'process': graph},
                            timeout=30)
    assert created.status_code == 201, created.text
    job_id = created.headers['OpenEO-Identifier']
    start = requests.post(f'{api}/jobs/{job_id}/results', auth=as_('alice'), timeout=30)
    assert start.status_code == 429, start.text
    error = start.json()
    assert error['code'] == 'QuotaExceeded' and 'queued_jobs' in error['message']
    assert {'id', 'code', 'message'} <= set(error)
    job = requests.get(f'{api}/jobs/{job_id}', auth=as_('alice'), timeout=10).json()
    assert job['status'] == 'created'


def test_oseo_submit_over_the_order_items_quota_is_refused(world):
    two = oseo.submit(oseo.item('a', 'p1') + oseo.item('b', 'p2'))
    reply = oseo.post(world, two, auth=as_('bob'))
    assert reply.status_code == 429, reply.text
    code, locator = oseo.exception(reply)  # validated against the OSEO schemas
    assert (code, locator) == ('LimitExceeded', 'orderItem')
    assert 'active_order_items' in reply.text
    orders = requests.get(f'{world.url}/orders', auth=as_('bob'), timeout=10).json()
    assert orders['orders'] == []


# -- fair scheduling ------------------------------------------------------------------------
def _started(server: Server, user: str, job_ids: list[str]) -> list[tuple[datetime, datetime]]:
    spans = []
    for job_id in job_ids:
        job = _wait(server, user, job_id, timeout=120)
        spans.append((_at(job['started']), _at(job['finished'])))
    return spans


def test_many_queued_jobs_do_not_block_another_users_single_job(make_server, tmp_path):
    """One worker, held by alice's first job while she queues 11 more and bob then asks
    for one: first in, first out would start bob's after all of alice's; fair scheduling
    starts it as soon as the worker is free, before any other of alice's."""
    block = {'auth': _auth(tmp_path), 'jobs': {'workers': 1}}
    server = make_server(block, {'countdown': TEST_PROCESSES['countdown']})
    hold = tmp_path / 'hold'
    hold.touch()
    first = _execute(server, 'alice', {'steps': 0, 'hold_file': str(hold)}).json()['jobID']
    _wait(server, 'alice', first, ('running',))
    alice = []
    for _ in range(11):
        reply = _execute(server, 'alice', {'steps': 1, 'delay': 0.2})
        assert reply.status_code == 201, reply.text
        alice.append(reply.json()['jobID'])
    reply = _execute(server, 'bob', {'steps': 1, 'delay': 0.2})
    assert reply.status_code == 201, reply.text
    bob_job = reply.json()['jobID']
    hold.unlink()
    (bob_start, bob_end), = _started(server, 'bob', [bob_job])
    spans = _started(server, 'alice', alice)
    assert all(start >= bob_end for start, _ in spans), (bob_start, spans)


def test_running_jobs_limit_leaves_workers_to_others(make_server, tmp_path):
    """Three workers, at most one running job a user: alice's jobs run one at a time
    (never overlapping), and bob's job starts at once on a free worker."""
    block = {'auth': _auth(tmp_path), 'jobs': {'workers': 3}, 'quotas': {'running_jobs': 1}}
    server = make_server(block, {'countdown': TEST_PROCESSES['countdown']})
    alice = [_execute(server, 'alice', {'steps': 1, 'delay': 0.4}).json()['jobID']
             for _ in range(5)]
    _wait(server, 'alice', alice[0], ('running', 'successful'))
    asked = time.time()
    bob_job = _execute(server, 'bob', {'steps': 1, 'delay': 0.4}).json()['jobID']
    (bob_start, _), = _started(server, 'bob', [bob_job])
    assert bob_start.timestamp() - asked < 1.5, 'bob waited for alice\'s jobs'
    spans = sorted(_started(server, 'alice', alice))
    for (_, end), (start, _) in zip(spans, spans[1:]):
        assert start >= end, 'two of alice\'s jobs ran at once'
    usage = _quotas(server, 'alice').json()['quotas']
    assert usage['running_jobs'] == {'limit': 1, 'used': 0}


def test_celery_engine_also_runs_another_users_single_job_next(tmp_path):
    """The same on the Celery engine (PostgreSQL, Redis, one real worker): a delivered
    message is a turn, given to the user with the fewest running jobs."""
    from .support.cluster import Database, Worker, cluster_block, ensure_redis
    ensure_redis()
    database = Database('eoorder_quotas').create()
    block = cluster_block(database, f'eoorder-test-{uuid.uuid4().hex[:8]}', workers=1)
    block['auth'] = _auth(tmp_path)
    (tmp_path / 'server').mkdir()
    server = Server(tmp_path / 'server', block, {'countdown': TEST_PROCESSES['countdown']})
    worker = Worker(server.config, tmp_path / 'worker', 1)
    try:
        worker.start()
        server.start()
        hold = tmp_path / 'hold'
        hold.touch()
        first = _execute(server, 'alice', {'steps': 0, 'hold_file': str(hold)}).json()['jobID']
        _wait(server, 'alice', first, ('running',))
        alice = [_execute(server, 'alice', {'steps': 1, 'delay': 0.2}).json()['jobID']
                 for _ in range(6)]
        bob_job = _execute(server, 'bob', {'steps': 1, 'delay': 0.2}).json()['jobID']
        hold.unlink()
        (_, bob_end), = _started(server, 'bob', [bob_job])
        spans = _started(server, 'alice', alice)
        assert all(start >= bob_end for start, _ in spans), (bob_end, spans, worker.log())
    finally:
        server.stop()
        worker.stop()
        database.drop()

"""The queued-jobs and active-order-items quotas under simultaneous requests (issue 18): N
submissions (or Part 4 starts, or OSEO Submits) of one user sent at once against a quota
of K leave exactly K jobs queued (K order items active) and answer the others 429 naming
the limit, on SQLite and on PostgreSQL. The check and the insert share one transaction
under a per-user lock; without it several requests count the same free place and the
user ends over their quota."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from typing import Callable, Iterator

import pytest
import requests
from sqlalchemy import create_engine, text

from .conftest import TEST_PROCESSES, Server
from .support import oseo
from .support.auth import as_, write_users

USERS = {'alice': ['user'], 'carol': ['user'], 'bob': ['user'], 'dora': ['user']}
QUOTA = 3
AT_ONCE = 12
ITEMS = 2  # items an order
SUBMITS = 8  # simultaneous Submits: no more than one web worker's threads (all may wait)
PROBLEM = 'application/problem+json'


@pytest.fixture(scope='module', params=['sqlite', 'postgresql'])
def server(request, tmp_path_factory):
    """One job worker, held busy by bob (nothing of alice's, carol's or dora's starts:
    order items stay active), at most QUOTA queued jobs and QUOTA orders' worth of
    active order items a user; the store on SQLite or PostgreSQL (`server.store_url`)."""
    directory = tmp_path_factory.mktemp(f'quota-race-{request.param}')
    database = None
    oseo.make_products(directory / 'products', ['p1'])
    block = {**oseo.eoorder_block(directory / 'products', jobs={'workers': 1}),
             'quotas': {'queued_jobs': QUOTA, 'active_order_items': QUOTA * ITEMS},
             'auth': {'authenticators': [{'name': 'basic', 'users_file': str(
                 write_users(directory / 'users.yml', USERS))}]}}
    if request.param == 'postgresql':
        from .support.cluster import Database
        database = Database('eoorder_quota_race').create()
        block['store'] = {'url': database.url}
    server = Server(directory, block, {'countdown': TEST_PROCESSES['countdown']}).start()
    server.store_url = database.url if database else \
        f'sqlite:///{server.data_dir}/eoorder.db'
    hold = directory / 'hold'
    hold.touch()
    try:
        held = _execute(server, 'bob', {'steps': 0, 'hold_file': str(hold)})
        assert held.status_code == 201, held.text
        _wait_status(server, 'bob', held.json()['jobID'], 'running')
        yield server
    finally:
        hold.unlink(missing_ok=True)
        server.stop()
        if database is not None:
            database.drop()


def _execute(server: Server, user: str, inputs: dict) -> requests.Response:
    return requests.post(f'{server.url}/processes/countdown/execution', auth=as_(user),
                         json={'inputs': inputs}, headers={'Prefer': 'respond-async'},
                         timeout=60)


def _status(server: Server, user: str, job_id: str) -> str:
    reply = requests.get(f'{server.url}/jobs/{job_id}', auth=as_(user), timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()['status']


def _wait_status(server: Server, user: str, job_id: str, status: str) -> None:
    deadline = time.monotonic() + 60
    while (current := _status(server, user, job_id)) != status:
        assert time.monotonic() < deadline, current
        time.sleep(0.05)


def _at_once(calls: list) -> list[requests.Response]:
    """Run the calls in threads released together; their answers in call order."""
    barrier = threading.Barrier(len(calls))
    answers: list = [None] * len(calls)

    def run(index: int) -> None:
        barrier.wait()
        try:
            answers[index] = calls[index]()
        except requests.RequestException as err:
            answers[index] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return answers


def _code(answer) -> str:
    """The status code of an answer, or the error that stood for it."""
    return str(answer.status_code) if isinstance(answer, requests.Response) else repr(answer)


def _jobs_of(server: Server, user: str) -> dict[str, int]:
    """How many of the user's jobs are in each status (the job list, not the answers)."""
    reply = requests.get(f'{server.url}/jobs', auth=as_(user), params={'limit': 1000},
                         timeout=10)
    assert reply.status_code == 200, reply.text
    counts: dict[str, int] = {}
    for job in reply.json()['jobs']:
        counts[job['status']] = counts.get(job['status'], 0) + 1
    return counts


def _assert_refusals(refused: list[requests.Response]) -> None:
    for reply in refused:
        assert reply.headers['Content-Type'] == PROBLEM, reply.text
        quota = reply.json()['quota']
        assert quota['limit'] == 'queued_jobs' and quota['allowed'] == QUOTA, quota
        assert quota['used'] == QUOTA, quota  # refused with the queue seen full


def test_simultaneous_submissions_queue_exactly_the_quota(server):
    answers = _at_once([lambda: _execute(server, 'alice', {'steps': 0})] * AT_ONCE)
    codes = sorted(_code(a) for a in answers)
    assert codes == ['201'] * QUOTA + ['429'] * (AT_ONCE - QUOTA), codes
    _assert_refusals([a for a in answers if a.status_code == 429])
    assert _jobs_of(server, 'alice') == {'accepted': QUOTA}
    usage = requests.get(f'{server.url}/quotas', auth=as_('alice'), timeout=10).json()
    assert usage['quotas']['queued_jobs'] == {'limit': QUOTA, 'used': QUOTA}


def test_simultaneous_part4_starts_queue_exactly_the_quota(server):
    created = []
    for _ in range(AT_ONCE):
        reply = requests.post(f'{server.url}/jobs', auth=as_('carol'),
                              json={'process': 'countdown', 'inputs': {'steps': 0}},
                              headers={'Prefer': 'status="created", respond-async'},
                              timeout=30)
        assert reply.status_code == 201, reply.text
        created.append(reply.json()['jobID'])
    assert _jobs_of(server, 'carol') == {'created': AT_ONCE}  # created jobs are not queued

    def start(job_id):
        return lambda: requests.post(f'{server.url}/jobs/{job_id}/results',
                                     auth=as_('carol'), timeout=60)

    answers = _at_once([start(job_id) for job_id in created])
    codes = sorted(_code(a) for a in answers)
    assert codes == ['200'] * QUOTA + ['429'] * (AT_ONCE - QUOTA), codes
    _assert_refusals([a for a in answers if a.status_code == 429])
    assert _jobs_of(server, 'carol') == {'accepted': QUOTA, 'created': AT_ONCE - QUOTA}
    for job_id, answer in zip(created, answers):  # each answer tells that job's fate
        assert _status(server, 'carol', job_id) == \
            ('accepted' if answer.status_code == 200 else 'created')


def _active_items(server: Server, owner: str) -> int:
    """The owner's order items waiting or in production, read from the store itself."""
    engine = create_engine(server.store_url)
    try:
        with engine.connect() as db:
            return db.execute(text(
                'SELECT count(*) FROM eoorder_order_item i JOIN eoorder_order o '
                'ON o.id = i.order_id WHERE o.owner = :owner AND i.status IN '
                "('Submitted', 'Accepted', 'InProduction', 'Suspended')"),
                {'owner': owner}).scalar_one()
    finally:
        engine.dispose()


@contextmanager
def _writes_held(server: Server) -> Iterator[Callable[[int], None]]:
    """Hold the store's order inserts in a transaction of the test's own (PostgreSQL: a
    SHARE lock on the orders table, which reads pass; SQLite: the write lock), so that
    simultaneous Submits all reach their insert before any commits: a count made outside
    the inserting transaction then sees every free place. Yields a function that waits
    until `n` sessions wait on a lock (on SQLite, whose waiters cannot be seen, a pause)."""
    engine = create_engine(server.store_url)
    try:
        with engine.connect() as db:
            if db.dialect.name == 'sqlite':
                db.exec_driver_sql('BEGIN IMMEDIATE')
            else:
                db.begin()
                db.execute(text('LOCK TABLE eoorder_order IN SHARE MODE'))

            def waiting(n: int) -> None:
                if db.dialect.name == 'sqlite':
                    time.sleep(3)
                    return
                deadline = time.monotonic() + 60
                while (db.execute(text('SELECT count(*) FROM pg_locks WHERE NOT granted'))
                       .scalar_one() < n):
                    assert time.monotonic() < deadline, 'the Submits never reached the store'
                    time.sleep(0.05)
            try:
                yield waiting
            finally:
                db.exec_driver_sql('COMMIT') if db.dialect.name == 'sqlite' else db.commit()
    finally:
        engine.dispose()


def test_simultaneous_oseo_submits_keep_exactly_the_order_items_quota(server):
    submit = oseo.submit(''.join(oseo.item(f'i{n}', 'p1') for n in range(ITEMS)))
    done: list = []
    sender = threading.Thread(target=lambda: done.append(_at_once(
        [lambda: oseo.post(server, submit, auth=as_('dora'))] * SUBMITS)))
    with _writes_held(server) as waiting:
        sender.start()
        waiting(SUBMITS)
    sender.join(180)
    answers = done[0]
    codes = sorted(_code(a) for a in answers)
    assert codes == ['200'] * QUOTA + ['429'] * (SUBMITS - QUOTA), codes
    for reply in (a for a in answers if a.status_code == 429):
        assert oseo.exception(reply) == ('LimitExceeded', 'orderItem')  # schema-valid
        assert f'quota active_order_items exceeded: {QUOTA * ITEMS} in use, {ITEMS} more ' \
            f'asked for, at most {QUOTA * ITEMS} allowed' in reply.text, reply.text
    assert _active_items(server, 'dora') == QUOTA * ITEMS
    orders = requests.get(f'{server.url}/orders', auth=as_('dora'), timeout=10).json()
    assert len(orders['orders']) == QUOTA
    usage = requests.get(f'{server.url}/quotas', auth=as_('dora'), timeout=10).json()
    assert usage['quotas']['active_order_items'] == {'limit': QUOTA * ITEMS,
                                                     'used': QUOTA * ITEMS}

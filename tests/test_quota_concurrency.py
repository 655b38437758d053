"""The queued-jobs quota under simultaneous requests (issue 18): N submissions (or Part 4
starts) of one user sent at once against a quota of K leave exactly K jobs queued and
answer the others 429 naming the limit, on SQLite and on PostgreSQL. The check and the
insert share one transaction under a per-user lock; without it several requests count the
same free place and the user ends over their quota."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from .conftest import TEST_PROCESSES, Server
from .support.auth import as_, write_users

USERS = {'alice': ['user'], 'carol': ['user'], 'bob': ['user']}
QUOTA = 3
AT_ONCE = 12
PROBLEM = 'application/problem+json'


@pytest.fixture(scope='module', params=['sqlite', 'postgresql'])
def server(request, tmp_path_factory):
    """One job worker, held busy by bob (nothing of alice's or carol's starts), at most
    QUOTA queued jobs a user; the store on SQLite or PostgreSQL."""
    directory = tmp_path_factory.mktemp(f'quota-race-{request.param}')
    database = None
    block = {'jobs': {'workers': 1}, 'quotas': {'queued_jobs': QUOTA},
             'auth': {'authenticators': [{'name': 'basic', 'users_file': str(
                 write_users(directory / 'users.yml', USERS))}]}}
    if request.param == 'postgresql':
        from .support.cluster import Database
        database = Database('eoorder_quota_race').create()
        block['store'] = {'url': database.url}
    server = Server(directory, block, {'countdown': TEST_PROCESSES['countdown']}).start()
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

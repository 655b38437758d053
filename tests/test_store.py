"""The job repository on both stores: SQLite (embedded) and PostgreSQL (scale-out)."""

import os
import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete

from pygeoapi_eoorder.jobs.repository import JobQuery, JobRepository
from pygeoapi_eoorder.store import Job, Store, utcnow

from .support.cluster import Database



@pytest.fixture(scope='module')
def pg_url():
    """A PostgreSQL database of this module's own (migrated from scratch), dropped after."""
    database = Database('eoorder_store').create()
    yield os.environ.get('EOORDER_TEST_POSTGRESQL', database.url)
    database.drop()


@pytest.fixture(params=['sqlite', 'postgresql'])
def repo(request, tmp_path):
    if request.param == 'sqlite':
        store = Store(f"sqlite:///{tmp_path / 'store.db'}")
    else:
        store = Store(request.getfixturevalue('pg_url'))
        with store.write() as session:
            session.execute(delete(Job))
    yield JobRepository(store)
    if request.param == 'postgresql':
        with store.write() as session:
            session.execute(delete(Job))
    store.write_engine.dispose()


def test_lifecycle_and_transition_table(repo):
    job = repo.add('p', inputs={'a': 1}, subscriber={'successUri': 'http://x'})
    assert repo.get(job['id'])['status'] == 'accepted'
    assert not repo.transition(job['id'], 'successful')        # accepted -> successful: no
    claimed = repo.claim('w1')
    assert claimed['id'] == job['id'] and claimed['status'] == 'running'
    assert claimed['attempts'] == 1 and claimed['inputs'] == {'a': 1}
    assert claimed['worker'] == 'w1'
    assert repo.claim('w2') is None                              # claimed once only
    assert repo.release(job['id']) == {'status': 'running', 'files_removed': False}
    assert repo.get(job['id'])['worker'] is None
    assert repo.report_progress(job['id'], 40, 'half')
    assert repo.finish(job['id'], 'successful', progress=100)
    assert not repo.finish(job['id'], 'failed')                  # final is final
    assert not repo.report_progress(job['id'], 50)
    done = repo.get(job['id'])
    assert done['status'] == 'successful' and done['duration'] >= 0 and done['finished']
    assert repo.dismiss(job['id']) == 'successful'
    assert repo.dismiss(job['id']) is None


def test_concurrent_claims_hand_each_job_out_once(repo):
    ids = {repo.add('p')['id'] for _ in range(30)}
    claimed, lock = [], threading.Lock()

    def claimer():
        for _ in range(20):
            got = repo.claim(threading.current_thread().name)
            if got is not None:
                with lock:
                    claimed.append(got['id'])

    threads = [threading.Thread(target=claimer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(claimed) == sorted(ids)


def test_dismissal_races_a_finishing_worker(repo):
    job = repo.add('p')
    repo.claim('w')
    assert repo.dismiss(job['id']) == 'running'
    assert not repo.finish(job['id'], 'successful')
    assert repo.get(job['id'])['status'] == 'dismissed'


def test_query_filters(repo):
    a = repo.add('alpha', job_type='process')
    b = repo.add('beta', job_type='harvest')
    repo.claim('w')
    repo.claim('w')
    repo.finish(a['id'], 'failed')
    assert [j['id'] for j in repo.query(JobQuery(process_ids=['alpha']))[0]] == [a['id']]
    assert [j['id'] for j in repo.query(JobQuery(types=['harvest']))[0]] == [b['id']]
    assert repo.query(JobQuery(statuses=['running']))[1] == 1
    assert repo.query(JobQuery(min_duration=3600))[1] == 0
    assert repo.query(JobQuery(max_duration=3600))[1] == 2
    later = utcnow() + timedelta(hours=1)
    assert repo.query(JobQuery(created_from=later))[1] == 0
    jobs, total = repo.query(JobQuery(limit=1, offset=1))
    assert total == 2 and len(jobs) == 1


def test_unknown_job(repo):
    assert repo.get(str(uuid.uuid4())) is None
    assert repo.dismiss('nope') is None

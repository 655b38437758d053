"""The cluster engine (jobs.engine: celery) against real PostgreSQL, Redis, Docker, a real
`eoorder serve` and two real `eoorder worker` processes: execution, results from the
store, dismissal, workers killed mid-job, duplicate deliveries, server restarts."""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest
import requests

from pygeoapi_eoorder.store import utcnow
from tests.support.cluster import (Cluster, alive, containers_of, deploy_sleep, wait_for)


MEMORY_LIMIT = 3 * 1024 ** 3  # each pool process's data (`jobs.memory_limit`)


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp('cluster'), workers=2, concurrency=1,
                      memory_limit=MEMORY_LIMIT).start()
    deploy_sleep(cluster.server)
    yield cluster
    cluster.stop()


def wait_pid(path, timeout=20) -> int:
    wait_for(lambda: path.exists() and path.read_text(), timeout, what=f'{path}')
    return int(path.read_text())


def row(cluster, job_id, *columns):
    rows = cluster.database.query(
        f'select {", ".join(columns)} from eoorder_job where id = %s', job_id)
    return rows[0] if rows else None


def test_jobs_run_on_both_workers_and_results_come_from_the_store(cluster):
    server = cluster.server
    reply = server.execute('countdown', {'steps': 4, 'delay': 0.25})
    assert reply.status_code == 201
    first = reply.json()['jobID']
    # committed before the answer, and published (stamped) right after the commit
    status, queued = row(cluster, first, 'status', 'queued')
    assert status in ('accepted', 'running', 'successful') and queued is not None
    ids = [first] + [server.submit('countdown', {'steps': 4, 'delay': 0.25}) for _ in range(3)]
    for job_id in ids:
        job = server.wait_for(job_id, timeout=60)
        assert job['status'] == 'successful', job
    # prefetch 1 and concurrency 1: four 1-second jobs are spread over both workers
    for worker in cluster.workers:
        assert any(f'job {job_id}: job successful' in worker.log() for job_id in ids), \
            worker.log()[-2000:]
    raw = requests.get(f'{server.url}/jobs/{first}/results', timeout=10)
    assert raw.status_code == 200 and raw.json() == {'id': 'count', 'value': 4}
    document = requests.get(f'{server.url}/jobs/{first}/results?response=document', timeout=10)
    assert document.json() == {'count': 4}
    log = requests.get(f'{server.url}/jobs/{first}/log', timeout=10).text
    assert 'countdown: 4 steps' in log and 'job complete' in log
    # nothing stayed on the workers' disks, and the server never had a job directory
    for worker in cluster.workers:
        assert not any((worker.data_dir / 'jobs').glob(f'{first}*'))
    assert not (server.data_dir / 'jobs' / first).exists()
    stored = cluster.database.query(
        'select path from eoorder_job_file where job_id = %s order by path', first)
    assert [p for (p,) in stored] == ['job.log', 'results/result.json']


def test_synchronous_execution_waits_for_the_worker(cluster):
    reply = cluster.server.execute('text', {'text': 'cluster'}, async_=False)
    assert reply.status_code == 200, reply.text
    assert reply.text == 'CLUSTER' and reply.headers['Content-Type'].startswith('text/plain')


def test_failed_job_has_its_reason(cluster):
    job = cluster.server.wait_for(cluster.server.submit('countdown', {'steps': 1, 'fail': True}))
    assert job['status'] == 'failed' and 'asked to fail' in job['message']
    log = requests.get(f"{cluster.server.url}/jobs/{job['jobID']}/log", timeout=10).text
    assert 'asked to fail' in log


def test_dismiss_stops_the_container_within_2_seconds(cluster):
    server = cluster.server
    job_id = server.submit('sleep', {'seconds': 60})
    wait_for(lambda: containers_of(job_id), 30, what='the job container')
    server.wait_for(job_id, ('running',))
    started = time.monotonic()
    reply = requests.delete(f'{server.url}/jobs/{job_id}', timeout=10)
    assert reply.status_code == 200 and reply.json()['status'] == 'dismissed'
    wait_for(lambda: not containers_of(job_id), 2.0, interval=0.05,
             what='container removed')
    assert time.monotonic() - started <= 2.0
    assert server.job(job_id)['status'] == 'dismissed'
    assert requests.get(f'{server.url}/jobs/{job_id}/results', timeout=10).status_code == 410
    # the worker released it and is free for the next job
    assert wait_for(lambda: row(cluster, job_id, 'worker')[0] is None, 5, what='released')
    assert server.wait_for(server.submit('countdown', {'steps': 1}))['status'] == 'successful'


def test_dismiss_stops_a_python_job_process_within_2_seconds(cluster, tmp_path):
    server = cluster.server
    job_id = server.submit('countdown', {'steps': 600, 'delay': 0.1,
                                         'pid_file': str(tmp_path / 'pid')})
    pid = wait_pid(tmp_path / 'pid')
    started = time.monotonic()
    assert requests.delete(f'{server.url}/jobs/{job_id}', timeout=10).status_code == 200
    wait_for(lambda: not alive(pid), 2.0, what='job process stopped')
    assert time.monotonic() - started <= 2.0
    assert server.job(job_id)['status'] == 'dismissed'


def test_job_processes_have_the_memory_limit(cluster, tmp_path):
    job_id = cluster.server.submit('countdown', {'steps': 40, 'delay': 0.1,
                                                 'pid_file': str(tmp_path / 'pid')})
    pid = wait_pid(tmp_path / 'pid')
    limits = [line.split() for line in open(f'/proc/{pid}/limits')
              if line.startswith('Max data size')]
    assert limits and limits[0][3:5] == [str(MEMORY_LIMIT)] * 2
    assert requests.delete(f'{cluster.server.url}/jobs/{job_id}', timeout=10
                           ).status_code == 200


def _kill_worker_running(cluster, pid_file):
    pid = wait_pid(pid_file)
    worker = cluster.worker_of(pid)
    assert worker is not None, 'the job process belongs to no worker'
    worker.kill()   # the job process has its own group: it dies with its parent (PDEATHSIG)
    wait_for(lambda: not alive(pid), 2, what='job process gone with its worker')
    return worker


def test_worker_killed_mid_job_fails_the_job_with_a_reason(cluster, tmp_path):
    server = cluster.server
    job_id = server.submit('countdown', {'steps': 600, 'delay': 0.1,
                                         'pid_file': str(tmp_path / 'pid')})
    worker = _kill_worker_running(cluster, tmp_path / 'pid')
    try:
        job = server.wait_for(job_id, timeout=20)  # lease 3 s + sweep 1 s
        assert job['status'] == 'failed', job
        assert 'was lost (no heartbeat' in job['message']
        assert job['exception']['detail'] == job['message']
    finally:
        worker.start()


def test_worker_killed_mid_job_retries_an_idempotent_job(cluster, tmp_path):
    server = cluster.server
    job_id = server.submit('countdown-idempotent', {'steps': 30, 'delay': 0.1,
                                                    'pid_file': str(tmp_path / 'pid')})
    worker = _kill_worker_running(cluster, tmp_path / 'pid')
    try:
        job = server.wait_for(job_id, timeout=30)
        assert job['status'] == 'successful', job
        assert row(cluster, job_id, 'attempts')[0] == 2
        assert requests.get(f'{server.url}/jobs/{job_id}/results', timeout=10).json() == {
            'id': 'count', 'value': 30}
    finally:
        worker.start()


def test_killed_pool_process_requeues_and_the_job_still_ends(cluster, tmp_path):
    """SIGKILL of the process holding the task (not the whole worker): Celery rejects the
    message back to the queue (reject_on_worker_lost); the redelivery sees the lease still
    fresh and drops, the sweep then recovers the job: retried here (idempotent)."""
    server = cluster.server
    job_id = server.submit('countdown-idempotent', {'steps': 20, 'delay': 0.1,
                                                    'pid_file': str(tmp_path / 'pid')})
    pid = wait_pid(tmp_path / 'pid')
    with open(f'/proc/{pid}/stat') as fh:
        pool_process = int(fh.read().rsplit(')', 1)[1].split()[1])
    assert cluster.worker_of(pool_process) is not None
    os.kill(pool_process, signal.SIGKILL)
    job = server.wait_for(job_id, timeout=30)
    assert job['status'] == 'successful', job
    assert row(cluster, job_id, 'attempts')[0] == 2


def test_duplicate_delivery_does_not_run_a_job_twice(cluster, tmp_path):
    from pygeoapi_eoorder import config as eoconfig
    from pygeoapi_eoorder.jobs import cluster as engine

    server = cluster.server
    hold = tmp_path / 'hold'
    hold.touch()
    job_id = server.submit('countdown', {'steps': 1, 'pid_file': str(tmp_path / 'pid'),
                                         'hold_file': str(hold)})
    wait_pid(tmp_path / 'pid')
    _, settings = eoconfig.load(server.config)
    assert engine.publish(settings, job_id)      # a redelivery while it runs
    wait_for(lambda: any(f'job {job_id}: job runs on ' in w.log() for w in cluster.workers),
             30, what='the redelivery seen while the job runs')
    hold.unlink()
    job = server.wait_for(job_id, timeout=30)
    assert job['status'] == 'successful'
    assert engine.publish(settings, job_id)      # and one after it finished
    wait_for(lambda: sum(w.log().count(f'job {job_id}: job ') for w in cluster.workers) >= 3,
             10, what='three deliveries handled')
    logs = ''.join(w.log() for w in cluster.workers)
    assert logs.count(f'job {job_id}: job runs on ') == 1
    assert logs.count(f'job {job_id}: job is successful: dropped') == 1
    assert row(cluster, job_id, 'attempts')[0] == 1


def test_job_never_published_is_published_by_the_sweep(cluster):
    """The broker was down at submission (or the server died between commit and
    publication): the job is in the store without `queued`; a worker's sweep publishes it."""
    from pygeoapi_eoorder.jobs.repository import JobRepository
    from pygeoapi_eoorder.store import Store

    store = Store(cluster.database.url)
    job = JobRepository(store).add('countdown', inputs={'steps': 1})
    cluster.database.query('update eoorder_job set created = %s where id = %s',
                           utcnow() - timedelta(seconds=30), job['id'])
    store.write_engine.dispose()
    done = cluster.server.wait_for(job['id'], timeout=20)
    assert done['status'] == 'successful'


def test_server_restart_and_another_server_instance(cluster, tmp_path):
    server = cluster.server
    job_id = server.submit('countdown', {'steps': 20, 'delay': 0.1,
                                         'pid_file': str(tmp_path / 'pid')})
    wait_pid(tmp_path / 'pid')
    server.kill()              # the server crashes: the job goes on in its worker
    server.start()
    job = server.wait_for(job_id, timeout=30)
    assert job['status'] == 'successful'
    other = cluster.another_server()   # its own data_dir: results come from the store
    assert requests.get(f'{other.url}/jobs/{job_id}/results', timeout=10).json() == {
        'id': 'count', 'value': 20}
    assert 'job complete' in requests.get(f'{other.url}/jobs/{job_id}/log', timeout=10).text
    queued = other.submit('countdown', {'steps': 1})
    assert server.wait_for(queued)['status'] == 'successful'
    # dismissal through one instance is seen by the other
    assert requests.delete(f'{other.url}/jobs/{job_id}', timeout=10).status_code == 200
    assert requests.get(f'{server.url}/jobs/{job_id}/results', timeout=10).status_code == 410

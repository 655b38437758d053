"""The cluster engine with RabbitMQ as the Celery broker (`amqp://`): the same configuration
as tests/test_cluster_engine.py with only `jobs.broker_url` changed, against real PostgreSQL,
RabbitMQ, Docker, one `eoorder serve` and two `eoorder worker` processes.

The tests imported from test_cluster_engine run here against this module's `cluster`
fixture. What differs with AMQP is redelivery: RabbitMQ requeues a consumer's
unacknowledged message the moment its connection closes (Redis waits for the visibility
timeout), so a worker killed mid-job has its message delivered again *at once* to a
surviving worker, while the job's lease is still fresh. That delivery must be dropped (the
job does not run twice, nor is it failed early) and the sweep must still end the job once
the lease expires; the tests below check both, with a container job.
"""

from __future__ import annotations

import socket
import subprocess

import pytest
import requests

from tests.conftest import REPO
from tests.support.cluster import Cluster, containers_of, deploy_sleep, wait_for
from tests.test_cluster_engine import (  # noqa: F401 - collected here with the AMQP cluster
    row, test_dismiss_stops_a_python_job_process_within_2_seconds,
    test_dismiss_stops_the_container_within_2_seconds, test_duplicate_delivery_does_not_run_a_job_twice,
    test_failed_job_has_its_reason, test_jobs_run_on_both_workers_and_results_come_from_the_store,
    test_killed_pool_process_requeues_and_the_job_still_ends,
    test_synchronous_execution_waits_for_the_worker,
    test_worker_killed_mid_job_retries_an_idempotent_job)

AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672//'


def amqp_up() -> bool:
    try:
        socket.create_connection(('127.0.0.1', 5672), timeout=1).close()
        return True
    except OSError:
        return False


def ensure_rabbitmq() -> None:
    """RabbitMQ accepts connections, or scripts/services starts it."""
    if not amqp_up():
        subprocess.run([str(REPO / 'scripts' / 'services')], check=True, timeout=300)
    assert amqp_up(), 'RabbitMQ is not accepting connections on 127.0.0.1:5672'


def delete_queue(name: str) -> None:
    from kombu import Connection
    with Connection(AMQP_URL, connect_timeout=5) as conn:
        conn.default_channel.queue_delete(name)


@pytest.fixture(scope='module')
def cluster(tmp_path_factory):
    ensure_rabbitmq()
    cluster = Cluster(tmp_path_factory.mktemp('cluster-amqp'), workers=2, concurrency=1,
                      broker_url=AMQP_URL).start()
    deploy_sleep(cluster.server)
    yield cluster
    cluster.stop()
    delete_queue(cluster.queue)


def test_the_workers_consume_from_rabbitmq(cluster):
    """Not Redis by accident: the job queue is a RabbitMQ queue with two consumers."""
    out = subprocess.run(['rabbitmqctl', 'list_queues', '-q', '--no-table-headers',
                          'name', 'consumers'], capture_output=True, text=True, timeout=60,
                         check=True).stdout
    consumers = dict(line.split() for line in out.splitlines() if line.strip())
    assert consumers.get(cluster.queue) == '2', out
    for worker in cluster.workers:
        assert 'amqp://guest:**@127.0.0.1:5672//' in worker.log()


def test_container_job_runs_and_its_result_comes_from_the_store(cluster):
    server = cluster.server
    job = server.wait_for(server.submit('sleep', {'seconds': 1}), timeout=60)
    assert job['status'] == 'successful', job
    reply = requests.get(f"{server.url}/jobs/{job['jobID']}/results?response=document",
                         timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {'result': 'done'}
    log = requests.get(f"{server.url}/jobs/{job['jobID']}/log", timeout=10).text
    assert 'container: PROGRESS 100 slept 1 of 1 seconds' in log
    assert not containers_of(job['jobID'])


def test_worker_killed_mid_container_job_fails_it_with_a_reason(cluster, tmp_path):
    """SIGKILL of the worker running a container job: RabbitMQ redelivers the message to
    the other worker at once; that delivery is dropped (lease fresh), and the sweep fails
    the job (not idempotent) with the reason and removes its orphaned container."""
    server = cluster.server
    job_id = server.submit('sleep', {'seconds': 60})
    wait_for(lambda: containers_of(job_id), 30, what='the job container')
    holder = row(cluster, job_id, 'worker')[0]
    pid = int(holder.rsplit(':', 1)[1])
    worker = cluster.worker_of(pid)
    assert worker is not None, holder
    survivor = next(w for w in cluster.workers if w is not worker)
    worker.kill()
    try:
        wait_for(lambda: f'job {job_id}: job runs on {holder}: dropped' in survivor.log(), 10,
                 what='the immediate redelivery dropped by the surviving worker')
        # not run again: still running (or failed already, if the 3 s lease ran out first)
        assert server.job(job_id)['status'] in ('running', 'failed')
        job = server.wait_for(job_id, timeout=20)   # lease 3 s + sweep every 1 s
        assert job['status'] == 'failed', job
        assert f'its worker {holder} was lost (no heartbeat' in job['message']
        wait_for(lambda: not containers_of(job_id), 10, what='the orphaned container removed')
        assert row(cluster, job_id, 'attempts')[0] == 1
    finally:
        worker.start()
    # the surviving queue still works with the restarted worker
    assert server.wait_for(server.submit('countdown', {'steps': 1}))['status'] == 'successful'


def _rabbit_env(key: str) -> str | None:
    out = subprocess.run(['rabbitmqctl', 'eval', f'application:get_env(rabbit, {key}).'],
                         capture_output=True, text=True, timeout=60, check=True).stdout.strip()
    return out[len('{ok,'):-1] if out.startswith('{ok,') else None


def _set_rabbit_env(key: str, value: str | None) -> None:
    expr = (f'application:set_env(rabbit, {key}, {value}).' if value is not None
            else f'application:unset_env(rabbit, {key}).')
    subprocess.run(['rabbitmqctl', 'eval', expr], capture_output=True, timeout=60, check=True)


@pytest.fixture
def short_consumer_timeout():
    """RabbitMQ's consumer_timeout (30 min by default) down to 4 s, checked every second,
    for the channels opened meanwhile; restored afterwards."""
    saved = {key: _rabbit_env(key) for key in ('consumer_timeout', 'channel_tick_interval')}
    _set_rabbit_env('consumer_timeout', '4000')
    _set_rabbit_env('channel_tick_interval', '1000')
    yield
    for key, value in saved.items():
        _set_rabbit_env(key, value)


def test_job_longer_than_the_consumer_timeout(short_consumer_timeout, tmp_path):
    """With late acks a job's message stays unacknowledged while it runs; past RabbitMQ's
    consumer_timeout the broker closes the channel and requeues it. The only worker must
    reconnect (not shut down), the job must end once, and the worker must go on taking jobs."""
    cluster = Cluster(tmp_path / 'cluster', workers=1, concurrency=1,
                      broker_url=AMQP_URL).start()
    try:
        deploy_sleep(cluster.server)
        server, worker = cluster.server, cluster.workers[0]
        job_id = server.submit('sleep', {'seconds': 10})
        job = server.wait_for(job_id, timeout=60)
        assert job['status'] == 'successful', job
        assert 'PRECONDITION_FAILED - delivery acknowledgement' in worker.log()
        wait_for(lambda: f'job {job_id}: job is successful: dropped' in worker.log(), 10,
                 what='the requeued delivery dropped')
        assert row(cluster, job_id, 'attempts')[0] == 1
        assert worker.log().count(f'job {job_id}: job successful') == 1
        assert server.wait_for(server.submit('countdown', {'steps': 1}),
                               timeout=30)['status'] == 'successful'
        assert worker.process.poll() is None
    finally:
        cluster.stop()
        delete_queue(cluster.queue)

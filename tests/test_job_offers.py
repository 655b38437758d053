"""A started job offered straight to the idle worker on call (the local engine): the
worker claims it itself, without the supervisor between the start and the job; the
supervisor keeps one idle worker on call while its queue is empty, calls it off when
queued jobs need it, and a worker that dies on call loses no job. A real supervisor with
forked workers, driven a step at a time."""

import os
import signal
import socket
import time

from pygeoapi_eoorder.jobs import offers, supervisor_control
from tests.conftest import TEST_PROCESSES
from tests.support.cluster import wait_for
from tests.support.supervisor_steps import stepped_supervisor

PROCESSES = {'countdown': TEST_PROCESSES['countdown'],
             'countdown-idempotent': TEST_PROCESSES['countdown-idempotent']}


def _on_call(steps) -> list:
    return [w for w in steps.supervisor.workers if w.on_call]


def test_a_job_offered_on_an_idle_engine_is_taken_by_the_worker_on_call(make_server,
                                                                         monkeypatch):
    monkeypatch.setenv(supervisor_control.ENV_SUPERVISOR, 'external')
    with stepped_supervisor(make_server, 2, PROCESSES) as steps:
        manager, repo, settings = steps.runtime.manager, steps.runtime.repo, \
            steps.runtime.settings
        assert steps.step() == ['fairness']  # the queue is empty: one worker on call
        assert len(_on_call(steps)) == 1

        job = manager.submit('countdown', {'steps': 0})  # offered, and the wake-up
        assert steps.step() == []  # the supervisor neither looks nor claims
        ended = steps.until_final(job['id'])
        assert ended['status'] == 'successful' and ended['attempts'] == 1
        assert ended['provenance']['process']['id'] == 'countdown'
        assert job['id'] in steps.supervisor.taken
        steps.step()
        assert len(_on_call(steps)) == 1  # (again)

        # an offer misstating its job's process: taken, the job's own facts recorded
        hidden = repo.add('countdown', job_type='process', inputs={'steps': 0})
        offers.offer(settings, {**hidden, 'process_id': 'countdown-idempotent'})
        assert steps.until_final(hidden['id'])['status'] == 'successful'
        assert repo.get(hidden['id'])['provenance']['process']['id'] == 'countdown'
        steps.step()

        # an offer naming no queued job: nothing taken, the worker stays on call
        offers.offer(settings, {'id': 'no-such-job', 'process_id': 'countdown'})
        assert 'claim' not in steps.step()  # (no wake-up: a quiet TICK's look at most)
        assert len(_on_call(steps)) == 1
        assert all(w.job_id is None for w in steps.supervisor.workers)

        # a stale offer (sent long ago): not taken; the supervisor's look finds the job
        stale = repo.add('countdown', job_type='process', inputs={'steps': 0})
        message = supervisor_control.wake_up_message(stale, offered=time.time() - 5)
        assert supervisor_control.send_datagram(offers.offer_address(settings), message)
        reads = []
        while repo.get(stale['id'])['status'] == 'accepted':
            reads += steps.step()
        assert reads == ['fairness', 'claim']  # (within a TICK: its safety net)
        assert steps.until_final(stale['id'])['status'] == 'successful'
        assert stale['id'] not in steps.supervisor.taken


def test_the_worker_on_call_is_called_off_when_queued_jobs_need_it(make_server, monkeypatch):
    monkeypatch.setenv(supervisor_control.ENV_SUPERVISOR, 'external')
    with stepped_supervisor(make_server, 1, PROCESSES) as steps:
        manager, repo, settings = steps.runtime.manager, steps.runtime.repo, \
            steps.runtime.settings
        assert steps.step() == ['fairness']
        worker, = _on_call(steps)

        # queued without an offer (a plain wake-up): a look, the worker called off, then
        # the job claimed for it once it said it left
        queued = repo.add('countdown', job_type='process', inputs={'steps': 0})
        supervisor_control.nudge(settings)
        assert steps.step() == ['fairness'] and worker.leaving and not worker.on_call
        assert repo.get(queued['id'])['status'] == 'accepted'
        assert steps.step() == ['fairness', 'claim'] and not worker.leaving
        assert steps.until_final(queued['id'])['status'] == 'successful'
        assert queued['id'] not in steps.supervisor.taken

        # two offered at once: the first taken on call, the second found by a look; in
        # the order they were queued
        first = manager.submit('countdown', {'steps': 0})
        second = manager.submit('countdown', {'steps': 0})
        deadline = time.monotonic() + 30
        while repo.get(second['id'])['status'] != 'successful':
            assert time.monotonic() < deadline
            steps.step()
        ran = [repo.get(first['id']), repo.get(second['id'])]
        assert [job['status'] for job in ran] == ['successful', 'successful']
        assert ran[0]['started'] <= ran[1]['started']


def test_a_worker_on_call_that_dies_having_taken_a_job_ends_it(make_server, monkeypatch):
    """Killed before the supervisor read that it took the job: the job is found by its
    holder and ends as interrupted (failed: it is not idempotent)."""
    monkeypatch.setenv(supervisor_control.ENV_SUPERVISOR, 'external')
    with stepped_supervisor(make_server, 1, PROCESSES) as steps:
        repo = steps.runtime.repo
        assert steps.step() == ['fairness']
        worker, = _on_call(steps)
        job = steps.runtime.manager.submit('countdown', {'steps': 50, 'delay': 0.1})
        assert wait_for(lambda: repo.get(job['id'])['status'] == 'running', timeout=10)
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join(10)
        steps.supervisor.reap_workers()  # (the message saying it took it is never read)
        ended = repo.get(job['id'])
        assert ended['status'] == 'failed', ended
        assert 'its worker process died' in ended['message']
        assert steps.supervisor.workers[0] is not worker


def test_a_job_offered_to_a_worker_that_dies_before_claiming_it_runs_on_another(
        make_server, monkeypatch):
    """The worker on call is stopped, then killed, before it could claim the job offered:
    the job stays queued (nobody holds it), the worker is replaced and a look finds the
    job for the new one."""
    monkeypatch.setenv(supervisor_control.ENV_SUPERVISOR, 'external')
    with stepped_supervisor(make_server, 1, PROCESSES) as steps:
        repo = steps.runtime.repo
        assert steps.step() == ['fairness']
        worker, = _on_call(steps)
        os.kill(worker.process.pid, signal.SIGSTOP)
        job = steps.runtime.manager.submit('countdown', {'steps': 0})
        assert steps.step() == []  # (left to the worker on call)
        os.kill(worker.process.pid, signal.SIGKILL)
        worker.process.join(10)
        steps.supervisor.reap_workers()
        assert steps.supervisor.workers[0] is not worker
        assert repo.get(job['id'])['status'] == 'accepted'  # never claimed
        assert steps.step() == ['fairness', 'claim']
        ended = steps.until_final(job['id'])
        assert ended['status'] == 'successful' and ended['attempts'] == 1


def test_only_a_fresh_well_formed_offer_is_taken(tmp_path):
    sock = supervisor_control.bind_datagram(str(tmp_path / 'offer.sock'))
    head = {'id': 'j1', 'process_id': 'countdown', 'owner': None, 'owner_roles': None}
    try:
        assert offers.take(sock) is None  # nothing offered
        for offered, taken in ((time.time(), True), (time.time() - 5, False),
                               (time.time() + 5, False), ('now', False), (True, False)):
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
                sender.sendto(supervisor_control.wake_up_message(head, offered=offered),
                              str(tmp_path / 'offer.sock'))
            found = offers.take(sock)
            assert (found == {**head, 'offered': offered}) if taken else found is None
        for garbage in (b'!', b'+{not json', b'+{"id": "j1", "process_id": "p"}'):
            with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
                sender.sendto(garbage, str(tmp_path / 'offer.sock'))
            assert offers.take(sock) is None
    finally:
        sock.close()

"""The local supervisor reads the store for a claim only when a job may be queued: a job
announced alone on an idle engine whose queue was empty is claimed without a look, other
jobs after one fairness read, plus one look per quiet TICK, not one for each idle worker at
every event (a job's end, a wake-up); and it does not read how a job was left when its
worker ended it. A real supervisor with forked workers, in this process so that the
statements it runs can be counted on its store's engines."""

import json
import shutil
import statistics
import tempfile
import threading
import time

from sqlalchemy import event, update

from pygeoapi_eoorder.components import Components
from pygeoapi_eoorder.jobs import supervisor_control
from pygeoapi_eoorder.jobs.supervisor import TICK, Supervisor
from pygeoapi_eoorder.store import Job
from tests.conftest import TEST_PROCESSES

JOBS = 20


def test_jobs_announced_on_an_idle_engine_are_claimed_without_a_look(
        make_server, monkeypatch):
    monkeypatch.setenv(supervisor_control.ENV_SUPERVISOR, 'external')  # this one only
    data_dir = tempfile.mkdtemp(prefix='eo-')  # short: its wake-up socket's path fits
    try:
        server = make_server({'jobs': {'workers': 2}, 'data_dir': data_dir},
                             {'countdown': TEST_PROCESSES['countdown']}, start=False)
        reads, elapsed, waits = _run_jobs(Components.for_config(str(server.config)).runtime())
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    assert statistics.median(waits) < TICK / 2, 'jobs were claimed at ticks, not when woken'
    # each job: claimed as announced (never claimed before); each quiet TICK: one look
    # (the safety net)
    assert reads.count('first claim') == JOBS, reads
    allowed = elapsed / TICK + 2
    assert reads.count('fairness') <= allowed, (reads, allowed, elapsed)
    assert reads.count('holder') == 0  # each worker said it ended its job


def _run_jobs(runtime) -> tuple[list[str], float, list[float]]:
    """Run JOBS jobs one after the other under a supervisor; the reads it made meanwhile
    (`fairness`: for a claim, `holder`: how a job was left), the seconds that took, and
    each job's wait for its claim (seconds)."""
    supervisor = Supervisor(runtime)
    assert supervisor.wakeup is not None  # (else it would only poll)
    reads = []

    engines = _count_reads(runtime, reads)
    loop = threading.Thread(target=supervisor.run, daemon=True)
    loop.start()
    try:
        time.sleep(3 * TICK)  # recovery and the first looks
        began, before, ended = time.monotonic(), len(reads), []
        for _ in range(JOBS):
            job = runtime.manager.submit('countdown', {'steps': 0})
            deadline = time.monotonic() + 30
            while (found := runtime.repo.get(job['id']))['status'] != 'successful':
                assert time.monotonic() < deadline, found
                time.sleep(0.005)
            ended.append(found)
        elapsed, reads = time.monotonic() - began, reads[before:]
    finally:
        supervisor.stop_asked.set()
        loop.join(60)
        for engine, count in engines:
            event.remove(engine, 'before_cursor_execute', count)
    assert not loop.is_alive()
    return reads, elapsed, [(job['started'] - job['created']).total_seconds()
                             for job in ended]


def _count_reads(runtime, reads: list[str]) -> list:
    """Note the supervisor's claims and reads in `reads` (by their SQL): `fairness` (a
    look at the queue), `first claim` (of a job never claimed, as announced), `holder`."""
    def count(_conn, _cursor, statement, *_):
        if 'FROM eoorder_job' in statement and 'GROUP BY eoorder_job.owner' in statement:
            reads.append('fairness')
        elif statement.startswith('UPDATE eoorder_job') and \
                'AND eoorder_job.attempts = ' in statement:
            reads.append('first claim')
        elif statement.startswith('SELECT eoorder_job.status, eoorder_job.worker, '
                                  'eoorder_job.files_removed'):
            reads.append('holder')
    engines = [(e, count) for e in {runtime.repo.store.read_engine,
                                    runtime.repo.store.write_engine}]
    for engine, _ in engines:
        event.listen(engine, 'before_cursor_execute', count)
    return engines


class _Steps:
    """A supervisor driven one loop step at a time from the test (its workers forked)."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.supervisor = Supervisor(runtime)
        assert self.supervisor.wakeup is not None
        self.reads: list[str] = []
        self.engines = _count_reads(runtime, self.reads)

    def step(self) -> list[str]:
        """One turn of the loop (events, then claims); the reads it made."""
        before = len(self.reads)
        self.supervisor.wait_for_events()
        self.supervisor.dispatch()
        return self.reads[before:]

    def until_final(self, job_id: str) -> dict:
        deadline = time.monotonic() + 30
        while (job := self.runtime.repo.get(job_id))['status'] not in (
                'successful', 'failed'):
            assert time.monotonic() < deadline, job
            self.supervisor.wait_for_events()
        self.supervisor.wait_for_events()  # (its worker's word that it is done)
        return job

    def close(self) -> None:
        for worker in self.supervisor.workers:
            worker.kill()
        for engine, count in self.engines:
            event.remove(engine, 'before_cursor_execute', count)


def test_a_job_is_claimed_as_announced_only_when_it_is_alone_and_never_claimed(
        make_server, monkeypatch):
    """Two jobs woken for at once, a job announced while every worker is busy, a job
    claimed before (requeued), a head naming no queued job: each found by a look; a head
    misstating its job's process: claimed, and its worker records the job's own."""
    monkeypatch.setenv(supervisor_control.ENV_SUPERVISOR, 'external')
    data_dir = tempfile.mkdtemp(prefix='eo-')
    steps = None
    try:
        server = make_server({'jobs': {'workers': 1}, 'data_dir': data_dir},
                             {'countdown': TEST_PROCESSES['countdown'],
                              'countdown-idempotent': TEST_PROCESSES['countdown-idempotent']},
                             start=False)
        runtime = Components.for_config(str(server.config)).runtime()
        steps = _Steps(runtime)
        manager, repo, settings = runtime.manager, runtime.repo, runtime.settings
        assert steps.step() == ['fairness']  # the first look: nothing queued

        alone = manager.submit('countdown', {'steps': 0})
        assert steps.step() == ['first claim']
        assert steps.until_final(alone['id'])['status'] == 'successful'

        # two at once: the queue is not known to hold one job only
        first = manager.submit('countdown', {'steps': 0})
        second = manager.submit('countdown', {'steps': 0})
        assert steps.step()[0] == 'fairness'
        # the older first (its worker may have ended it already); the other waits
        assert repo.get(first['id'])['status'] in ('running', 'successful')
        assert repo.get(second['id'])['status'] == 'accepted'
        steps.until_final(first['id'])
        steps.step()
        steps.until_final(second['id'])

        # announced while the worker is busy: claimed after a look once it is free
        busy = manager.submit('countdown', {'steps': 10, 'delay': 0.1})
        assert steps.step() == ['first claim']
        waiting = manager.submit('countdown', {'steps': 0})
        assert 'first claim' not in steps.step()
        assert repo.get(waiting['id'])['status'] == 'accepted'
        steps.until_final(busy['id'])
        assert 'fairness' in steps.step()
        steps.until_final(waiting['id'])

        # a job claimed before and requeued: not as announced (it keeps its provenance)
        steps.step()  # (a quiet look: the queue is known empty again)
        again = repo.add('countdown-idempotent', job_type='process', inputs={'steps': 0},
                         idempotent=True)
        with repo.store.write() as session:  # (as a requeue leaves it)
            session.execute(update(Job).where(Job.id == again['id']).values(attempts=1))
        supervisor_control.nudge(settings, again)
        assert steps.step() == ['first claim', 'fairness']  # refused, then a look
        assert steps.until_final(again['id'])['status'] == 'successful'

        # a head naming no queued job: a look
        steps.step()
        supervisor_control.nudge(settings, {'id': 'no-such-job', 'process_id': 'countdown'})
        assert steps.step() == ['first claim', 'fairness']

        # a head misstating the job's process: the worker records the job's own
        steps.step()
        hidden = repo.add('countdown', job_type='process', inputs={'steps': 0})
        supervisor_control.nudge(settings, {**hidden, 'process_id': 'countdown-idempotent'})
        assert steps.step() == ['first claim']
        ended = steps.until_final(hidden['id'])
        assert ended['status'] == 'successful'
        assert repo.get(hidden['id'])['provenance']['process']['id'] == 'countdown'
    finally:
        if steps is not None:
            steps.close()
        shutil.rmtree(data_dir, ignore_errors=True)


def test_a_supervisor_whose_socket_path_is_too_long_is_woken_all_the_same(
        make_server, monkeypatch, tmp_path):
    """A data directory so deep that the wake-up socket's path does not fit a socket: the
    supervisor hears wake-ups on an abstract socket instead (it used to poll only)."""
    monkeypatch.setenv(supervisor_control.ENV_SUPERVISOR, 'external')
    server = make_server({'jobs': {'workers': 1}, 'data_dir': str(tmp_path / ('d' * 100))},
                         {'countdown': TEST_PROCESSES['countdown']}, start=False)
    runtime = Components.for_config(str(server.config)).runtime()
    path = supervisor_control.socket_path(runtime.settings)
    assert len(str(path).encode()) > supervisor_control.MAX_SOCKET_PATH
    steps = _Steps(runtime)  # (it has a wake-up socket)
    try:
        assert steps.step() == ['fairness']
        job = runtime.manager.submit('countdown', {'steps': 0})
        assert steps.step() == ['first claim']  # woken: not a look a TICK later
        assert steps.until_final(job['id'])['status'] == 'successful'
        assert not path.exists()
    finally:
        steps.close()


def test_only_one_well_formed_wake_up_naming_a_job_announces_it():
    """A head is taken from exactly one `+` wake-up holding a JSON object with a string
    id and process; anything else (garbage, another JSON, several wake-ups, a plain
    `!`) is a plain wake-up; a head too large for one wake-up is sent as `!`."""
    head = {'id': 'j1', 'process_id': 'countdown', 'owner': 'alice', 'owner_roles': ['a']}
    message = supervisor_control._wake_up_message({**head, 'inputs': {'big': 'x' * 9000}})
    assert message == b'+' + json.dumps(head).encode()  # (only the head's fields)
    assert supervisor_control.announced_head([message]) == head
    for messages in ([b'!'], [], [message, message], [message, b'!'], [b'+{not json'],
                     [b'+[1, 2]'], [b'+"j1"'], [b'+{"id": 1, "process_id": "p"}'],
                     [b'+{"id": "j1"}'], [b'+\xff\xfe']):
        assert supervisor_control.announced_head(messages) is None, messages
    assert supervisor_control._wake_up_message(None) == b'!'
    too_large = {**head, 'owner_roles': ['r' * 100] * 50}  # over MAX_WAKE_UP bytes
    assert supervisor_control._wake_up_message(too_large) == b'!'
    assert supervisor_control._wake_up_message({**head, 'owner': object()}) == b'!'

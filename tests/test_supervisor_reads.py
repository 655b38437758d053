"""The local supervisor reads the store for a claim only when a job may be queued: one
fairness read per job announced, plus one look per quiet TICK, not one for each idle
worker at every event (a job's end, a wake-up); and it does not read how a job was left
when its worker ended it. A real supervisor with forked workers, in this process so that
the statements it runs can be counted on its store's engines."""

import shutil
import statistics
import tempfile
import threading
import time

from sqlalchemy import event

from pygeoapi_eoorder.components import Components
from pygeoapi_eoorder.jobs import supervisor_control
from pygeoapi_eoorder.jobs.supervisor import TICK, Supervisor
from tests.conftest import TEST_PROCESSES

JOBS = 20


def test_one_fairness_read_per_job_and_per_quiet_tick_and_no_read_after_a_job(
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
    # each job: the read that claims it; each quiet TICK: one look (the safety net)
    allowed = JOBS + elapsed / TICK + 2
    assert JOBS <= reads.count('fairness') <= allowed, (reads, allowed, elapsed)
    assert reads.count('holder') == 0  # each worker said it ended its job


def _run_jobs(runtime) -> tuple[list[str], float, list[float]]:
    """Run JOBS jobs one after the other under a supervisor; the reads it made meanwhile
    (`fairness`: for a claim, `holder`: how a job was left), the seconds that took, and
    each job's wait for its claim (seconds)."""
    supervisor = Supervisor(runtime)
    assert supervisor.wakeup is not None  # (else it would only poll)
    reads = []

    def count(_conn, _cursor, statement, *_):
        if 'FROM eoorder_job' in statement and 'GROUP BY eoorder_job.owner' in statement:
            reads.append('fairness')
        elif statement.startswith('SELECT eoorder_job.status, eoorder_job.worker, '
                                  'eoorder_job.files_removed'):
            reads.append('holder')
    engines = {runtime.repo.store.read_engine, runtime.repo.store.write_engine}
    for engine in engines:
        event.listen(engine, 'before_cursor_execute', count)
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
        for engine in engines:
            event.remove(engine, 'before_cursor_execute', count)
    assert not loop.is_alive()
    return reads, elapsed, [(job['started'] - job['created']).total_seconds()
                             for job in ended]

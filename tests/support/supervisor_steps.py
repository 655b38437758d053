"""A real local supervisor driven from a test, one loop step at a time (its workers
forked), with its store's statements noted by kind."""

import shutil
import tempfile
import time
from contextlib import contextmanager

from sqlalchemy import event

from pygeoapi_eoorder.components import Components
from pygeoapi_eoorder.jobs.supervisor import Supervisor


def count_reads(runtime, reads: list[str]) -> list:
    """Note the supervisor's claims and reads in `reads` (by their SQL): `fairness` (a
    look at the queue), `first claim` (of a job never claimed, as announced), `claim` (of
    a job a look found), `holder`."""
    def count(_conn, _cursor, statement, *_):
        if 'FROM eoorder_job' in statement and 'GROUP BY eoorder_job.owner' in statement:
            reads.append('fairness')
        elif statement.startswith('UPDATE eoorder_job') and \
                'AND eoorder_job.attempts = ' in statement:
            reads.append('first claim')
        elif statement.startswith('UPDATE eoorder_job SET status=') and \
                'eoorder_job.status = ' in statement and 'worker=' in statement:
            reads.append('claim')
        elif statement.startswith('SELECT eoorder_job.status, eoorder_job.worker, '
                                  'eoorder_job.files_removed'):
            reads.append('holder')
    engines = [(e, count) for e in {runtime.repo.store.read_engine,
                                    runtime.repo.store.write_engine}]
    for engine, _ in engines:
        event.listen(engine, 'before_cursor_execute', count)
    return engines


class Steps:
    """A supervisor driven one loop step at a time from the test (its workers forked)."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.supervisor = Supervisor(runtime)
        assert self.supervisor.wakeup is not None
        self.reads: list[str] = []
        self.engines = count_reads(runtime, self.reads)

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



@contextmanager
def stepped_supervisor(make_server, workers: int, processes: dict):
    """A `Steps` supervisor of a server configured with `workers` and `processes` (not
    started), in a short data directory (its sockets' paths fit)."""
    data_dir = tempfile.mkdtemp(prefix='eo-')
    steps = None
    try:
        server = make_server({'jobs': {'workers': workers}, 'data_dir': data_dir}, processes,
                             start=False)
        steps = Steps(Components.for_config(str(server.config)).runtime())
        yield steps
    finally:
        if steps is not None:
            steps.close()
        shutil.rmtree(data_dir, ignore_errors=True)

"""The local job engine: one supervisor per data directory and its worker processes.

The supervisor claims queued jobs from the store and hands each to an idle worker
process. It stops the work of dismissed jobs (by killing the worker's process group and
starting a new worker), recovers jobs that a crash left running, and removes the files
of jobs older than the retention period.

Run as `python -m pygeoapi_eoorder.jobs.supervisor CONFIG`.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import sys
import time
from datetime import timedelta
from multiprocessing.connection import wait as wait_for
from pathlib import Path

from ..config import ConfigError
from ..store import utcnow
from . import callbacks, control, sweeps
from .repository import ACCEPTED, DISMISSED, FAILED
from .runtime import Runtime
from .status import status_info
from .worker import JOB_FAILED, worker_main

LOGGER = logging.getLogger('eoorder.supervisor')
TICK = 0.25
SWEEP_EVERY = 30.0


class WorkerHandle:
    """A worker process and the job it is running, if any."""

    def __init__(self, runtime: Runtime, index: int):
        ctx = multiprocessing.get_context('fork')
        self.conn, child_conn = ctx.Pipe()
        self.process = ctx.Process(target=worker_main, args=(runtime, child_conn),
                                   name=f'eoorder-worker-{index}', daemon=True)
        self.process.start()
        child_conn.close()
        self.job_id: str | None = None

    @property
    def tag(self) -> str:
        return f'{socket.gethostname()}:{self.process.pid}'

    def kill(self) -> None:
        """Kill the worker and everything it started (its own process group)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.join(5)
        self.conn.close()


class Supervisor:
    def __init__(self, runtime: Runtime):
        self.runtime = runtime
        self.settings = runtime.settings
        self.repo = runtime.repo
        self.workers = [WorkerHandle(runtime, i) for i in range(self.settings.jobs.workers)]
        self.wakeup = self._bind_wakeup_socket()
        self.last_sweep = 0.0
        self.sweep_every = min(SWEEP_EVERY, max(0.5, self.settings.jobs.retention_seconds / 2))
        self.running = True

    def _bind_wakeup_socket(self) -> socket.socket | None:
        path = control.socket_path(self.settings)
        path.unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(str(path))
        except OSError as err:  # e.g. a path too long for a socket: poll only
            LOGGER.warning('no wake-up socket at %s (%s); polling every %ss', path, err, TICK)
            sock.close()
            return None
        sock.setblocking(False)
        return sock

    # -- recovery ----------------------------------------------------------------
    def recover(self, reason: str) -> None:
        """Requeue or fail jobs that were running when the previous engine stopped."""
        for job in self.repo.interrupted():
            self.stop_containers(job['id'])
            self.end_interrupted(job, reason)

    def end_interrupted(self, job: dict, reason: str) -> None:
        if job['idempotent'] and job['attempts'] < self.settings.jobs.max_attempts:
            if self.repo.transition(job['id'], ACCEPTED, worker=None, progress=0,
                                    message=f'Requeued: {reason}'):
                LOGGER.info('job %s requeued: %s', job['id'], reason)
                return
        detail = f'Job interrupted: {reason}'
        error = {'type': JOB_FAILED, 'title': 'Job interrupted', 'status': 500, 'detail': detail}
        if self.repo.finish(job['id'], FAILED, message=detail, error=error):
            LOGGER.warning('job %s failed: %s', job['id'], reason)
            subscriber = job.get('subscriber') or {}
            callbacks.send(subscriber.get('failedUri'),
                           status_info(self.repo.get(job['id']), job.get('base_url')
                                       or self.runtime.config['server'].get('url', '')),
                           timeout=self.settings.jobs.callback_timeout_seconds,
                           allow_internal=self._allows_internal(job['process_id']),
                           logger=LOGGER, egress_block=self.settings.block.get('egress'))

    def _allows_internal(self, process_id: str) -> bool:
        conf = self.runtime.manager.processes.get(process_id) or {}
        return bool(conf.get('allow_internal_requests'))

    # -- the loop -----------------------------------------------------------------
    def run(self) -> None:
        self.recover('the job engine stopped while it ran (server crash or restart)')
        self.run_sweepers()
        while self.running:
            self.wait_for_events()
            self.reap_workers()
            self.stop_dismissed()
            self.dispatch()
            if time.monotonic() - self.last_sweep > self.sweep_every:
                self.sweep_retention()
        self.drain()

    def drain(self) -> None:
        """Asked to stop: let running jobs finish within the grace period, then end them."""
        deadline = time.monotonic() + self.settings.jobs.shutdown_grace_seconds
        while any(w.job_id for w in self.workers) and time.monotonic() < deadline:
            self.wait_for_events()
            self.reap_workers()
            self.stop_dismissed()
        for worker in self.workers:
            job_id = worker.job_id
            worker.kill()
            if job_id:
                self.stop_containers(job_id)
                self.release(worker, job_id)
                job = self.repo.get(job_id)
                if job and job['status'] == 'running':
                    self.end_interrupted(job, 'the server was stopped while it ran')

    def wait_for_events(self) -> None:
        sources = [w.conn for w in self.workers] + [w.process.sentinel for w in self.workers]
        if self.wakeup is not None:
            sources.append(self.wakeup)
        for ready in wait_for(sources, timeout=TICK):
            if ready is self.wakeup:
                self._drain_wakeups()
        for worker in self.workers:
            while worker.job_id and not worker.conn.closed and worker.conn.poll():
                try:
                    _, job_id = worker.conn.recv()
                except (EOFError, OSError):
                    break
                self.release(worker, job_id)

    def _drain_wakeups(self) -> None:
        try:
            while self.wakeup.recv(64):
                pass
        except BlockingIOError:
            pass

    def release(self, worker: WorkerHandle, job_id: str) -> None:
        """A job left its worker; clean up after it if it was dismissed meanwhile."""
        worker.job_id = None
        state = self.repo.release(job_id)
        if state and state['status'] == DISMISSED and not state['files_removed']:
            self.runtime.manager.remove_files(job_id)

    def replace(self, worker: WorkerHandle) -> None:
        index = self.workers.index(worker)
        self.workers[index] = WorkerHandle(self.runtime, index)

    def reap_workers(self) -> None:
        """Replace workers that died; their job failed (or is requeued if idempotent)."""
        for worker in list(self.workers):
            if worker.process.is_alive() or not self.running and not worker.job_id:
                continue
            code = worker.process.exitcode
            job_id = worker.job_id
            worker.kill()
            self.replace(worker)
            if job_id:
                self.stop_containers(job_id)
                self.release(worker, job_id)
                job = self.repo.get(job_id)
                if job and job['status'] == 'running':
                    how = f'signal {-code}' if code and code < 0 else f'exit code {code}'
                    self.end_interrupted(job, f'its worker process died ({how})')

    def stop_dismissed(self) -> None:
        busy = {w.job_id: w for w in self.workers if w.job_id}
        for job_id, status in self.repo.status_of(busy).items():
            if status == DISMISSED:
                worker = busy[job_id]
                LOGGER.info('job %s dismissed: stopping worker %s', job_id, worker.process.pid)
                worker.kill()
                self.stop_containers(job_id)
                self.replace(worker)
                self.release(worker, job_id)

    def stop_containers(self, job_id: str) -> None:
        from ..execution.app_runner import stop_job
        killed = stop_job(self.settings, job_id)
        if killed:
            LOGGER.info('job %s: %s container(s) stopped', job_id, killed)

    def dispatch(self) -> None:
        for worker in self.workers:
            if worker.job_id is not None or not worker.process.is_alive():
                continue
            job = self.repo.claim(worker.tag)
            if job is None:
                return
            worker.job_id = job['id']
            worker.conn.send(job)

    def run_sweepers(self) -> None:
        sweeps.run(self.runtime.manager, self.settings)

    def sweep_retention(self) -> None:
        self.last_sweep = time.monotonic()
        self.run_sweepers()
        before = utcnow() - timedelta(seconds=self.settings.jobs.retention_seconds)
        for job_id in self.repo.expired(before):
            self.runtime.manager.remove_files(job_id)
            LOGGER.info('job %s: files removed after the retention period', job_id)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print('usage: python -m pygeoapi_eoorder.jobs.supervisor CONFIG', file=sys.stderr)
        return 2
    try:
        runtime = Runtime.load(args[0])
    except ConfigError as err:
        print(f'eoorder supervisor: {err}', file=sys.stderr)
        return 2
    settings = runtime.settings
    lock = control.take_lock(control.lock_path(settings))
    if lock is None:
        return 0  # another supervisor serves this data directory
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: '
                                                   '%(message)s')
    supervisor = Supervisor(runtime)

    def stop(*_):
        control.stopping_path(settings).touch()
        supervisor.running = False

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    control.stopping_path(settings).unlink(missing_ok=True)
    os.ftruncate(lock, 0)
    os.write(lock, f'{os.getpid()}\n'.encode())
    LOGGER.info('supervisor %s: %s workers, store %s', os.getpid(),
                len(supervisor.workers), settings.store_url)
    supervisor.run()
    Path(control.socket_path(settings)).unlink(missing_ok=True)
    return 0


if __name__ == '__main__':
    sys.exit(main())

"""The local job engine: one supervisor per data directory and its worker processes.

The supervisor claims queued jobs from the store and hands each to an idle worker
process. It stops the work of dismissed jobs (by killing the worker's process group and
starting a new worker), recovers jobs that a crash left running, and removes the files
of jobs older than the retention period; what each of those does to a job is the engine
core's (`engine.py`), shared with the Celery workers.

Started by `supervisor_control.spawn_supervisor` as `python -m pygeoapi_eoorder.supervise
CONFIG` (the entry point builds the component registry, then calls `serve`).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from multiprocessing.connection import wait as wait_for
from pathlib import Path
from typing import Sequence

from . import supervisor_control as control
from .config_watch import CodeWatch, ConfigWatch, FileWatch
from .next_job_dir import remove_prepared
from .provenance import claim_facts
from .quotas import QuotaPolicy
from .repository import DISMISSED, RUNNING
from .runtime import Runtime
from .scheduling import FairScheduler
from .worker import worker_main

LOGGER = logging.getLogger('eoorder.supervisor')
TICK = 0.25
SWEEP_EVERY = 30.0


class WorkerHandle:
    """A worker process and the job it is running, if any."""

    def __init__(self, runtime: Runtime, index: int):
        ctx = multiprocessing.get_context('fork')
        self.conn, child_conn = ctx.Pipe()
        self.process = ctx.Process(target=worker_main,
                                   args=(runtime, child_conn, os.getpid()),
                                   name=f'eoorder-worker-{index}', daemon=True)
        self.jobs_dir = runtime.settings.jobs_dir
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
        remove_prepared(self.jobs_dir, self.process.pid)  # (its next job's directory)


class Supervisor:
    def __init__(self, runtime: Runtime, stop_asked: threading.Event | None = None,
                 watches: Sequence[FileWatch] = ()):
        """`stop_asked`: set to stop (it may be set before the workers are forked);
        `watches`: stop when one of those files changed (its configuration, the installed
        package: `restart_asked` is then set)."""
        self.stop_asked = stop_asked or threading.Event()
        self.watches = tuple(watches)
        self.restart_asked = False
        self.runtime = runtime
        self.settings = runtime.settings
        self.repo = runtime.repo
        self.engine = runtime.engine
        remove_prepared(self.settings.jobs_dir)  # (those a crash left)
        self.workers = [WorkerHandle(runtime, i) for i in range(self.settings.jobs.workers)]
        self.scheduler = FairScheduler(self.repo, QuotaPolicy.from_settings(self.settings))
        self.wakeup = self._bind_wakeup_socket()
        # whether a job may be queued: no store read for a claim until something was
        # announced (wake-up), requeued here, or a TICK passed since the last look
        self.may_be_queued, self.last_look = True, 0.0
        # whether the last look left no job queued and none was queued since but the one
        # a wake-up names (`announced`): that one is then claimed without a look
        self.queue_empty, self.announced = False, None
        self.last_sweep = 0.0
        shortest = min(self.settings.jobs.retention_seconds, self.settings.jobs.created_lifetime)
        self.sweep_every = min(SWEEP_EVERY, max(0.5, shortest / 2))

    @property
    def running(self) -> bool:
        return not self.stop_asked.is_set()

    def _bind_wakeup_socket(self) -> socket.socket | None:
        address = control.wake_up_address(self.settings)
        if not control.is_abstract(address):
            Path(address).parent.mkdir(parents=True, exist_ok=True)
            Path(address).unlink(missing_ok=True)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            sock.bind(address)
        except OSError as err:  # e.g. its abstract name taken: poll only
            LOGGER.warning('no wake-up socket at %r (%s); polling every %ss', address, err,
                           TICK)
            sock.close()
            return None
        sock.setblocking(False)
        return sock

    # -- recovery (the engine core decides requeue or failure) -------------------------
    def recover(self, reason: str) -> None:
        """Requeue or fail jobs that were running when the previous engine stopped."""
        self.engine.recover_interrupted(reason, self.runtime.base_url)
        self.may_be_queued, self.queue_empty = True, False

    def end_interrupted(self, job: dict, reason: str) -> None:
        self.engine.end_interrupted(job, reason, base_url=self.runtime.base_url)
        self.may_be_queued, self.queue_empty = True, False  # (requeued if idempotent)

    # -- the loop -----------------------------------------------------------------
    def run(self) -> None:
        self.recover('the job engine stopped while it ran (server crash or restart)')
        self.runtime.run_sweepers()
        while self.running:
            self.wait_for_events()
            self.reap_workers()
            self.stop_dismissed()
            changed = [watch for watch in self.watches if watch.changed()]  # (each asked)
            if changed:
                LOGGER.info('%s changed: restarting with it (running jobs have the shutdown '
                            'grace period to end)', changed[0].what)
                self.restart_asked = True
                self.stop_asked.set()
                break
            if not any(watch.differs for watch in self.watches):  # (else: until it is known)
                self.dispatch()
            if time.monotonic() - self.last_sweep > self.sweep_every:
                self.sweep_retention()
        self.drain('the job engine restarted with a changed configuration or package while '
                   'it ran' if self.restart_asked else 'the server was stopped while it ran')

    def drain(self, reason: str) -> None:
        """Asked to stop: let running jobs finish within the grace period, then end them
        (failed, or requeued if idempotent) for `reason`."""
        deadline = time.monotonic() + self.settings.jobs.shutdown_grace_seconds
        while any(w.job_id for w in self.workers) and time.monotonic() < deadline:
            self.wait_for_events()
            self.reap_workers()
            self.stop_dismissed()
        for worker in self.workers:
            job_id = worker.job_id
            worker.kill()
            if job_id:
                self.engine.stop_containers(job_id)
                self.release(worker, job_id)
                job = self.repo.get(job_id)
                if job and job['status'] == RUNNING:
                    self.end_interrupted(job, reason)

    def wait_for_events(self) -> None:
        sources = [w.conn for w in self.workers] + [w.process.sentinel for w in self.workers]
        if self.wakeup is not None:
            sources.append(self.wakeup)
        for ready in wait_for(sources, timeout=TICK):
            if ready is self.wakeup:
                head = control.announced_head(self._drain_wakeups())
                if head is None or self.announced is not None:  # (not one job alone)
                    self.queue_empty = False
                self.announced, self.may_be_queued = head, True
        for worker in self.workers:
            while worker.job_id and not worker.conn.closed and worker.conn.poll():
                try:
                    _, job_id, ended = worker.conn.recv()
                except (EOFError, OSError):
                    break
                self.release(worker, job_id, known_ended=ended)

    def _drain_wakeups(self) -> list[bytes]:
        """The wake-ups received (each `!`, or `+` and a job's head)."""
        messages = []
        try:
            while True:
                messages.append(self.wakeup.recv(control.MAX_WAKE_UP))
        except BlockingIOError:
            pass
        return messages

    def release(self, worker: WorkerHandle, job_id: str, known_ended: bool = False) -> None:
        """A job left its worker; clean up after it if it was dismissed meanwhile.
        `known_ended`: its worker moved it to a final status (and let go of it there):
        nothing to read or clean up."""
        worker.job_id = None
        if not known_ended:
            self.engine.release(job_id)

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
                self.engine.stop_containers(job_id)
                self.release(worker, job_id)
                job = self.repo.get(job_id)
                if job and job['status'] == RUNNING:
                    how = f'signal {-code}' if code and code < 0 else f'exit code {code}'
                    self.end_interrupted(job, f'its worker process died ({how})')

    def stop_dismissed(self) -> None:
        busy = {w.job_id: w for w in self.workers if w.job_id}
        for job_id, status in self.repo.status_of(busy).items():
            if status == DISMISSED:
                worker = busy[job_id]
                LOGGER.info('job %s dismissed: stopping worker %s', job_id, worker.process.pid)
                worker.kill()
                self.engine.stop_containers(job_id)
                self.replace(worker)
                self.release(worker, job_id)

    def dispatch(self) -> None:
        """Claim a job for each idle worker while any is queued; the store is read only
        if one may be (see `may_be_queued`), else once a TICK."""
        if self.announced is not None and self.claim_announced():
            return
        if not self.may_be_queued and time.monotonic() - self.last_look < TICK:
            return
        for worker in self.workers:
            if worker.job_id is not None or not worker.process.is_alive():
                continue
            self.last_look = time.monotonic()
            job = self.scheduler.next_job(  # fair across users (scheduling.py)
                worker.tag, provenance=self.claim_provenance)
            # queued jobs that may not start yet (a user's running-jobs limit) are looked
            # at again after every event, as a job's end may let one start
            self.may_be_queued = self.scheduler.queued_left != 0
            self.queue_empty = not self.may_be_queued
            if job is not None:
                self.hand(worker, job)
            if job is None or not self.may_be_queued:
                return

    def hand(self, worker: WorkerHandle, job: dict) -> None:
        worker.job_id = job['id']
        worker.conn.send(job)

    def claim_announced(self) -> bool:
        """Claim the job the last wake-up named, without a look at the queue, when the
        queue held nothing else: the last look left it empty and nothing but this job
        was queued since (a job queued with no wake-up at all, e.g. with no socket, is
        found by the next look, within a TICK). Not with running-jobs limits (the owner's
        count needs that look). The claim records the process facts of the head the
        wake-up gave; its worker records them again if they differ from the job's own
        (`run_job`): a wrong head cannot misstate a job. True if claimed."""
        head, self.announced = self.announced, None
        idle = [w for w in self.workers if w.job_id is None and w.process.is_alive()]
        if not (self.queue_empty and idle) or self.scheduler.policy.limits_running:
            self.queue_empty = False  # (it is queued: the look finds it)
            return False
        facts = self.claim_provenance({**head, 'provenance': None})
        job = None if facts is None else self.repo.claim_id(head['id'], idle[0].tag, facts,
                                                            first=True)
        if job is None:  # claimed meanwhile, claimed before (a requeued job), not queued
            self.queue_empty = False
            return False
        self.may_be_queued = False
        self.hand(idle[0], job)
        return True

    def claim_provenance(self, job: dict) -> dict | None:
        """What the claim of `job` records of the process it runs; None if that cannot be
        told now (the worker then records it, and a failure there is the job's)."""
        try:
            return claim_facts(self.runtime.manager, job)
        except Exception:  # e.g. the store busy: never lose the supervisor over it
            LOGGER.exception('job %s: its process facts are left to its worker', job['id'])
            return None

    def sweep_retention(self) -> None:
        self.last_sweep = time.monotonic()
        self.runtime.run_sweepers()
        self.engine.apply_retention()


def serve(runtime: Runtime) -> int:
    """Supervise the jobs of `runtime`'s data directory until stopped (SIGTERM, SIGINT);
    return at once if another supervisor serves it."""
    settings = runtime.settings
    lock = control.take_lock(control.lock_path(settings), patience=1.0)  # past probes
    if lock is None:
        return 0  # another supervisor serves this data directory
    logging.basicConfig(level=logging.INFO, format='%(asctime)s %(levelname)s %(name)s: '
                                                   '%(message)s')
    control.stopping_path(settings).unlink(missing_ok=True)
    # the handlers come first, the supervisor (which forks the workers) after: a stop
    # asked while they are forked holds
    me, stop_asked = os.getpid(), threading.Event()

    def stop(*_):
        if os.getpid() != me:  # a worker not yet past its own handlers
            return
        control.stopping_path(settings).touch()
        stop_asked.set()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    os.ftruncate(lock, 0)
    os.write(lock, f'{me}\n'.encode())
    # one that `eoorder serve` keeps is restarted by it; one a web server started
    # restarts itself when its configuration or the installed package changes (see
    # `config_watch`)
    watches = () if control.supervised_externally() else (
        ConfigWatch(settings.config_path), CodeWatch())
    supervisor = Supervisor(runtime, stop_asked, watches)
    LOGGER.info('supervisor %s: %s workers, store %s', os.getpid(),
                len(supervisor.workers), settings.store_url)
    supervisor.run()
    Path(control.socket_path(settings)).unlink(missing_ok=True)  # (if it was a file)
    if supervisor.restart_asked:  # the same process, the new configuration (the lock
        # and the socket are not inherited: the new program takes them again)
        command = control.supervise_command(settings)
        os.execv(command[0], command)
    return 0

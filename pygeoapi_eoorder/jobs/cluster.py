"""The cluster engine (`jobs.engine: celery`): jobs published to a Celery broker and run by
`eoorder worker` processes on any number of machines, against the shared SQL store.

The store stays the single source of truth; the broker only carries "job <id> is ready"
messages. What each piece guarantees:

- **Commit, then publish.** `Manager.submit` commits the row, publishes the job id, then
  stamps `queued`. A job whose publication failed (broker down, server killed in between)
  stays `accepted` with no `queued`; the workers' sweep publishes it.
- **Late acknowledgement.** Tasks are acknowledged after they return (`acks_late`) and a
  pool process that dies mid-task has its message requeued (`reject_on_worker_lost`); a
  worker machine that disappears leaves its messages unacknowledged, and the broker
  redelivers them (Redis: after `visibility_timeout`; RabbitMQ: as soon as the worker's
  connection closes, or when a delivery outlives its `consumer_timeout`, after which the
  worker reconnects: `broker_channel_error_retry`). A redelivery meets the job's lease.
- **One run per job.** A delivered task claims *its* job by compare-and-set
  (accepted → running, through the transition table), stamping its identity in `worker`
  and a `heartbeat` it renews every `lease_seconds / 3`. A duplicate delivery finds the job
  running with a fresh lease and drops the message; one that finds the lease expired knows
  the previous holder died and recovers the job (requeue if idempotent and attempts remain,
  else failed with the reason) - again by compare-and-set on "lease still expired", so two
  recoverers cannot both win.
- **Dismissal reaches the worker.** The task runs the job in a forked child (its own process
  group) and watches the job row every 200 ms (one autocommit query on a connection it
  holds for the job; it wakes at once when the child exits, through a pidfd): when the row
  turns `dismissed` (`DELETE /jobs/{id}` on any server) it kills the child's process group
  and the job's containers.
  We chose this over `revoke(terminate=True)`: revoke needs the Celery task id and remote
  control, is forgotten when a worker restarts, signals the *pool process* (whose death
  would requeue the message through `reject_on_worker_lost`), and does not reach Docker
  containers, which are not its children.
- **Lost workers.** Each `eoorder worker` runs a sweep thread every
  `sweep_interval_seconds`: running jobs whose lease expired are recovered, unpublished
  jobs are published, files past the retention period are removed.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import socket
import threading
import time
from datetime import timedelta
from typing import Callable

from sqlalchemy import select as sql_select

from ..config import Settings
from ..store import Job, Store, adopt_after_fork, utcnow
from . import memory_limit, supervisor_control
from .celery_app import TASK, celery_app, publish
from .engine import REQUEUED
from .quotas import QuotaPolicy
from .repository import ACCEPTED, DISMISSED, FINAL, RUNNING
from .runtime import Runtime, start_warm_up
from .scheduling import FairScheduler
from .worker import job_process_logging, run_job

__all__ = ['TASK', 'celery_app', 'publish', 'run_task', 'sweep', 'worker_main']
LOGGER = logging.getLogger('eoorder.cluster')
WATCH_EVERY = 0.2          # how often a running task looks at its job's status
PUBLISH_GRACE = 10.0       # an accepted job without `queued` this old was never published
DEFER_SECONDS = 1.0        # a job whose owner is at their running limit is looked at again
COMPONENT_SWEEP_EVERY = 30.0  # as often as the local supervisor runs them
_LAST_COMPONENT_SWEEP = [float('-inf')]


# -- the task side (in a Celery pool process) -------------------------------------------
_RUNTIME: dict[int, Runtime] = {}
_LOADER: list[Callable[[str], Runtime]] = []  # set by `worker_main`: the registry's loader
_WARMING: list = []  # this pool process's warm-up thread (`Runtime.warm_up_hooks`)


def runtime_for(config_path: str) -> Runtime:
    """The Runtime of this process (one per pid: pool processes never share connections)."""
    pid = os.getpid()
    if pid not in _RUNTIME:
        _RUNTIME.clear()
        _RUNTIME[pid] = _LOADER[0](config_path)
    return _RUNTIME[pid]


def prepare_for_jobs(runtime: Runtime) -> None:
    """Prepare now what every job needs, before the pool processes (and from them each job's
    child) are forked: a child that imported the Docker SDK and the processors itself spent
    more CPU on that than on the rest of a short container job."""
    platforms = {r.platform or r.kind: r for r in runtime.services.runners.values()}
    for runner in platforms.values():
        runner.prepare()
    for process_id in runtime.manager.processes:
        try:
            runtime.manager.get_processor(process_id)
        except Exception as err:  # reported again, to its job, when one runs
            LOGGER.debug('process %s: processor not loaded: %s', process_id, err)


def identity() -> str:
    return f'{socket.gethostname()}:{os.getpid()}'


def run_task(runtime, job_id: str) -> str:
    """Claim job `job_id` for this process and run it; say what happened (for the log)."""
    for thread in _WARMING:  # never fork in the middle of an import: the child would
        thread.join()        # inherit its locks; the job's child then inherits the modules.
        # Waited for before the claim: a claimed job's lease is renewed only once it runs
    repo = runtime.repo
    me = identity()
    job, deferred = fair_turn(runtime, job_id, me)
    if deferred:
        return deferred
    if job is None:  # not queued (any more): a duplicate delivery, or its holder was lost
        job = repo.claim_id(job_id, me)
    if job is None:
        state = repo.get(job_id)
        if state is None:
            return 'unknown job: dropped'
        if state['status'] != RUNNING:
            return f"job is {state['status']}: dropped (duplicate delivery)"
        lease = timedelta(seconds=runtime.settings.jobs.lease_seconds)
        stale_before = utcnow() - lease
        if (state['heartbeat'] or state['started'] or state['updated']) >= stale_before:
            return f"job runs on {state['worker']}: dropped (duplicate delivery)"
        outcome = runtime.engine.end_interrupted(
            state, runtime.engine.lost_reason(state), base_url=runtime.base_url,
            where=(repo.lease_expired(stale_before),))
        if outcome != REQUEUED:
            return f'previous holder lost: {outcome or "recovered elsewhere"}'
        job = repo.claim_id(job_id, me)
        if job is None:
            return 'requeued and taken by another worker'
    outcome = execute(runtime, job, me)
    if job['id'] != job_id:  # a fairer job ran in this message's turn
        LOGGER.info('job %s: %s (in the turn of job %s)', job['id'], outcome, job_id)
        return f"its turn went to job {job['id']} (fair scheduling); published again"
    return outcome


def fair_turn(runtime, job_id: str, me: str) -> tuple[dict | None, str | None]:
    """A delivered message is a turn: claim the job the fair scheduler picks (the user
    with the fewest running jobs, within their `quotas.running_jobs`); when that user owns
    the delivered job, it is the one claimed (by `run_task`). Otherwise the delivered job,
    if still queued and not picked, is published again (later if nothing may start now,
    e.g. its owner is at their limit). Returns (claimed job, why nothing was claimed)."""
    delivered = runtime.repo.get(job_id)
    if delivered is None or delivered['status'] != ACCEPTED:
        return None, None
    scheduler = FairScheduler(runtime.repo, QuotaPolicy.from_settings(runtime.settings))
    fairest = next(scheduler.candidates(), None)
    if fairest is not None and fairest[0] == delivered['owner']:
        return None, None  # its owner's turn: the delivered job itself (one user's jobs
        # start in the broker's order)
    job = scheduler.next_job(me)
    if job is not None and job['id'] == job_id:
        return job, None
    if runtime.repo.status_of([job_id]).get(job_id) != ACCEPTED:
        return job, None  # taken meanwhile by another worker
    if publish(runtime.settings, job_id, countdown=None if job else DEFER_SECONDS):
        runtime.repo.mark_queued(job_id)
    return job, None if job else 'deferred: every user with queued jobs is at their limit'


def _child(runtime, job: dict) -> None:
    """The forked job process: its own process group, dies with the task process."""
    import sys

    code = 0
    try:
        os.setpgid(0, 0)
        supervisor_control.die_with_parent()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        job_process_logging()
        adopt_after_fork(runtime.manager.store)
        run_job(runtime, job)
    except BaseException:  # noqa: B036 - whatever happens, the child must not return
        logging.getLogger(__name__).exception('job %s: bookkeeping failed', job['id'])
        code = 1
    finally:
        os._exit(code)


class _Watch:
    """What the task polls while its child runs: the job row's status and holder, read on
    one connection held for the job in autocommit (one round trip per look; a pooled session
    would add a pre-ping, BEGIN and ROLLBACK), and the child's exit, through a pidfd that
    ends the wait the moment the child exits."""

    def __init__(self, store: Store, job_id: str, pid: int):
        self.store, self.pid = store, pid
        self.query = sql_select(Job.status, Job.worker).where(Job.id == job_id)
        self.conn = None
        try:
            self.pidfd = os.pidfd_open(pid)
        except (AttributeError, OSError):  # not Linux >= 5.3: look every WATCH_EVERY
            self.pidfd = None

    def child_exit(self, timeout: float) -> int | None:
        """The child's wait status if it exits within `timeout`, else None."""
        if self.pidfd is not None:
            select.select([self.pidfd], [], [], timeout)
        else:
            time.sleep(timeout)
        done, status = os.waitpid(self.pid, os.WNOHANG)
        return status if done else None

    def holder(self) -> dict | None:
        try:
            if self.conn is None:
                self.conn = self.store.read_engine.connect().execution_options(
                    isolation_level='AUTOCOMMIT')
            row = self.conn.execute(self.query).mappings().first()
        except Exception:
            self._drop_connection()  # a fresh one next time
            raise
        return dict(row) if row is not None else None

    def _drop_connection(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            except Exception:
                pass
            self.conn = None

    def close(self) -> None:
        self._drop_connection()
        if self.pidfd is not None:
            os.close(self.pidfd)
            self.pidfd = None


def execute(runtime: Runtime, job: dict, me: str) -> str:
    """Run the claimed job in a child process; watch for dismissal; renew the lease."""
    pid = os.fork()
    if pid == 0:
        _child(runtime, job)
    status, stopped = _watch_child(runtime, job['id'], me, pid)
    outcome = _settle(runtime, job['id'], me, status, stopped)
    if stopped == 'dismissed':
        time.sleep(0.5)  # a container whose start was in flight when the child died
        runtime.engine.stop_containers(job['id'])
    return f'job {outcome}' + (f' ({stopped})' if stopped else '')


def _watch_child(runtime: Runtime, job_id: str, me: str, pid: int) -> tuple[int, str | None]:
    """Until the child exits or the job is dismissed or taken over (then the child and the
    job's containers are stopped); return its wait status and why it was stopped."""
    repo, settings = runtime.repo, runtime.settings
    heartbeat_every = settings.jobs.lease_seconds / 3
    last_beat = time.monotonic()
    watch = _Watch(runtime.manager.store, job_id, pid)
    try:
        while (status := watch.child_exit(WATCH_EVERY)) is None:
            try:
                holder = watch.holder()
            except Exception as err:  # the store is briefly unreachable: keep the job running
                LOGGER.warning('job %s: status not readable: %s', job_id, err)
                continue
            if holder is None or holder['status'] == DISMISSED or (
                    holder['status'] == RUNNING and holder['worker'] != me):
                stopped = 'dismissed' if holder and holder['status'] == DISMISSED else 'lost lease'
                _kill_group(pid)
                _, status = os.waitpid(pid, 0)
                killed = runtime.engine.stop_containers(job_id)
                LOGGER.info('job %s %s: job process %s and %s container(s) stopped', job_id,
                            stopped, pid, killed)
                return status, stopped
            if time.monotonic() - last_beat >= heartbeat_every:
                last_beat = time.monotonic()
                try:
                    repo.renew_lease(job_id, me)
                    runtime.services.results.publish_log(job_id, settings.job_dir(job_id))
                except Exception as err:
                    LOGGER.warning('job %s: heartbeat failed: %s', job_id, err)
    finally:
        watch.close()
    return status, None


def _settle(runtime: Runtime, job_id: str, me: str, status: int, stopped: str | None) -> str:
    """After the child: recover a job it left running, publish the log, release the job,
    and let the result store tidy up; the job's status for the log line."""
    repo, results = runtime.repo, runtime.services.results
    job_dir = runtime.settings.job_dir(job_id)
    state = repo.get(job_id)
    outcome = state['status'] if state else 'gone'
    clean_exit = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    if state and state['status'] == RUNNING and state['worker'] == me:
        how = (f'signal {os.WTERMSIG(status)}' if os.WIFSIGNALED(status)
               else f'exit code {os.WEXITSTATUS(status)}')
        outcome = runtime.engine.end_interrupted(
            state, f'its job process died ({how})', base_url=runtime.base_url,
            where=(Job.worker == me,)) or outcome
        if outcome == REQUEUED:
            publish_and_stamp(runtime, job_id)
    if stopped == 'lost lease':  # after a takeover the job's files belong to the new holder
        return outcome
    if stopped or not clean_exit:  # else the child published the whole log itself
        try:
            results.publish_log(job_id, job_dir)
        except Exception as err:
            LOGGER.warning('job %s: log not published: %s', job_id, err)
    if state is None or state['worker'] == me:  # the child did not end it: release it
        state = repo.release(job_id, me) or repo.get(job_id)
    if state and state['status'] == DISMISSED and not state['files_removed']:
        runtime.engine.remove_files(job_id)
    elif state and state['status'] in FINAL:
        results.after_job(job_id, job_dir)
    return outcome


def _kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
            return
        except ProcessLookupError:
            continue


def publish_and_stamp(runtime, job_id: str) -> None:
    if publish(runtime.settings, job_id):
        runtime.repo.mark_queued(job_id)


# -- the sweep (a thread of each `eoorder worker` main process) ----------------------------
class Sweeper(threading.Thread):
    """Recovers jobs of lost workers, publishes unpublished jobs, applies retention."""

    def __init__(self, config_path: str):
        super().__init__(name='eoorder-sweeper', daemon=True)
        self.config_path = config_path
        self.stopping = threading.Event()

    def run(self) -> None:
        runtime = runtime_for(self.config_path)
        every = runtime.settings.jobs.sweep_interval_seconds
        while not self.stopping.wait(every):
            try:
                sweep(runtime)
            except Exception as err:  # a store or broker outage: try again next round
                LOGGER.warning('sweep failed: %s', err)


def sweep(runtime) -> dict[str, int]:
    repo, jobs = runtime.repo, runtime.settings.jobs
    counts = {'recovered': 0, 'published': 0, 'expired': 0}
    stale_before = utcnow() - timedelta(seconds=jobs.lease_seconds)
    for job in repo.stale(stale_before):
        outcome = runtime.engine.end_interrupted(
            job, runtime.engine.lost_reason(job), base_url=runtime.base_url,
            where=(repo.lease_expired(stale_before),))
        if outcome:
            counts['recovered'] += 1
        if outcome == REQUEUED:
            publish_and_stamp(runtime, job['id'])
    for job_id in repo.unpublished(utcnow() - timedelta(seconds=PUBLISH_GRACE)):
        if not publish(runtime.settings, job_id):
            break
        repo.mark_queued(job_id)
        counts['published'] += 1
    if time.monotonic() - _LAST_COMPONENT_SWEEP[0] >= COMPONENT_SWEEP_EVERY:
        _LAST_COMPONENT_SWEEP[0] = time.monotonic()
        runtime.run_sweepers()
    counts['expired'] = runtime.engine.apply_retention()
    if any(counts.values()):
        LOGGER.info('sweep: %s', counts)
    return counts


# -- `eoorder worker` ----------------------------------------------------------------------
def worker_main(settings: Settings, concurrency: int | None = None, loglevel: str = 'INFO',
                *, load_runtime: Callable[[str], Runtime]) -> None:
    """Run a Celery worker for `settings` (blocks until it is stopped); `load_runtime`
    builds a process's Runtime from the configuration path (the component registry)."""
    from celery import signals

    _LOADER[:] = [load_runtime]
    # this process serves one configuration: pygeoapi's own plug-ins that a configured
    # process may use read it from the environment (`pygeoapi.config.get_config`)
    os.environ.setdefault('PYGEOAPI_CONFIG', str(settings.config_path))
    app = celery_app(settings, worker=True)
    config_path = str(settings.config_path)

    @app.task(name=TASK, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
    def run_job_task(job_id: str) -> str:
        outcome = run_task(runtime_for(config_path), job_id)
        LOGGER.info('job %s: %s', job_id, outcome)
        return outcome

    sweeper = Sweeper(config_path)

    @signals.worker_ready.connect(weak=False)
    def _start_sweeper(**_):
        sweeper.start()

    @signals.worker_shutdown.connect(weak=False)
    def _stop_sweeper(**_):
        sweeper.stopping.set()

    runtime = runtime_for(config_path)  # the schema is migrated before any job is taken
    prepare_for_jobs(runtime)
    hooks = runtime.warm_up_hooks()

    workers = concurrency or settings.jobs.workers

    @signals.worker_process_init.connect(weak=False)
    def _in_pool_process(**_):  # in each pool process, after its fork
        memory_limit.apply(settings.jobs.memory_limit, workers)  # (its jobs' data)
        _WARMING[:] = [start_warm_up(hooks, settings)]  # (in the background)
    for engine in {runtime.manager.store.write_engine, runtime.manager.store.read_engine}:
        engine.dispose()      # no open connection is inherited by the pool processes
    _RUNTIME.clear()          # pool processes build their own after the fork
    argv = ['worker', f'--loglevel={loglevel}', '-Q', settings.jobs.queue,
            f'--concurrency={workers}', '--pool=prefork',
            f'--hostname=eoorder-{os.getpid()}@{socket.gethostname()}',
            '--without-gossip', '--without-mingle', '--without-heartbeat']
    app.worker_main(argv)

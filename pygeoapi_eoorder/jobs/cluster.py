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
from typing import Any

from sqlalchemy import select as sql_select

from ..config import Settings
from ..store import Job, Store, adopt_after_fork, utcnow
from . import callbacks, sweeps
from .repository import ACCEPTED, DISMISSED, FAILED, FINAL, RUNNING
from .status import status_info

LOGGER = logging.getLogger('eoorder.cluster')
TASK = 'eoorder.run_job'
JOB_FAILED = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/job-failed'
WATCH_EVERY = 0.2          # how often a running task looks at its job's status
PUBLISH_GRACE = 10.0       # an accepted job without `queued` this old was never published
COMPONENT_SWEEP_EVERY = 30.0  # as often as the local supervisor runs them
_LAST_COMPONENT_SWEEP = [float('-inf')]


def celery_app(settings: Settings, *, worker: bool = False):
    """A Celery app for `settings` (the broker, queue and delivery semantics above)."""
    from celery import Celery

    jobs = settings.jobs
    app = Celery('eoorder', broker=jobs.broker_url, set_as_current=worker)
    app.conf.update(
        task_default_queue=jobs.queue,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        task_ignore_result=True,           # results live in the store, not a result backend
        task_serializer='json', accept_content=['json'],
        worker_prefetch_multiplier=jobs.prefetch,
        worker_enable_remote_control=False,  # no pidbox queues: dismissal goes through the store
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=5,
        # RabbitMQ closes the channel of a delivery left unacknowledged longer than its
        # consumer_timeout (30 min by default; with late acks, a job's run time): reconnect
        # instead of shutting down. The redelivery meets the job's lease and is dropped.
        broker_channel_error_retry=True,
        broker_transport_options={'visibility_timeout': 3600},
    )
    return app


_APPS: dict[tuple[str, str, int], Any] = {}
_APPS_LOCK = threading.Lock()  # the first submissions of a server arrive on several threads


def _publisher(settings: Settings):
    key = (settings.jobs.broker_url, settings.jobs.queue, os.getpid())
    app = _APPS.get(key)
    if app is None:
        with _APPS_LOCK:  # celery's lazy modules fail when two threads import them at once
            app = _APPS.get(key)
            if app is None:
                app = _APPS[key] = celery_app(settings)
    return app


def publish(settings: Settings, job_id: str) -> bool:
    """Publish "run job <id>"; False (logged) if the broker cannot be reached now."""
    app = _publisher(settings)
    try:
        app.send_task(TASK, args=[job_id], queue=settings.jobs.queue, retry=True,
                      retry_policy={'max_retries': 2, 'interval_start': 0,
                                    'interval_step': 0.25, 'interval_max': 0.5})
        return True
    except Exception as err:  # the job is committed: the sweep publishes it later
        LOGGER.warning('job %s: broker %s unreachable (%s); it stays queued in the store and '
                       'is published when a worker sweeps', job_id,
                       settings.jobs.broker_url.split('@')[-1], err)
        return False


# -- recovery: shared by the tasks (redelivery) and the sweep ------------------------------
def end_interrupted(runtime, job: dict, reason: str, where: tuple) -> str | None:
    """Requeue (idempotent, attempts left) or fail a running job whose holder is gone.

    `where` is the condition that makes this recoverer the only one (lease still expired,
    or still held by the caller). Returns 'requeued', 'failed' or None (someone else won).
    """
    repo, settings = runtime.repo, runtime.settings
    _stop_containers(runtime, job['id'])
    if job['status'] == DISMISSED:
        state = repo.release(job['id'])
        if state and not state['files_removed']:
            runtime.manager.remove_files(job['id'])
        return None
    if job['idempotent'] and job['attempts'] < settings.jobs.max_attempts:
        if repo.transition(job['id'], ACCEPTED, where=where, worker=None, heartbeat=None,
                           progress=0, message=f'Requeued: {reason}'):
            LOGGER.info('job %s requeued: %s', job['id'], reason)
            return 'requeued'
        return None
    detail = f'Job interrupted: {reason}'
    now = utcnow()
    started = job['started'] or now
    error = {'type': JOB_FAILED, 'title': 'Job interrupted', 'status': 500, 'detail': detail}
    if not repo.transition(job['id'], FAILED, where=where, finished=now, worker=None,
                           duration=(now - started).total_seconds(), message=detail,
                           error=error):
        return None
    LOGGER.warning('job %s failed: %s', job['id'], reason)
    conf = runtime.manager.processes.get(job['process_id']) or {}
    callbacks.send((job.get('subscriber') or {}).get('failedUri'),
                   status_info(repo.get(job['id']), job.get('base_url')
                               or runtime.config['server'].get('url', '')),
                   timeout=settings.jobs.callback_timeout_seconds,
                   allow_internal=bool(conf.get('allow_internal_requests')), logger=LOGGER,
                   egress_block=settings.block.get('egress'))
    return 'failed'


def _stop_containers(runtime, job_id: str) -> int:
    from ..execution.app_runner import stop_job
    try:
        return stop_job(runtime.settings, job_id)
    except Exception as err:  # Docker may be absent on this worker
        LOGGER.debug('job %s: containers not stopped: %s', job_id, err)
        return 0


# -- the task side (in a Celery pool process) -------------------------------------------
_RUNTIME: dict[int, Any] = {}


def runtime_for(config_path: str):
    """The Runtime of this process (one per pid: pool processes never share connections)."""
    from .runtime import Runtime
    pid = os.getpid()
    if pid not in _RUNTIME:
        _RUNTIME.clear()
        _RUNTIME[pid] = Runtime.load(config_path)
    return _RUNTIME[pid]


def prepare_for_jobs(runtime) -> None:
    """Import now what every job needs, before the pool processes (and from them each job's
    child) are forked: a child that imported the Docker SDK and the processors itself spent
    more CPU on that than on the rest of a short container job."""
    from ..execution import app_runner, docker_runner  # noqa: F401
    docker_runner.prepare(runtime.settings.block['execution']['docker'].get('base_url'))
    for process_id in runtime.manager.processes:
        try:
            runtime.manager.get_processor(process_id)
        except Exception as err:  # reported again, to its job, when one runs
            LOGGER.debug('process %s: processor not loaded: %s', process_id, err)


def identity() -> str:
    return f'{socket.gethostname()}:{os.getpid()}'


def run_task(runtime, job_id: str) -> str:
    """Claim job `job_id` for this process and run it; say what happened (for the log)."""
    repo = runtime.repo
    me = identity()
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
        outcome = end_interrupted(
            runtime, state, f"its worker {state['worker']} was lost (no heartbeat for "
            f"{runtime.settings.jobs.lease_seconds:g} s)",
            where=(repo.lease_expired(stale_before),))
        if outcome != 'requeued':
            return f'previous holder lost: {outcome or "recovered elsewhere"}'
        job = repo.claim_id(job_id, me)
        if job is None:
            return 'requeued and taken by another worker'
    return execute(runtime, job, me)


def _child(runtime, job: dict) -> None:
    """The forked job process: its own process group, dies with the task process."""
    import sys

    from . import control
    from .worker import run_job
    code = 0
    try:
        os.setpgid(0, 0)
        control.die_with_parent()
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        logging.getLogger().handlers.clear()
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


def execute(runtime, job: dict, me: str) -> str:
    """Run the claimed job in a child process; watch for dismissal; renew the lease."""
    repo, settings = runtime.repo, runtime.settings
    job_id = job['id']
    job_dir = settings.job_dir(job_id)
    pid = os.fork()
    if pid == 0:
        _child(runtime, job)
    heartbeat_every = settings.jobs.lease_seconds / 3
    last_beat = time.monotonic()
    stopped = None
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
                killed = _stop_containers(runtime, job_id)
                LOGGER.info('job %s %s: job process %s and %s container(s) stopped', job_id,
                            stopped, pid, killed)
                break
            if time.monotonic() - last_beat >= heartbeat_every:
                last_beat = time.monotonic()
                try:
                    repo.renew_lease(job_id, me)
                    runtime.manager.results.publish_log(job_id, job_dir)
                except Exception as err:
                    LOGGER.warning('job %s: heartbeat failed: %s', job_id, err)
    finally:
        watch.close()
    state = repo.get(job_id)
    outcome = state['status'] if state else 'gone'
    clean_exit = os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
    if state and state['status'] == RUNNING and state['worker'] == me:
        how = (f'signal {os.WTERMSIG(status)}' if os.WIFSIGNALED(status)
               else f'exit code {os.WEXITSTATUS(status)}')
        _stop_containers(runtime, job_id)
        outcome = end_interrupted(runtime, state, f'its job process died ({how})',
                                  where=(Job.worker == me,)) or outcome
        if outcome == 'requeued':
            publish_and_stamp(runtime, job_id)
    if stopped != 'lost lease':  # after a takeover the job's files belong to the new holder
        if stopped or not clean_exit:  # else the child published the whole log itself
            try:
                runtime.manager.results.publish_log(job_id, job_dir)
            except Exception as err:
                LOGGER.warning('job %s: log not published: %s', job_id, err)
        if state is None or state['worker'] == me:  # the child did not end it: release it
            state = repo.release(job_id, me) or repo.get(job_id)
        if state and state['status'] == DISMISSED and not state['files_removed']:
            runtime.manager.remove_files(job_id)
        elif state and state['status'] in FINAL:
            runtime.manager.results.after_job(job_id, job_dir)
    if stopped == 'dismissed':
        time.sleep(0.5)  # a container whose start was in flight when the child died
        _stop_containers(runtime, job_id)
    return f'job {outcome}' + (f' ({stopped})' if stopped else '')


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
        outcome = end_interrupted(
            runtime, job, f"its worker {job['worker']} was lost (no heartbeat for "
            f'{jobs.lease_seconds:g} s)', where=(repo.lease_expired(stale_before),))
        if outcome:
            counts['recovered'] += 1
        if outcome == 'requeued':
            publish_and_stamp(runtime, job['id'])
    for job_id in repo.unpublished(utcnow() - timedelta(seconds=PUBLISH_GRACE)):
        if not publish(runtime.settings, job_id):
            break
        repo.mark_queued(job_id)
        counts['published'] += 1
    if time.monotonic() - _LAST_COMPONENT_SWEEP[0] >= COMPONENT_SWEEP_EVERY:
        _LAST_COMPONENT_SWEEP[0] = time.monotonic()
        sweeps.run(runtime.manager, runtime.settings)
    for job_id in repo.expired(utcnow() - timedelta(seconds=jobs.retention_seconds)):
        runtime.manager.remove_files(job_id)
        counts['expired'] += 1
    if any(counts.values()):
        LOGGER.info('sweep: %s', counts)
    return counts


# -- `eoorder worker` ----------------------------------------------------------------------
def worker_main(settings: Settings, concurrency: int | None = None,
                loglevel: str = 'INFO') -> None:
    """Run a Celery worker for `settings` (blocks until it is stopped)."""
    from celery import signals

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
    for engine in {runtime.manager.store.write_engine, runtime.manager.store.read_engine}:
        engine.dispose()      # no open connection is inherited by the pool processes
    _RUNTIME.clear()          # pool processes build their own after the fork
    argv = ['worker', f'--loglevel={loglevel}', '-Q', settings.jobs.queue,
            f'--concurrency={concurrency or settings.jobs.workers}', '--pool=prefork',
            f'--hostname=eoorder-{os.getpid()}@{socket.gethostname()}',
            '--without-gossip', '--without-mingle', '--without-heartbeat']
    app.worker_main(argv)

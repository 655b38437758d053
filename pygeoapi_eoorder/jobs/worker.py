"""A worker process: runs the jobs its supervisor hands it, one at a time."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
from contextlib import contextmanager
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Iterator

from pygeoapi.error import GenericError

from ..auth import acting_as, job_user
from ..execution import plain_inputs
from ..execution.context import Completion, JobContext, JobProcessor, job_stager
from . import callbacks, memory_limit, provenance, supervisor_control
from .engine import JOB_FAILED
from .next_job_dir import NextJobDir
from .repository import FAILED, SUCCESSFUL
from .result_store import LOG_NAME
from .results import start_syncing, write_result
from .runtime import Runtime
from .status import results_document, status_info
LOG_FORMAT = '%(asctime)s %(levelname)s %(name)s: %(message)s'
# new objects between the cyclic garbage collector's passes while a job runs (Python's
# default: 700); the worker collects once the job has ended (see `collection_deferred`)
JOB_GC_THRESHOLD = 10_000


def _level_for_jobs(level: int) -> int:
    """The root level a job's log needs: INFO, or lower if the process already logs lower."""
    return min(level or logging.INFO, logging.INFO)


class OwnerFacingFormatter(logging.Formatter):
    """A job's log is its owner's to read (openEO `/logs`, the job log link): an
    exception in it is its type and message, not a traceback (the server's code paths)."""

    def formatException(self, ei) -> str:
        kind, value, _ = ei
        return f'{getattr(kind, "__name__", kind)}: {value}'

    def formatStack(self, stack_info: str) -> str:
        return ''


@contextmanager
def job_log(path: Path, log_fd: int | None = None) -> Iterator[logging.Logger]:
    """Send logging, stdout and stderr (also of subprocesses) to the job's log file;
    `log_fd`: that file open already (appending; it is closed here)."""
    if log_fd is None:
        path.parent.mkdir(parents=True, exist_ok=True)
        log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    stream = open(os.dup(log_fd), 'a', encoding='utf-8')  # (the file, not opened again)
    handler = logging.StreamHandler(stream)
    handler.setFormatter(OwnerFacingFormatter(LOG_FORMAT))
    root = logging.getLogger()
    level = root.level
    wanted = _level_for_jobs(level)
    root.addHandler(handler)
    if wanted != level:  # (setting it empties every logger's cache: not at each job)
        root.setLevel(wanted)
    try:
        yield logging.getLogger('eoorder.job')
    finally:
        root.removeHandler(handler)
        if wanted != level:
            root.setLevel(level)
        handler.close()
        stream.close()
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, log_fd):
            os.close(fd)


def job_process_logging() -> None:
    """Logging of a process that runs jobs: its parent's handlers go (a job's lines go to
    its job.log) and the root level admits INFO from now on, set once here and not at
    each job (setting a level empties every logger's cache). Between jobs the root has no
    handler: nothing is written."""
    root = logging.getLogger()
    root.handlers.clear()
    wanted = _level_for_jobs(root.level)
    if root.level != wanted:
        root.setLevel(wanted)


def _failure(err: Exception) -> tuple[str, dict]:
    """The job's message and exception document for what a process raised."""
    status = 500
    if isinstance(err, GenericError):
        detail = err.user_msg or str(err) or err.message
        status = int(err.http_status_code)
    else:
        detail = f'{type(err).__name__}: {err}'
    return detail, {'type': JOB_FAILED, 'title': 'Job failed', 'status': status,
                    'detail': detail}


def _publish_log(manager, job_id: str, job_dir: Path, log: logging.Logger) -> None:
    try:
        manager.results.publish_log(job_id, job_dir)
    except Exception as err:  # the log is a convenience: never fail a job over it
        log.warning('the job log could not be published: %s', err)


def _notify(runtime: Runtime, uri: str, document: dict, allow_internal: bool,
            log: logging.Logger, subject: str | None = None) -> None:
    callbacks.send(uri, document, timeout=runtime.settings.jobs.callback_timeout_seconds,
                   allow_internal=allow_internal, logger=log, block=runtime.settings.block,
                   subject=subject)


def _tell_end(runtime: Runtime, job: dict, base_url: str, allow_internal: bool,
              log: logging.Logger, uri: str | None, document: dict | None = None) -> None:
    """A finished job's subscriber callback (its status, or `document`) and response
    handlers (in the message format their protocol named)."""
    if uri:
        _notify(runtime, uri, document or status_info(job, base_url), allow_internal, log,
                subject=f"Job {job['id']} {job['status']}")
    callbacks.tell_handlers(job, base_url, runtime.engine.message_formats,
                            timeout=runtime.settings.jobs.callback_timeout_seconds,
                            allow_internal=allow_internal, logger=log,
                            block=runtime.settings.block)


@contextmanager
def collection_deferred(threshold: int = JOB_GC_THRESHOLD) -> Iterator[None]:
    """The cyclic garbage collector passes less often in this block: a pass over a
    graph's young objects costs 0.3-1 ms and the default threshold makes several per
    openEO graph of the demo (measured: ≈ 1 ms of a 52 ms run). The garbage left is
    bounded by `threshold` new objects and collected when the job has ended."""
    saved = gc.get_threshold()
    gc.set_threshold(max(threshold, saved[0]), *saved[1:])
    try:
        yield
    finally:
        gc.set_threshold(*saved)


def run_job(runtime: Runtime, job: dict, prepared: NextJobDir | None = None) -> bool:
    """Run one claimed job to a final status; every failure ends as a failed job.
    True if this run moved it there (False: e.g. it was dismissed meanwhile).
    `prepared`: a directory made for the next job, which this one then takes."""
    completion = Completion()  # what the job writes as it succeeds (e.g. its records)
    try:
        with collection_deferred():
            return _run(runtime, job, completion, prepared)
    finally:
        completion.settle()  # (nothing its threads write outlives the job's end)


def _run(runtime: Runtime, job: dict, completion: Completion,
         prepared: NextJobDir | None) -> bool:
    repo, manager = runtime.repo, runtime.manager
    job_dir = runtime.settings.job_dir(job['id'])
    subscriber = job.get('subscriber') or {}
    base_url = job.get('base_url') or runtime.config['server'].get('url', '')  # submitter's
    log_fd = prepared.take(job_dir) if prepared is not None else None
    with job_log(job_dir / LOG_NAME, log_fd) as log:
        log.info('job %s of process %s started (attempt %s)', job['id'], job['process_id'],
                 job['attempts'])
        allow_internal = False
        try:
            with acting_as(job_user(job), manager.auth):  # the process its owner gets
                facts = provenance.claim_facts(manager, job)
                if facts != (job.get('provenance') or {}):  # (its claim may have them)
                    repo.record_provenance(job['id'], facts)
                processor = manager.get_processor(job['process_id'])
            allow_internal = processor.allow_internal_requests
            processor.set_job_id(job['id'])
            inputs = job['inputs'] or {}
            if isinstance(processor, JobProcessor):
                processor.context = JobContext(repo, job, job_dir, log, runtime.settings,
                                               base_url, manager, runners=manager.runners,
                                               completion=completion)
            elif plain_inputs.needs_resolving(inputs):  # (a plain processor takes values)
                workdir = job_dir / 'work'
                inputs = plain_inputs.resolved(inputs, processor.metadata.get('inputs') or {},
                                               workdir, lambda: job_stager(runtime.settings,
                                                                           workdir))
            if subscriber.get('inProgressUri'):
                _notify(runtime, subscriber['inProgressUri'], status_info(job, base_url),
                        allow_internal, log)
            extra = {'outputs': job['requested_outputs']} if processor.supports_outputs else {}
            with acting_as(job_user(job), manager.auth):  # its checks are its owner's
                mimetype, outputs = processor.execute(inputs, **extra)
            result_file, mimetype, syncing = write_result(job_dir, mimetype, outputs)
            completion.result_written()  # (while the result goes to disk)
            completion.wait_files()  # (whole before the servers may read or copy them)
            manager.results.publish(job['id'], job_dir)  # servers can read them before 'done'
            log.info('job complete')
            _publish_log(manager, job['id'], job_dir, log)
            finished = repo.finish(job['id'], SUCCESSFUL, started=job['started'], progress=100,
                                   message='Job complete', mimetype=mimetype,
                                   result_file=result_file,
                                   also=[*completion.writes, syncing.wait])  # on disk first
        except Exception as err:  # a process may raise anything: it becomes the job's failure
            return _end_failed(runtime, job, err, job_dir, log, allow_internal, base_url)
        if not finished:
            log.info('job finished after it was dismissed; its result is discarded')
            return False
        for afterwards in completion.afterwards:
            _quietly(afterwards, log)
        if subscriber.get('successUri') or callbacks.handlers_of(job):
            ended = repo.get(job['id'])  # (and the results document: only for those told)
            document = results_document(manager.process_metadata(job['process_id']), ended,
                                        outputs, mimetype, base_url) \
                if subscriber.get('successUri') else None
            _tell_end(runtime, ended, base_url, allow_internal, log,
                      subscriber.get('successUri'), document)
    return True


def _end_failed(runtime: Runtime, job: dict, err: Exception, job_dir: Path,
                log: logging.Logger, allow_internal: bool, base_url: str) -> bool:
    """The job failed with `err`: its log says why, its status too, its subscriber is
    told; True if it moved to failed."""
    repo = runtime.repo
    message, error = _failure(err)
    log.exception('job failed: %s', message)
    _publish_log(runtime.manager, job['id'], job_dir, log)
    if not repo.finish(job['id'], FAILED, started=job['started'], message=message, error=error):
        return False
    _tell_end(runtime, repo.get(job['id']), base_url, allow_internal, log,
              (job.get('subscriber') or {}).get('failedUri'))
    return True


def _quietly(step, log: logging.Logger) -> None:
    """A step after the job's success was committed: what fails is logged, not raised."""
    try:
        step()
    except Exception:  # the job succeeded; e.g. a listener of new records failed
        log.exception('after the job succeeded')


def worker_main(runtime: Runtime, conn: Connection, supervisor_pid: int) -> None:
    """Entry point of a worker process forked by the supervisor `supervisor_pid`; it
    leaves at once if that supervisor died before it could be told to die with it."""
    supervisor_control.die_with_parent()
    if os.getppid() != supervisor_pid:
        os._exit(0)
    os.setpgid(0, 0)
    # the supervisor decides when a worker ends (SIGKILL); a Ctrl-C or a TERM sent to the
    # whole process group must not kill the jobs it is draining
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    runtime = runtime.after_fork()
    memory_limit.apply(runtime.settings.jobs.memory_limit, runtime.settings.jobs.workers)
    job_process_logging()
    runtime.warm_up()  # a job arriving meanwhile waits for the imports it needs, no more
    start_syncing()  # (its thread, once: not at each job's result)
    prepared = NextJobDir(runtime.settings.jobs_dir)
    with collection_deferred():  # also as a job arrives: the worker collects when idle
        while True:
            prepared.prepare()  # (while idle)
            try:
                job = conn.recv()
            except (EOFError, OSError):
                return
            ended = False  # (then the supervisor reads how it was left)
            try:
                ended = run_job(runtime, job, prepared)
            except Exception:  # never lose the worker over bookkeeping errors
                logging.getLogger(__name__).exception('job %s: bookkeeping failed',
                                                      job['id'])
            supervisor_control.notify_finished(job['id'])
            conn.send(('done', job['id'], ended))
            gc.collect(1)  # the job's garbage (see `collection_deferred`), while idle

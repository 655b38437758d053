"""The job-engine core shared by both dispatchers (local supervisor, Celery workers).

What happens to a job outside its own run is written here once: recovery of a job whose
worker is gone (requeue or fail, and tell its subscriber), dismissal (stop its work,
remove its files), the retention period, and stopping the containers a job left behind.
`supervisor.py` and `cluster.py` decide *when* (their own loops and leases); this module
decides *what*.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from pygeoapi.process.base import JobNotFoundError

from ..config import Settings
from ..execution.runner import ExecutionRunner
from ..processes.catalogue import ProcessCatalogue
from ..store import utcnow
from ..workspaces.failed_jobs import discard_for_failed_job
from . import callbacks
from .dispatch import Dispatcher
from .repository import ACCEPTED, DISMISSED, FAILED, RUNNING, JobRepository
from .result_store import ResultStore
from .status import status_info

LOGGER = logging.getLogger('eoorder.engine')
JOB_FAILED = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/job-failed'
REQUEUED, FAILED_OUTCOME = 'requeued', 'failed'


class JobEngine:
    """Recovery, dismissal, retention and container stop for one configuration."""

    def __init__(self, settings: Settings, repo: JobRepository, results: ResultStore,
                 dispatcher: Dispatcher, runners: dict[str, ExecutionRunner],
                 processes: ProcessCatalogue):
        self.settings = settings
        self.repo = repo
        self.results = results
        self.dispatcher = dispatcher
        self.runners = runners
        self.processes = processes
        # protocols' final messages for the response handlers of jobs, by format name
        # (filled by the component registry: the protocols live above this layer)
        self.message_formats: dict[str, callbacks.MessageFormat] = {}

    # -- files -----------------------------------------------------------------------
    def remove_files(self, job_id: str, message: str | None = None) -> None:
        """Remove a job's results and log wherever the result store keeps them; the job
        says so first, so that no reader finds it promising files already gone."""
        self.repo.mark_files_removed(job_id, message)
        self.results.remove(job_id)

    def release(self, job_id: str, worker: str | None = None) -> dict | None:
        """A job left its worker: clear its holder; a job dismissed meanwhile loses its
        files now (the worker no longer writes them)."""
        state = self.repo.release(job_id, worker)
        if state and state['status'] == DISMISSED and not state['files_removed']:
            self.remove_files(job_id)
        return state

    def apply_retention(self) -> int:
        """Remove the files of jobs older than the retention period, and dismiss the
        `created` jobs never started within their lifetime; how many."""
        now = utcnow()
        expired = self.repo.expired(now - timedelta(seconds=self.settings.jobs.retention_seconds))
        for job_id in expired:
            self.remove_files(job_id)
            LOGGER.info('job %s: files removed after the retention period', job_id)
        lifetime = self.settings.jobs.created_lifetime
        abandoned = 0
        for job_id in self.repo.never_started(now - timedelta(seconds=lifetime)):
            if self.repo.dismiss_created(job_id, f'never started within {lifetime:g} s of its '
                                         'last change (jobs.created_lifetime_seconds)'):
                self.remove_files(job_id)
                abandoned += 1
                LOGGER.info('job %s: created, never started: dismissed', job_id)
        return len(expired) + abandoned

    # -- work left behind --------------------------------------------------------------
    def stop_containers(self, job_id: str) -> int:
        """Stop what the job's runners still run for it (each platform once)."""
        stopped = 0
        platforms = {runner.platform or kind: runner for kind, runner in self.runners.items()}
        for runner in platforms.values():
            try:
                stopped += runner.stop(job_id)
            except Exception as err:  # e.g. no Docker engine on this worker
                LOGGER.debug('job %s: %s work not stopped: %s', job_id, runner.kind, err)
        if stopped:
            LOGGER.info('job %s: %s container(s) stopped', job_id, stopped)
        return stopped

    # -- recovery -----------------------------------------------------------------------
    def end_interrupted(self, job: dict, reason: str, *, base_url: str,
                        where: tuple = ()) -> str | None:
        """Requeue (idempotent, attempts left) or fail a running job whose worker is gone.

        `where` makes this recoverer the only one (e.g. "lease still expired"). Returns
        'requeued', 'failed' or None (someone else won, or the job was dismissed).
        """
        self.stop_containers(job['id'])
        if job['status'] == DISMISSED:
            self.release(job['id'])
            return None
        if job['idempotent'] and job['attempts'] < self.settings.jobs.max_attempts:
            if self.repo.transition(job['id'], ACCEPTED, where=where, worker=None,
                                    heartbeat=None, progress=0, message=f'Requeued: {reason}'):
                LOGGER.info('job %s requeued: %s', job['id'], reason)
                return REQUEUED
            return None
        detail = f'Job interrupted: {reason}'
        error = {'type': JOB_FAILED, 'title': 'Job interrupted', 'status': 500, 'detail': detail}
        now = utcnow()
        if not self.repo.transition(job['id'], FAILED, where=where, finished=now, worker=None,
                                    duration=(now - (job['started'] or now)).total_seconds(),
                                    message=detail, error=error):
            return None
        LOGGER.warning('job %s failed: %s', job['id'], reason)
        discard_for_failed_job(self.settings, job)  # what its stage-out had written
        self._tell_failed(job, base_url)
        return FAILED_OUTCOME

    def _tell_failed(self, job: dict, base_url: str) -> None:
        conf = self.processes.definition(job['process_id']) or {}
        ended, base_url = self.repo.get(job['id']), job.get('base_url') or base_url
        options = dict(timeout=self.settings.jobs.callback_timeout_seconds,
                       allow_internal=bool(conf.get('allow_internal_requests')), logger=LOGGER,
                       block=self.settings.block)
        callbacks.send((job.get('subscriber') or {}).get('failedUri'),
                       status_info(ended, base_url), **options)
        callbacks.tell_handlers(ended, base_url, self.message_formats, **options)

    def recover_interrupted(self, reason: str, base_url: str) -> None:
        """At start of the local engine: jobs still marked running lost their worker."""
        for job in self.repo.interrupted():
            self.end_interrupted(job, reason, base_url=base_url)

    def lost_reason(self, job: dict) -> str:
        return (f"its worker {job['worker']} was lost (no heartbeat for "
                f'{self.settings.jobs.lease_seconds:g} s)')

    # -- dismissal ------------------------------------------------------------------------
    def dismiss(self, job_id: str, wait: float = 3.0) -> dict:
        """Mark a job dismissed, have its work stopped, remove its files."""
        previous = self.repo.dismiss(job_id)
        job = self.repo.get(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        if previous == RUNNING:
            self.dispatcher.dismissed(job_id)
            deadline = time.monotonic() + wait
            while job['worker'] and time.monotonic() < deadline:
                time.sleep(0.02)
                job = self.repo.get(job_id)
        if job['status'] == DISMISSED and not job['files_removed'] and not job['worker']:
            self.remove_files(job_id)
            job = self.repo.get(job_id)
        return job

"""The shared job engine as a pygeoapi process manager.

Jobs are committed to the SQL store before anyone is told about them and run in the
supervisor's worker processes, never in the web process. Everything that runs work
(process executions, order items, harvests) submits it here.
"""

from __future__ import annotations

import collections
import time
from typing import Any

from pygeoapi.process.base import (BaseProcessor, JobNotFoundError, JobResultNotFoundError,
                                   UnknownProcessError)
from pygeoapi.process.manager.base import BaseManager
from pygeoapi.plugin import load_plugin
from pygeoapi.util import JobStatus, RequestedProcessExecutionMode, Subscriber
from sqlalchemy.exc import IntegrityError

from ..config import Settings
from ..processes.registry import ProcessRegistry
from ..store import get_store, isoformat
from . import control, result_store
from .repository import (ACCEPTED, CREATED, DISMISSED, FINAL, RUNNING, JobQuery,
                         JobRepository)
from .results import decode

ASYNC, SYNC = 'async-execute', 'sync-execute'


class Manager(BaseManager):
    """pygeoapi process manager backed by the shared store and the local worker pool."""

    def __init__(self, manager_def: dict):
        # BaseManager.__init__ is not called: it fills `processes` in place, which here is
        # a merged view of configured and deployed processes.
        self.name = manager_def['name']
        self.connection = manager_def.get('connection')
        self.output_dir = manager_def.get('output_dir')
        self._configured = collections.OrderedDict(
            (pid, dict(conf)) for pid, conf in manager_def.get('processes', {}).items())
        self.is_async = True
        self.supports_subscribing = True
        self.settings = Settings.from_dict(manager_def['settings'])
        self.store = get_store(self.settings.store_url)
        self.repo = JobRepository(self.store)
        self.registry = ProcessRegistry(self.store)
        self.results = result_store.build(self.settings, self.store)
        self._metadata: dict[str, tuple[Any, dict]] = {}
        self._auth = None

    # -- processes: configured ones plus those deployed at run time ---------------
    @property
    def configured_processes(self) -> collections.OrderedDict:
        """Processes of the configuration file: built in, immutable."""
        return self._configured

    @property
    def auth(self):
        """The access rules of this deployment (authenticators, roles, permissions)."""
        if self._auth is None:
            from ..auth import Auth
            self._auth = Auth(self.settings.block['auth'], self.settings.config_path.parent)
        return self._auth

    @property
    def processes(self) -> collections.OrderedDict:
        """Configured processes, then deployed ones the caller may see (private ones only
        by their owner and admins; outside requests, e.g. in workers, all of them)."""
        from ..auth import current_user
        user = current_user()
        merged = collections.OrderedDict(self._configured)
        for pid, definition in self.registry.all().items():
            if user is None or self.auth.can_see_process(user, definition):
                merged.setdefault(pid, definition)
        return merged

    def get_processor(self, process_id: str) -> BaseProcessor:
        try:
            process_conf = self.processes[process_id]
        except KeyError as err:
            raise UnknownProcessError('Invalid process identifier') from err
        processor = load_plugin('process', process_conf['processor'])
        processor.allow_internal_requests = process_conf.get('allow_internal_requests', False)
        return processor

    def process_metadata(self, process_id: str) -> dict:
        """A process description, cached while its definition is unchanged."""
        # a configured process wins over a deployed one of the same id: no store read
        conf = self._configured.get(process_id) or self.processes.get(process_id)
        if conf is None:
            raise UnknownProcessError('Invalid process identifier')
        cached = self._metadata.get(process_id)
        if cached is None or cached[0] != conf:
            cached = (conf, self.get_processor(process_id).metadata)
            self._metadata[process_id] = cached
        return cached[1]

    def is_idempotent(self, process_id: str) -> bool:
        conf = self._configured.get(process_id) or self.processes.get(process_id, {})
        return bool(conf.get('idempotent') or self.process_metadata(process_id).get('idempotent'))

    # -- submitting and waiting ---------------------------------------------------
    def submit(self, process_id: str, inputs: dict | None = None, *,
               requested_outputs: dict | None = None, response: str = 'raw',
               subscriber: dict | None = None, job_type: str = 'process',
               owner: str | None = None, job_id: str | None = None,
               owner_roles: list[str] | None = None, created: bool = False) -> dict:
        """Commit a job, wake the workers, return the job record.

        `owner_roles`: the roles the job acts with (its permission checks in the worker).
        `created`: the job is kept in status `created` until `start` (Part 4).

        With the celery engine the job is published to the broker only after its row is
        committed; if the broker cannot be reached the job stays `accepted` and the
        workers' sweep publishes it later (it is never lost). With `job_id`, submitting
        again is harmless: the insert fails on the key and the existing job is returned.
        """
        try:
            job = self.repo.add(process_id, job_type=job_type, inputs=inputs or {},
                                requested_outputs=requested_outputs, response=response,
                                subscriber=subscriber,
                                idempotent=self.is_idempotent(process_id), owner=owner,
                                owner_roles=owner_roles, job_id=job_id,
                                **({'status': CREATED, 'message': 'Job created, not started'}
                                   if created else {}))
        except IntegrityError:
            if job_id is None or (job := self.repo.get(job_id)) is None:
                raise
            return job
        if not created:
            self.announce([job['id']])
        return job

    def start(self, job_id: str) -> bool:
        """Queue a `created` job (False if it is not `created` any more)."""
        from ..store import Job
        if not self.repo.transition(job_id, ACCEPTED, where=(Job.status == CREATED,),
                                    message='Job accepted and queued'):
            return False
        self.announce([job_id])
        return True

    def new_job(self, process_id: str, inputs: dict, *, job_type: str,
                owner: str | None, job_id: str | None = None) -> dict:
        """A job row for a caller to insert in its own transaction (the store is shared:
        e.g. an order and its first item jobs, all or nothing); then call `announce`."""
        return self.repo.new_row(process_id, job_type=job_type, inputs=inputs,
                                 idempotent=self.is_idempotent(process_id), owner=owner,
                                 job_id=job_id)

    def announce(self, job_ids: list[str], wake: bool = True) -> None:
        """Committed jobs go to the workers: published to the broker (celery engine; one
        that cannot be reached leaves them to the sweep), or the supervisor is woken."""
        if self.settings.jobs.engine == 'celery':
            from . import cluster
            for job_id in job_ids:
                if cluster.publish(self.settings, job_id):
                    self.repo.mark_queued(job_id)
            return
        if wake and job_ids:
            self.wake()

    def wake(self) -> None:
        """Wake the local engine's supervisor (it also looks every quarter second)."""
        if self.settings.jobs.engine != 'local':
            return
        woken = control.nudge(self.settings)
        if not control.supervised_externally():
            control.ensure_supervisor(self.settings, force=not woken)

    def wait(self, job_id: str, timeout: float) -> dict:
        """Until the job is final or `timeout` passes; return its record.

        Local workers wake the waiting request when the job ends; the store is still read
        every quarter second (dismissals, the cluster engine's remote workers: 10 ms).
        """
        deadline = time.monotonic() + timeout
        local = self.settings.jobs.engine == 'local'
        listener = control.FinishedListener(job_id) if local else None
        try:
            while True:
                job = self.repo.get(job_id)
                left = deadline - time.monotonic()
                if job is None or job['status'] in FINAL or left <= 0:
                    return job
                if listener is not None:
                    listener.wait(min(left, 0.25))
                else:
                    time.sleep(min(left, 0.01))
        finally:
            if listener is not None:
                listener.close()

    def wants_async(self, process_id: str, prefer: str | None) -> bool:
        """Asynchronous if asked for, or if the process cannot run synchronously."""
        if prefer == RequestedProcessExecutionMode.respond_async.value:
            return True
        options = self.process_metadata(process_id).get('jobControlOptions') or [SYNC]
        return SYNC not in options

    def dismiss(self, job_id: str, wait: float = 3.0) -> dict:
        """Stop a job's work, remove its files and mark it dismissed."""
        previous = self.repo.dismiss(job_id)
        job = self.repo.get(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        if previous == RUNNING:
            if self.settings.jobs.engine == 'local':
                control.nudge(self.settings)  # celery: the task's watcher sees the status
            deadline = time.monotonic() + wait
            while job['worker'] and time.monotonic() < deadline:
                time.sleep(0.02)
                job = self.repo.get(job_id)
        if job['status'] == DISMISSED and not job['files_removed'] and not job['worker']:
            self.remove_files(job_id)
            job = self.repo.get(job_id)
        return job

    def remove_files(self, job_id: str, message: str | None = None) -> None:
        self.results.remove(job_id)
        self.repo.mark_files_removed(job_id, message)

    def result(self, job_id: str) -> tuple[str, Any]:
        """Media type and content of a successful job's result."""
        job = self.repo.get(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        if not job['result_file'] or job['files_removed']:
            raise JobResultNotFoundError(job_id)
        try:
            data = self.results.read(job_id, job['result_file'])
        except OSError as err:
            raise JobResultNotFoundError(job_id) from err
        return job['mimetype'], decode(job['mimetype'], data)

    def log_path(self, job_id: str):
        """A local file holding the job's log (as far as it has been published)."""
        return self.results.log_path(job_id)

    def results_dir(self, job_id: str):
        """A local directory holding the job's result files (fetched from the result
        store first when they are not kept on this machine)."""
        return self.results.results_dir(job_id)

    # -- pygeoapi's BaseManager interface -----------------------------------------
    @staticmethod
    def _pygeoapi_job(job: dict) -> dict:
        return {
            'type': job['type'], 'identifier': job['id'], 'process_id': job['process_id'],
            'status': job['status'], 'message': job['message'], 'progress': job['progress'],
            'created': isoformat(job['created']), 'started': isoformat(job['started']),
            'finished': isoformat(job['finished']), 'updated': isoformat(job['updated']),
            'mimetype': job['mimetype'] or 'application/json', 'location': job['result_file'],
        }

    def get_jobs(self, status: JobStatus = None, limit: int | None = None,
                 offset: int | None = None) -> dict:
        query = JobQuery(statuses=[status.value] if status else [],
                         limit=limit or 10, offset=offset or 0)
        jobs, total = self.repo.query(query)
        return {'jobs': [self._pygeoapi_job(j) for j in jobs], 'numberMatched': total}

    def add_job(self, job_metadata: dict) -> str:
        job = self.repo.add(job_metadata['process_id'], job_id=job_metadata.get('identifier'),
                            job_type=job_metadata.get('type', 'process'))
        return job['id']

    def update_job(self, job_id: str, update_dict: dict) -> bool:
        status = update_dict.get('status')
        fields = {k: v for k, v in update_dict.items() if k in ('message', 'progress')}
        if status and status != RUNNING:
            return self.repo.finish(job_id, status, **fields)
        return self.repo.report_progress(job_id, fields.get('progress', 0), fields.get('message'))

    def get_job(self, job_id: str) -> dict:
        job = self.repo.get(job_id)
        if job is None:
            raise JobNotFoundError(job_id)
        return self._pygeoapi_job(job)

    def get_job_result(self, job_id: str) -> tuple[str, Any]:
        return self.result(job_id)

    def delete_job(self, job_id: str) -> bool:
        self.dismiss(job_id)
        return True

    def execute_process(self, process_id: str, data_dict: dict,
                        execution_mode: RequestedProcessExecutionMode | None = None,
                        requested_outputs: dict | None = None,
                        subscriber: Subscriber | None = None,
                        requested_response: str | None = 'raw'):
        """pygeoapi's entry point: same queue and workers as the eoorder routes."""
        if process_id not in self.processes:
            raise UnknownProcessError('Invalid process identifier')
        mode = execution_mode.value if execution_mode else None
        sub = None
        if subscriber is not None:
            sub = {'successUri': subscriber.success_uri, 'inProgressUri': subscriber.in_progress_uri,
                   'failedUri': subscriber.failed_uri}
        job = self.submit(process_id, data_dict, requested_outputs=requested_outputs,
                          response=requested_response or 'raw', subscriber=sub)
        if self.wants_async(process_id, mode):
            headers = {'Preference-Applied': RequestedProcessExecutionMode.respond_async.value}
            return job['id'], 'application/json', None, JobStatus.accepted, headers
        job = self.wait(job['id'], self.settings.jobs.sync_timeout_seconds)
        status = JobStatus(job['status']) if job['status'] != ACCEPTED else JobStatus.accepted
        if job['status'] == 'successful':
            mimetype, outputs = self.result(job['id'])
            return job['id'], mimetype, outputs, status, None
        return job['id'], 'application/json', job['error'], status, None

    def __repr__(self):
        return f'<Manager> {self.settings.store_url}'

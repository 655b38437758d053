"""The job engine as a pygeoapi process manager (`server.manager.name`).

Jobs are committed to the SQL store before anyone is told about them and run in the
engine's worker processes, never in the web process. Everything that runs work
(process executions, order items, harvests) submits it here. The manager is thin: the
processes are the process catalogue's, results the result store's, dispatch the
dispatcher's, dismissal the engine core's (`JobServices`, shared with the component
registry).
"""

from __future__ import annotations

import collections
from pathlib import Path
from typing import Any

from pygeoapi.process.base import BaseProcessor, JobNotFoundError, UnknownProcessError
from pygeoapi.process.manager.base import BaseManager
from pygeoapi.util import JobStatus, RequestedProcessExecutionMode, Subscriber

from ..config import Settings
from ..store import isoformat
from .repository import ACCEPTED, RUNNING, JobQuery
from .services import JobServices


class Manager(BaseManager):
    """pygeoapi process manager over the job engine's services."""

    def __init__(self, manager_def: dict, services: JobServices | None = None):
        # BaseManager.__init__ is not called: it fills `processes` in place, which here is
        # a merged view of configured and deployed processes.
        self.name = manager_def['name']
        self.connection = manager_def.get('connection')
        self.output_dir = manager_def.get('output_dir')
        self.is_async = True
        self.supports_subscribing = True
        self.settings = Settings.from_dict(manager_def['settings'])
        self.services = services or JobServices.for_settings(
            self.settings, manager_def.get('processes', {}))
        self.store = self.services.store
        self.repo = self.services.repo
        self.registry = self.services.registry
        self.results = self.services.results
        self.runners = self.services.runners
        self.catalogue = self.services.processes
        self.engine = self.services.engine
        self.jobs = self.services.jobs

    # -- processes: configured ones plus those deployed at run time ---------------
    @property
    def configured_processes(self) -> collections.OrderedDict:
        """Processes of the configuration file: built in, immutable."""
        return self.catalogue.configured

    @property
    def auth(self):
        """The access rules of this deployment (authenticators, roles, permissions)."""
        return self.services.auth

    @property
    def processes(self) -> collections.OrderedDict:
        """Configured processes, then deployed ones the caller may see (private ones only
        by their owner and admins; outside requests, e.g. in workers, all of them)."""
        return self.catalogue.visible()

    def get_processor(self, process_id: str) -> BaseProcessor:
        return self.catalogue.processor(process_id)

    def process_metadata(self, process_id: str) -> dict:
        """A process description, cached while its definition is unchanged."""
        return self.catalogue.metadata(process_id)

    def is_idempotent(self, process_id: str) -> bool:
        return self.catalogue.is_idempotent(process_id)

    # -- jobs: the job service's --------------------------------------------------------
    def submit(self, process_id: str, inputs: dict | None = None, **options) -> dict:
        """Commit a job, wake the workers, return the job record (see `JobService`)."""
        return self.jobs.submit(process_id, inputs, **options)

    def start(self, job_id: str, job: dict | None = None) -> bool:
        return self.jobs.start(job_id, job)

    def new_job(self, process_id: str, inputs: dict, **options) -> dict:
        return self.jobs.new_job(process_id, inputs, **options)

    def announce(self, job_ids: list[str], wake: bool = True) -> None:
        self.jobs.announce(job_ids, wake)

    def wake(self) -> None:
        self.jobs.wake()

    def wait(self, job_id: str, timeout: float) -> dict:
        return self.jobs.wait(job_id, timeout)

    def sync_slot(self):
        """Held while a synchronous request submits and waits (ServerBusy if none)."""
        return self.jobs.sync_waits.slot()

    def wants_async(self, process_id: str, prefer: str | None) -> bool:
        return self.jobs.wants_async(process_id, prefer)

    def dismiss(self, job_id: str, wait: float = 3.0) -> dict:
        return self.jobs.dismiss(job_id, wait)

    def remove_files(self, job_id: str, message: str | None = None) -> None:
        self.engine.remove_files(job_id, message)

    def result(self, job_id: str) -> tuple[str, Any]:
        return self.jobs.result(job_id)

    def log_path(self, job_id: str) -> Path:
        return self.jobs.log_path(job_id)

    def results_dir(self, job_id: str) -> Path:
        return self.jobs.results_dir(job_id)

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
            sub = {'successUri': subscriber.success_uri,
                   'inProgressUri': subscriber.in_progress_uri,
                   'failedUri': subscriber.failed_uri}
        if self.wants_async(process_id, mode):
            job = self.submit(process_id, data_dict, requested_outputs=requested_outputs,
                              response=requested_response or 'raw', subscriber=sub)
            headers = {'Preference-Applied': RequestedProcessExecutionMode.respond_async.value}
            return job['id'], 'application/json', None, JobStatus.accepted, headers
        with self.sync_slot():
            job = self.submit(process_id, data_dict, requested_outputs=requested_outputs,
                              response=requested_response or 'raw', subscriber=sub)
            job = self.wait(job['id'], self.settings.jobs.sync_timeout_seconds)
        status = JobStatus(job['status']) if job['status'] != ACCEPTED else JobStatus.accepted
        if job['status'] == 'successful':
            mimetype, outputs = self.result(job['id'])
            return job['id'], mimetype, outputs, status, None
        return job['id'], 'application/json', job['error'], status, None

    def __repr__(self):
        return f'<Manager> {self.settings.store_url}'

"""Jobs as a service: submit, start, wait, read results, dismiss.

What every adapter calls (OGC API - Processes, OSEO's order items, harvests, WPS) and
what the pygeoapi process manager (`manager.py`) delegates to. Jobs are committed to the
store before anyone is told about them; the dispatcher then hands them to the workers.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pygeoapi.process.base import JobNotFoundError, JobResultNotFoundError
from pygeoapi.util import RequestedProcessExecutionMode
from sqlalchemy.exc import IntegrityError

from ..processes.catalogue import ProcessCatalogue
from .dispatch import Dispatcher
from .engine import JobEngine
from .quotas import QuotaService
from .repository import ACCEPTED, CREATED, FINAL, JobRepository
from .result_store import ResultStore
from .results import decode
from .sync_waits import SyncWaits

SYNC = 'sync-execute'


class JobService:
    """Submitting jobs and reading them back, for one configuration."""

    def __init__(self, repo: JobRepository, processes: ProcessCatalogue,
                 dispatcher: Dispatcher, results: ResultStore, engine: JobEngine,
                 quotas: QuotaService | None = None, sync_waits: SyncWaits | None = None):
        self.repo = repo
        self.sync_waits = sync_waits or SyncWaits(None)
        self.quotas = quotas
        self.processes = processes
        self.dispatcher = dispatcher
        self.results = results
        self.engine = engine

    def submit(self, process_id: str, inputs: dict | None = None, *,
               requested_outputs: dict | None = None, response: str = 'raw',
               subscriber: dict | None = None, job_type: str = 'process',
               owner: str | None = None, job_id: str | None = None,
               owner_roles: list[str] | None = None, created: bool = False,
               details: dict | None = None) -> dict:
        """Commit a job, wake the workers, return the job record.

        `owner_roles`: the roles the job acts with (its permission checks in the worker).
        `created`: the job is kept in status `created` until `start` (Part 4).
        `details`: what the client said beside the inputs (e.g. the workspace of its results).

        With the celery engine the job is published to the broker only after its row is
        committed; if the broker cannot be reached the job stays `accepted` and the
        workers' sweep publishes it later (it is never lost). With `job_id`, submitting
        again is harmless: the insert fails on the key and the existing job is returned.
        A job that would take its owner over the queued-jobs quota raises QuotaExceeded.
        """
        guard = None if self.quotas is None or created else \
            self.quotas.queue_guard(owner, owner_roles, job_type)
        try:
            job = self.repo.add(process_id, guard, job_type=job_type, inputs=inputs or {},
                                requested_outputs=requested_outputs, response=response,
                                subscriber=subscriber,
                                idempotent=self.processes.is_idempotent(process_id), owner=owner,
                                owner_roles=owner_roles, job_id=job_id, details=details,
                                **({'status': CREATED, 'message': 'Job created, not started'}
                                   if created else {}))
        except IntegrityError:
            if job_id is None or (job := self.repo.get(job_id)) is None:
                raise
            return job
        if not created:
            self.announce([job['id']], jobs=[job])
        return job

    def start(self, job_id: str, job: dict | None = None) -> bool:
        """Queue a `created` job (False if it is not `created` any more); QuotaExceeded
        if it would take its owner over the queued-jobs quota. `job`: its record if the
        caller just read it (its owner and type are checked against the quota)."""
        if job is None and self.quotas is not None:
            job = self.repo.get(job_id)
        guard = None if self.quotas is None or job is None or job['status'] != CREATED else \
            self.quotas.queue_guard(job['owner'], job['owner_roles'], job['type'])
        if not self.repo.transition(job_id, ACCEPTED, only_from=(CREATED,),
                                    guard=guard, message='Job accepted and queued'):
            return False
        self.announce([job_id], jobs=[job] if job is not None else [])
        return True

    def new_job(self, process_id: str, inputs: dict, *, job_type: str,
                owner: str | None, job_id: str | None = None) -> dict:
        """A job row for a caller to insert in its own transaction (the store is shared:
        e.g. an order and its first item jobs, all or nothing); then call `announce`."""
        return self.repo.new_row(process_id, job_type=job_type, inputs=inputs,
                                 idempotent=self.processes.is_idempotent(process_id), owner=owner,
                                 job_id=job_id)

    def announce(self, job_ids: list[str], wake: bool = True, jobs: Sequence[dict] = ()) -> None:
        """Committed jobs go to the workers: published to the broker (celery engine; one
        that cannot be reached leaves them to the sweep), or the supervisor is woken;
        `jobs`: their records, if the caller has them."""
        self.dispatcher.announce(job_ids, wake, jobs)

    def wake(self) -> None:
        """Wake the local engine's supervisor (it also looks every quarter second)."""
        self.dispatcher.wake()

    def wait(self, job_id: str, timeout: float) -> dict:
        """Until the job is final or `timeout` passes; return its record.

        Local workers wake the waiting request when the job ends; the store is still read
        every quarter second (dismissals, the cluster engine's remote workers: 10 ms).
        """
        deadline = time.monotonic() + timeout
        listener = self.dispatcher.listener(job_id)
        try:
            while True:
                job = self.repo.get(job_id)
                left = deadline - time.monotonic()
                if job is None or job['status'] in FINAL or left <= 0:
                    return job
                listener.wait(min(left, 0.25))
        finally:
            listener.close()

    def wants_async(self, process_id: str, prefer: str | None) -> bool:
        """Asynchronous if asked for, or if the process cannot run synchronously."""
        if prefer == RequestedProcessExecutionMode.respond_async.value:
            return True
        options = self.processes.metadata(process_id).get('jobControlOptions') or [SYNC]
        return SYNC not in options

    def dismiss(self, job_id: str, wait: float = 3.0) -> dict:
        """Stop a job's work, remove its files and mark it dismissed."""
        return self.engine.dismiss(job_id, wait)

    def remove_files(self, job_id: str, message: str | None = None) -> None:
        self.engine.remove_files(job_id, message)

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

    def log_path(self, job_id: str) -> Path:
        """A local file holding the job's log (as far as it has been published)."""
        return self.results.log_path(job_id)

    def results_dir(self, job_id: str) -> Path:
        """A local directory holding the job's result files (fetched from the result
        store first when they are not kept on this machine)."""
        return self.results.results_dir(job_id)

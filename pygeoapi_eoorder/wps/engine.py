"""What the WPS operations need from the services: the processes a caller may see, jobs
submitted to the one engine (owned by the caller), their status and their results.

Everything the adapter asks of the job engine goes through here."""

from __future__ import annotations

import os
from datetime import timedelta
from typing import Any

from flask import has_request_context, request
from pygeoapi.process.base import UnknownProcessError

from ..auth import current_user
from ..execution.paths import open_regular_file
from ..jobs.quotas import QuotaExceeded
from ..jobs.repository import CREATED, FINAL, JobQuery
from ..jobs.results import JSON_TYPE
from ..jobs.status import results_document
from ..notifications import Notifier
from ..processes import permissions, workspace_choice
from . import describe, transactions
from .errors import WpsError

MAX_VALUE_BYTES = 8 * 1024 * 1024  # an output given by value is read into the document
WORKSPACE_HEADER = 'EOOrder-Workspace'  # extension: the workspace of the results


class Engine:
    """The process registry and the job engine as seen by one WPS request."""

    def __init__(self, manager):
        self.manager = manager

    # -- processes ----------------------------------------------------------------
    def process_ids(self) -> list[str]:
        """Every process the caller may see, except internal (`_`) ones."""
        return [pid for pid in self.manager.processes if not pid.startswith('_')]

    def describe(self, process_id: str) -> dict:
        if process_id.startswith('_') or process_id not in self.manager.processes:
            raise WpsError('NoSuchProcess', f'no process {process_id!r}', 'Identifier')
        return self.view(process_id)

    def view(self, process_id: str) -> dict:
        """The WPS view of a process's description in English (a job's process too, even
        an internal one); NoSuchProcess if it is gone."""
        try:  # the resource key is the id (a processor may describe several resources)
            metadata = self.manager.process_metadata(process_id)
        except UnknownProcessError:
            raise WpsError('NoSuchProcess', f'no process {process_id!r}',
                           'Identifier') from None
        # titles and descriptions may be multilingual ({'en': ..., 'fr': ...}): one string
        return transactions.wps_view({**describe.english(metadata), 'id': process_id})

    # -- jobs -----------------------------------------------------------------------
    def notifier(self) -> Notifier:
        """The notification service of this configuration (ows:ResponseHandler)."""
        return Notifier(self.manager.settings.block)

    def allows_internal(self, process_id: str) -> bool:
        """May the process's requests (and its notifications) reach internal addresses?"""
        return bool(self.manager.get_processor(process_id).allow_internal_requests)

    def submit(self, process_id: str, inputs: dict, outputs: dict | None,
               response: str, handlers: list[dict] | None = None) -> dict:
        """Queue a job as the caller (refused before queueing if the caller may not); its
        response handlers are stored with it (they survive a restart)."""
        user = current_user()
        refusal = permissions.refusal(self.manager.get_processor(process_id), self.manager,
                                      user, inputs)
        if refusal is not None:
            raise WpsError('NotAuthorized' if refusal.status in (401, 403)
                           else 'NoApplicableCode', refusal.detail, status=refusal.status)
        named = request.headers.get(WORKSPACE_HEADER) if has_request_context() else None
        try:
            details = workspace_choice.job_details(
                self.manager, self.manager.get_processor(process_id), user, named)
        except workspace_choice.WorkspaceRefused as err:
            raise WpsError('InvalidParameterValue', str(err), WORKSPACE_HEADER) from None
        try:
            return self.manager.submit(process_id, inputs, requested_outputs=outputs,
                                       details=details,
                                       response=response, owner=user.name if user else None,
                                       subscriber={'handlers': handlers} if handlers else None,
                                       owner_roles=sorted(user.roles) if user else None)
        except QuotaExceeded as err:  # WPS's code for "cannot queue it now"; 4xx: the
            raise WpsError('ServerBusy', str(err), status=429) from err  # caller's quota

    def wait(self, job_id: str) -> dict:
        return self.manager.wait(job_id, self.manager.settings.jobs.sync_timeout_seconds)

    def job(self, job_id: str) -> dict:
        """The job if the caller may see it; otherwise NoSuchJob (as if absent)."""
        job = self.manager.repo.get(job_id) if job_id else None
        user = current_user()
        if job is None or not self.manager.auth.owns(user, job['owner']) or (
                job['status'] == CREATED and job['owner'] != (user.name if user else None)):
            raise WpsError('NoSuchJob', f'no job {job_id!r}', 'JobID')
        return job

    def jobs(self, limit: int = 100, offset: int = 0) -> list[dict]:
        """The caller's jobs (an admin's: all), newest first."""
        user = current_user()
        query = JobQuery(limit=limit, offset=offset, created_of=user.name if user else '')
        if not self.manager.auth.is_admin(user):
            query.owner = user.name if user else ''
        return self.manager.repo.query(query)[0]

    def dismiss(self, job_id: str) -> dict:
        self.job(job_id)
        return self.manager.dismiss(job_id)

    def expiration(self, job: dict):
        """When a finished job's results are removed (None while it runs)."""
        if job['status'] not in FINAL or not job.get('finished'):
            return None
        return job['finished'] + timedelta(seconds=self.manager.settings.jobs.retention_seconds)

    # -- results ----------------------------------------------------------------------
    def outputs(self, job: dict, base_url: str) -> dict[str, Any]:
        """Named outputs of a successful job: plain values, or `{href, type}` for files."""
        if job['status'] != 'successful' or job['files_removed']:
            raise WpsError('ResultNotReady' if job['status'] not in FINAL else 'NoSuchJob',
                           f"job {job['id']} has no results ({job['status']})", 'JobID')
        try:
            mimetype, outputs = self.manager.result(job['id'])
        except Exception:  # removed or unreadable since the job ended
            raise WpsError('NoApplicableCode', f"the results of job {job['id']} cannot be "
                           'read', 'JobID', status=500) from None
        try:
            process = self.manager.process_metadata(job['process_id'])
        except Exception:
            process = {'outputs': {name: {} for name in outputs}
                       if isinstance(outputs, dict) else {}}
        if mimetype == JSON_TYPE:
            outputs = _rebased(outputs, _written_base(job, base_url), base_url, job['id'])
        return dict(results_document(process, job, outputs, mimetype, base_url))

    def raw_result(self, job: dict) -> tuple[str, Any]:
        """Media type and content of the job's result as the process returned it."""
        return self.manager.result(job['id'])

    def result_file(self, job: dict, href: str, base_url: str) -> bytes | None:
        """Content of a result file the job wrote (None: not one of its files, too big)."""
        prefix = f"{base_url.rstrip('/')}/jobs/{job['id']}/results/"
        if not href.startswith(prefix):
            return None
        handle = open_regular_file(self.manager.results_dir(job['id']), href[len(prefix):])
        if handle is None:
            return None
        with handle:
            if os.fstat(handle.fileno()).st_size > MAX_VALUE_BYTES:
                return None
            return handle.read()


def _written_base(job: dict, base_url: str) -> str:
    return (job.get('base_url') or base_url).rstrip('/')


def _rebased(value, written: str, wanted: str, job_id: str):
    """Result hrefs the worker wrote with the submitting request's base URL, as seen
    from this request's."""
    old, new = f'{written}/jobs/{job_id}/results', f"{wanted.rstrip('/')}/jobs/{job_id}/results"
    if old == new:
        return value
    if isinstance(value, list):
        return [_rebased(item, written, wanted, job_id) for item in value]
    if not isinstance(value, dict):
        return value
    rebased = {key: _rebased(item, written, wanted, job_id) for key, item in value.items()}
    link = rebased.get('href')
    if isinstance(link, str) and link.startswith(old):
        rebased['href'] = new + link[len(old):]
    return rebased

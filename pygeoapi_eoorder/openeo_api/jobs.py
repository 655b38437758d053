"""openEO batch jobs and synchronous processing as jobs of the shared engine (process
`_openeo_graph`): batch jobs are created, then started; `/result` submits a job and waits
for it. Another user's job answers as if it did not exist."""

from __future__ import annotations

from flask import Response, request, send_file

from ..datacube import estimate
from ..datacube.errors import GraphError
from ..datacube.job import BATCH, OUTPUT_FOLDER, PROCESS_ID, SYNC, raster_fields, \
    remove_results
from ..datacube.run import check, graph_of, uses_other_processes
from ..datacube.ogc_steps import step_ids
from ..execution.paths import open_regular_file
from ..jobs.quotas import QuotaExceeded
from ..jobs.repository import JobQuery
from ..processes import workspace_choice
from ..store import isoformat
from . import job_details as details
from .errors import error, json_response, not_found
from .views import auth_required, quota_refusal, base, graph_error, json_body, signed_in

STATUS = {'created': 'created', 'accepted': 'queued', 'running': 'running',
          'successful': 'finished', 'failed': 'error', 'dismissed': 'canceled'}
BUSY = ('accepted', 'running')  # openEO: a queued or running job is locked
FINISHED = ('successful', 'failed', 'dismissed')


class JobViews:
    def __init__(self, manager, user_views, collections):
        self.manager = manager
        self.user_views = user_views
        self.collections = collections  # () -> the cube collections (estimates)

    # -- helpers ------------------------------------------------------------------
    def _own_job(self, job_id: str):
        """(user, job, refusal): the caller's openEO job, or an answer to give."""
        user = signed_in()
        if user is None:
            return None, None, auth_required()
        job = self.manager.repo.get(job_id)
        if job is None or job['type'] != BATCH or not self.manager.auth.owns(user,
                                                                             job['owner']):
            return user, None, not_found(f'job {job_id!r}', 'JobNotFound')
        return user, job, None

    def _inputs(self, user, body: dict) -> tuple[dict | None, Response | None]:
        try:
            graph = graph_of(body.get('process'))
        except GraphError as err:
            return None, graph_error(err)
        used = self.user_views.used_by(user, graph)
        steps = step_ids(self.manager) if uses_other_processes(graph, used) else {}
        problems = check(graph, used, steps)
        if problems:
            return None, graph_error(problems[0])
        return {'process': body['process'], 'user_processes': used}, None

    def _workspace_refusal(self, user, given: dict, job_type: str = BATCH):
        """The answer to a `workspace` the caller may not write into (None: fine)."""
        if given.get('workspace') is None:
            return None
        if job_type != BATCH:
            return error(400, 'BadRequest', 'workspace: only the results of batch jobs are '
                         'stored in a workspace')
        try:
            workspace_choice.checked(self.manager, user, given['workspace'])
        except workspace_choice.WorkspaceRefused as err:
            return error(400, 'BadRequest', str(err))
        return None

    @staticmethod
    def describe(job: dict, full: bool = False) -> dict:
        inputs = job['inputs'] or {}
        found = {'id': job['id'], **{k: v for k, v in (job.get('details') or {}).items()
                                     if k in details.FIELDS},
                 'status': STATUS.get(job['status'], 'error'),
                 'created': isoformat(job['created']), 'updated': isoformat(job['updated']),
                 'progress': job['progress']}
        if full:
            found['process'] = inputs.get('process')
        return found

    # -- routes ---------------------------------------------------------------------
    def list_jobs(self):
        user = signed_in()
        if user is None:
            return auth_required()
        limit = min(max(request.args.get('limit', 100, type=int) or 100, 1), 1000)
        owner = None if self.manager.auth.is_admin(user) else user.name
        jobs, _ = self.manager.repo.query(JobQuery(types=[BATCH], owner=owner, limit=limit))
        return json_response({'jobs': [self.describe(j) for j in jobs], 'links': []})

    def _submit(self, job_type: str, **options) -> tuple[dict | None, Response | None]:
        """The caller's graph (the JSON body) submitted as a job of `job_type`, or the
        refusal to answer (not signed in, bad body, bad graph)."""
        user = signed_in()
        if user is None:
            return None, auth_required()
        body, refusal = json_body()
        if refusal:
            return None, refusal
        given, problem = details.given(body)
        if problem:
            return None, error(400, 'BadRequest', problem)
        refusal = self._workspace_refusal(user, given, job_type)
        if refusal:
            return None, refusal
        inputs, refusal = self._inputs(user, body)
        if refusal:
            return None, refusal
        try:
            job = self.manager.submit(PROCESS_ID, inputs, job_type=job_type, owner=user.name,
                                      owner_roles=sorted(user.roles), **options)
        except QuotaExceeded as err:
            return None, quota_refusal(err)
        if given and job_type == BATCH:
            self.manager.repo.set_details(job['id'], given)
        return job, None

    def create(self):
        job, refusal = self._submit(BATCH, created=True)
        if refusal:
            return refusal
        location = f'{base()}/jobs/{job["id"]}'
        return Response(status=201, headers={'Location': location,
                                             'OpenEO-Identifier': job['id']})

    def get(self, job_id: str):
        _, job, refusal = self._own_job(job_id)
        return refusal or json_response(self.describe(job, full=True))

    def update(self, job_id: str):
        user, job, refusal = self._own_job(job_id)
        if refusal:
            return refusal
        body, refusal = json_body()
        if refusal:
            return refusal
        given, problem = details.given(body, partial=True)
        if problem:
            return error(400, 'BadRequest', problem)
        if not given and 'process' not in body:
            return error(400, 'NoDataForUpdate', 'nothing to change: give title, '
                         'description, plan, budget, log_level, workspace or process')
        locked = error(400, 'JobLocked', 'a queued or running job cannot be changed; its '
                       'process and workspace can be changed only before it starts')
        if job['status'] in BUSY or ('process' in body or 'workspace' in given) \
                and job['status'] != 'created':
            return locked
        refusal = self._workspace_refusal(user, given)
        if refusal:
            return refusal
        if 'process' in body:
            inputs, refusal = self._inputs(user, body)
            if refusal:
                return refusal
            if not self.manager.repo.update_created(job_id, inputs=inputs):
                return locked
        merged = {k: v for k, v in {**(job.get('details') or {}), **given}.items()
                  if v is not None}
        unless = BUSY + (FINISHED if 'workspace' in given else ())  # chosen before a start
        if given and not self.manager.repo.set_details(job_id, merged, unless=unless):
            return locked
        return Response(status=204)

    def delete(self, job_id: str):
        """The job, its work, files and result records are removed."""
        _, job, refusal = self._own_job(job_id)
        if refusal:
            return refusal
        self.manager.dismiss(job_id, wait=10.0)
        self.manager.remove_files(job_id)
        remove_results(self.manager.settings, job_id)
        self.manager.repo.purge(job_id)
        return Response(status=204)

    def start(self, job_id: str):
        _, job, refusal = self._own_job(job_id)
        if refusal:
            return refusal
        if job['status'] == 'created':
            try:
                self.manager.start(job_id, job)
            except QuotaExceeded as err:
                return quota_refusal(err)
        return Response(status=202)

    def stop(self, job_id: str):
        _, job, refusal = self._own_job(job_id)
        if refusal:
            return refusal
        if job['status'] in ('created', 'accepted', 'running'):
            self.manager.dismiss(job_id)
        return Response(status=204)

    def estimate(self, job_id: str):
        """From what the graph reads and the owner's past finished jobs (see
        `datacube.estimate`); fields that nothing supports are left out."""
        _, job, refusal = self._own_job(job_id)
        if refusal:
            return refusal
        collections = self.collections()

        def reads(found: dict):
            try:
                return estimate.volume(collections, graph_of((found['inputs'] or {}).get(
                    'process')))
            except GraphError:
                return None
        past, _ = self.manager.repo.query(JobQuery(
            types=[BATCH], owner=job['owner'], statuses=['successful'],
            limit=estimate.HISTORY))
        history = [(reads(p), p['duration'] or 0.0,
                    sum(f.get('size') or 0 for f in self._files(p['id'])))
                   for p in past if p['id'] != job_id and not p['files_removed']]
        found = estimate.estimate(reads(job), history)
        if found is None:
            return error(500, 'EstimateComplexity', 'what the process reads is not known '
                         'before it runs, so it cannot be estimated')
        return json_response(found)

    def logs(self, job_id: str):
        _, job, refusal = self._own_job(job_id)
        if refusal:
            return refusal
        try:
            text = self.manager.log_path(job_id).read_text(errors='replace')
        except OSError:
            text = ''
        entries = [{'id': str(number), 'level': _level(line), 'message': line}
                   for number, line in enumerate(text.splitlines()) if line.strip()]
        if job['status'] == 'failed' and job.get('message'):
            entries.append({'id': 'error', 'level': 'error', 'message': job['message']})
        return json_response({'logs': entries, 'links': []})

    def results(self, job_id: str):
        _, job, refusal = self._own_job(job_id)
        if refusal:
            return refusal
        if job['status'] != 'successful' or job['files_removed']:
            return error(400, 'JobNotFinished', f'job {job_id} is '
                         f'{STATUS.get(job["status"], "error")}')
        document = self._document(job_id)
        # no billing here: downloading the results costs nothing (openEO: 0 for the owner)
        return json_response(results_item(job, _files_of(document), document),
                             headers={'OpenEO-Costs': '0'})

    def _document(self, job_id: str) -> dict:
        """The job's result document ({files, geometry, bbox}); {} without one."""
        try:
            _, document = self.manager.result(job_id)
        except Exception:  # no result (removed, failed): no files
            return {}
        return document if isinstance(document, dict) else {}

    def _files(self, job_id: str) -> list[dict]:
        """The files the job wrote ({name, type, size}), from its result document."""
        return _files_of(self._document(job_id))

    def asset(self, job_id: str, name: str):
        _, job, refusal = self._own_job(job_id)
        if refusal:
            return refusal
        found = [f for f in self._files(job_id) if f['name'] == name]
        if job['status'] != 'successful' or job['files_removed'] or not found:
            return not_found(f'result {name!r}')
        return self._send(job_id, name, found[0].get('type')) or \
            not_found(f'result {name!r}')

    def _send(self, job_id: str, name: str, media: str | None) -> Response | None:
        handle = open_regular_file(self.manager.results_dir(job_id), f'{OUTPUT_FOLDER}/{name}')
        if handle is None:
            return None
        return send_file(handle, mimetype=media or 'application/octet-stream',
                         download_name=name)

    def result(self):
        """POST /result: the graph run as a job of the engine, answered when it ends."""
        with self.manager.sync_slot():  # (none free: 503, before anything is queued)
            job, refusal = self._submit(SYNC)
            if refusal:
                return refusal
            job = self.manager.wait(job['id'], self.manager.settings.jobs.sync_timeout_seconds)
        if job['status'] == 'failed':
            return _job_error(job)
        if job['status'] != 'successful':  # (nobody can fetch what it would compute)
            self.manager.dismiss(job['id'])
            return error(408, 'Timeout', 'processing takes too long for a synchronous '
                         'request (it was stopped); create a batch job (POST /jobs) instead')
        files = self._files(job['id'])
        if len(files) != 1:
            return error(400, 'ProcessGraphInvalid', f'the graph wrote {len(files)} files; '
                         'a synchronous result is one file (use a batch job)')
        return self._send(job['id'], files[0]['name'], files[0].get('type')) or \
            not_found('result')


def _job_error(job: dict) -> Response:
    message = job.get('message') or 'processing failed'
    code, _, text = message.partition(': ')
    if not text or not code.isidentifier():
        code, text = 'Internal', message
    return error(500 if code == 'Internal' else 400, code, text)


def _level(line: str) -> str:
    for level in ('error', 'warning', 'debug'):
        if f' {level.upper()} ' in line or line.startswith(level.upper()):
            return level
    return 'info'


def _in_workspace(file: dict) -> dict:
    """The copy of a result file in the job's workspace (STAC alternate assets)."""
    href = file.get('href')
    return {'alternate': {'workspace': {'href': href}}} if href else {}


def _files_of(document: dict) -> list[dict]:
    files = document.get('files')
    return [f for f in files or [] if isinstance(f, dict) and f.get('name')]


def results_item(job: dict, files: list[dict], document: dict | None = None) -> dict:
    """The job's results as a STAC item (assets: the written files; geometry and bbox:
    the footprint of the rasters written, null when none was)."""
    job_url = f'{base()}/jobs/{job["id"]}'
    about = job.get('details') or {}
    assets = {f['name']: {'href': f'{job_url}/results/assets/{f["name"]}', 'roles': ['data'],
                          'type': f.get('type') or 'application/octet-stream',
                          'title': f['name'], 'file:size': f.get('size'),
                          **raster_fields(f.get('bands'), f.get('datetime')),
                          **_in_workspace(f)}
              for f in files}
    return {
        'type': 'Feature', 'stac_version': '1.1.0', 'id': job['id'],
        'geometry': (document or {}).get('geometry'),
        **({'bbox': document['bbox']} if (document or {}).get('bbox') else {}),
        'properties': {'datetime': isoformat(job['finished']),
                       'title': about.get('title'), 'description': about.get('description')},
        'assets': assets,
        'links': [{'rel': 'self', 'href': f'{job_url}/results', 'type': 'application/json'},
                  {'rel': 'canonical', 'href': f'{job_url}/results',
                   'type': 'application/json'}],
    }

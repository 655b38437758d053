"""OGC API - Processes Part 4 "Job Management" (draft): create a job, keep it `created`
until started, update it, read its definition and inputs, and its W3C PROV provenance.

Ownership is the job routes': another user's job does not exist here, and a `created`
job exists only for its owner (not even admins see it before it is started).
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from urllib.parse import urlparse

from flask import Request, Response

from .. import nesting
from ..auth import current_user
from ..web.problem import problem
from ..jobs import provenance
from ..jobs.quotas import QuotaExceeded
from ..jobs.repository import CREATED
from ..jobs.results import JSON_TYPE
from ..jobs.status import results_document, status_info
from ..notifications import Notifier
from ..processes import permissions, workspace_choice
from . import execute_request, quotas
from .jobs import JobRoutes, _json, _prefer_tokens

CONFORMANCE = [
    'http://www.opengis.net/spec/ogcapi-processes-4/1.0/conf/job-management',
    'http://www.opengis.net/spec/ogcapi-processes-4/1.0/conf/ogcapi-processes',
    'http://www.opengis.net/spec/ogcapi-processes-4/1.0/conf/provenance',
]
P4_EXCEPTIONS = 'http://www.opengis.net/def/exceptions/ogcapi-processes-4/1.0/'
LOCKED = P4_EXCEPTIONS + 'locked'  # 423 Locked (/req/job-management/update-response-locked)
LOCKED_STATUS = 423
# Content-Schema of a job definition: the execute request schemas of Part 1 and Part 3
EXECUTE_SCHEMAS = ('execute.yaml', 'execute.json', 'execute-workflows.yaml',
                   'execute-workflows.json')
DEFINITION_MEMBERS = ('inputs', 'outputs', 'response', 'subscriber', 'workspace')
SUBSCRIBER_URIS = ('successUri', 'inProgressUri', 'failedUri')  # not a protocol's handlers
PATCH_TYPES = ('application/json', 'application/merge-patch+json')
EXECUTION_MODE = 'executionMode'  # of a created job, in its details: 'sync' or 'async'


def _is_execute_schema(value: str) -> bool:
    """A `Content-Schema` naming an execute request schema (a URI, maybe in <…>)."""
    uri = value.strip().strip('<>"').split('#')[0].split('?')[0].rstrip('/')
    return uri.rsplit('/', 1)[-1] in EXECUTE_SCHEMAS


def wants_created(header: str | None) -> bool:
    """`Prefer: status="created"` (RFC 7240 preference with a quoted value)."""
    for preference in (header or '').split(','):
        name, _, value = preference.split(';')[0].partition('=')
        if name.strip().lower() == 'status' and value.strip().strip('"') == 'created':
            return True
    return False


def merge_patch(target, patch):
    """RFC 7396 JSON Merge Patch: objects merge member by member, null removes."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


class JobManagementRoutes:
    """Part 4 views over the shared job engine; `jobs` gives ownership and execution."""

    def __init__(self, jobs: JobRoutes):
        self.jobs = jobs

    @property
    def manager(self):
        return self.jobs.manager

    def _json_object(self, request: Request, media_ok: bool, media_rule: str,
                     shape: str) -> dict | Response:
        """The request body as a JSON object, or the problem answer (413, 415, 400)."""
        too_large = self.jobs._body_too_large(request)
        if too_large is not None:
            return too_large
        if not media_ok:
            return problem(415, P4_EXCEPTIONS + 'unsupported-media-type',
                           f'{media_rule}, not {request.mimetype or "(none)"}')
        schema = request.headers.get('Content-Schema')
        if schema is not None and not _is_execute_schema(schema):
            return problem(422, P4_EXCEPTIONS + 'unsupported-schema', f'Content-Schema '
                           f'{schema[:200]!r}: job definitions are execute requests '
                           f'({", ".join(EXECUTE_SCHEMAS)} of OGC API - Processes)')
        try:
            body = json.loads(request.get_data() or b'null')
        except (ValueError, RecursionError):
            return problem(400, 'invalid-parameter', 'request body: not valid JSON')
        if not isinstance(body, dict):
            return problem(400, 'invalid-parameter', f'request body: must be {shape}')
        return body

    def _not_found(self, job_id: str) -> Response:
        return problem(404, 'no-such-job', f'job {job_id!r} does not exist')

    def _process_id(self, named) -> str | None:
        """The process an execute request names: its id, or its URI on this server."""
        if not isinstance(named, str) or not named:
            return None
        if '/' not in named:
            return named
        path = urlparse(named).path.rstrip('/')
        marker = '/processes/'
        if marker not in path or not named.startswith(self.jobs.base_url + '/'):
            return None
        return path.rsplit(marker, 1)[1] or None

    def _definition(self, job: dict) -> dict:
        """The execute request of a job as stored."""
        definition = {'process': f"{self.jobs.base_url}/processes/{job['process_id']}",
                      'inputs': job['inputs'] or {}}
        if job['requested_outputs']:
            definition['outputs'] = job['requested_outputs']
        definition['response'] = job['response'] or 'raw'
        subscriber = {k: v for k, v in (job['subscriber'] or {}).items()
                      if v and k in SUBSCRIBER_URIS}
        if subscriber:
            definition['subscriber'] = subscriber
        workspace = (job['details'] or {}).get(workspace_choice.DETAIL)
        if workspace:
            definition['workspace'] = workspace
        return definition

    # -- POST /jobs ---------------------------------------------------------------
    def create(self, request: Request) -> Response:
        """Execute at once (as `POST /processes/{id}/execution`), or, with
        `Prefer: status="created"`, keep the job `created` until it is started."""
        json_media = request.mimetype == 'application/json' or \
            request.mimetype.endswith('+json')
        body = self._json_object(request, json_media, 'a job definition must be '
                                 'application/json', 'an execute request (a JSON object) '
                                 'naming its `process`')
        if isinstance(body, Response):
            return body
        process_id = self._process_id(body.get('process'))
        if process_id is None:
            return problem(400, 'invalid-parameter', 'process: missing, or not the id or the '
                           f'URI of a process of this server ({self.jobs.base_url}/processes/…)')
        if process_id not in self.manager.processes:
            return problem(404, 'no-such-process', f'process {process_id!r} does not exist')
        if not wants_created(request.headers.get('Prefer')):
            return self.jobs.execute(request, process_id)
        process = self.manager.process_metadata(process_id)
        try:
            req = execute_request.parse(request.get_data(), process,
                                        Notifier(self.manager.settings.block).schemes)
        except execute_request.InvalidRequest as err:
            return problem(400, 'invalid-parameter', str(err))
        user = current_user()
        processor = self.manager.get_processor(process_id)
        refused = permissions.refusal(processor, self.manager, user, req.inputs)
        if refused is not None:
            return problem(refused.status, refused.type, refused.detail)
        try:
            details = workspace_choice.job_details(self.manager, processor, user,
                                                   req.workspace) or {}
        except workspace_choice.WorkspaceRefused as err:
            return problem(400, 'invalid-parameter', str(err))
        job = self.manager.submit(process_id, req.inputs, requested_outputs=req.outputs,
                                  response=req.response, subscriber=req.subscriber,
                                  owner=user.name if user else None,
                                  owner_roles=sorted(user.roles) if user else None,
                                  created=True)
        # the execution mode asked for beside status="created" applies when it is started
        # (/req/job-management/create-execution-pending)
        asked = 'respond-async' if 'respond-async' in _prefer_tokens(
            request.headers.get('Prefer')) else None
        mode = 'async' if self.manager.wants_async(process_id, asked) else 'sync'
        self.manager.repo.set_details(job['id'], {**details, EXECUTION_MODE: mode})
        return _json(status_info(job, self.jobs.base_url), 201, {
            'Location': f"{self.jobs.base_url}/jobs/{job['id']}",
            'Preference-Applied': 'status="created"'})

    # -- PATCH /jobs/{id} ---------------------------------------------------------
    def update(self, request: Request, job_id: str) -> Response:
        """Change a `created` job's inputs, outputs, response, subscriber or workspace (merge
        patch); a job that was started is locked (423)."""
        job = self.jobs._job(job_id)
        if job is None:
            return self._not_found(job_id)
        if job['status'] != CREATED:
            return problem(LOCKED_STATUS, LOCKED, f"job {job_id} is {job['status']}: only a "
                           "job in status 'created' can be changed")
        patch = self._json_object(request, request.mimetype in PATCH_TYPES,
                                  f'a job update must be {" or ".join(PATCH_TYPES)}',
                                  'a JSON object')
        if isinstance(patch, Response):
            return patch
        try:
            nesting.check_value_depth(patch, execute_request.MAX_DEPTH)
        except nesting.TooDeep as err:
            return problem(400, 'invalid-parameter', f'request body: {err}')
        unknown = sorted(set(patch) - set(DEFINITION_MEMBERS) - {'process'})
        if unknown:
            return problem(400, 'invalid-parameter', f'{", ".join(unknown)}: not a member of '
                           f'a job definition ({", ".join(DEFINITION_MEMBERS)})')
        definition = self._definition(job)
        if 'process' in patch and self._process_id(patch['process']) != job['process_id']:
            return problem(400, 'invalid-parameter', 'process: the process of a job cannot '
                           'be changed (create another job)')
        merged = merge_patch(definition, patch)
        merged.pop('process', None)
        try:
            req = execute_request.parse(json.dumps(merged).encode(),
                                        self.manager.process_metadata(job['process_id']),
                                        Notifier(self.manager.settings.block).schemes)
        except execute_request.InvalidRequest as err:
            return problem(400, 'invalid-parameter', str(err))
        except Exception:  # the process was undeployed since
            return problem(400, 'invalid-parameter', f"process {job['process_id']!r} no "
                           'longer exists: this job cannot be changed or started')
        details = self._details_naming(job, req.workspace)
        if isinstance(details, Response):
            return details
        if not self.manager.repo.update_created(
                job_id, inputs=req.inputs, requested_outputs=req.outputs,
                response=req.response, subscriber=req.subscriber, details=details):
            return problem(LOCKED_STATUS, LOCKED, f'job {job_id} was started meanwhile')
        return Response(status=204)

    def _details_naming(self, job: dict, workspace: str | None) -> dict | Response:
        """The job's details with the workspace of its results as updated (checked as
        when the job was created), or the refusal."""
        details = {k: v for k, v in (job['details'] or {}).items()
                   if k != workspace_choice.DETAIL}
        try:
            named = workspace_choice.job_details(
                self.manager, self.manager.get_processor(job['process_id']), current_user(),
                workspace)
        except workspace_choice.WorkspaceRefused as err:
            return problem(400, 'invalid-parameter', str(err))
        return {**details, **(named or {})}

    # -- POST /jobs/{id}/results ----------------------------------------------------
    def start(self, request: Request, job_id: str) -> Response:
        """Queue a `created` job; 200 with its statusInfo."""
        job = self.jobs._job(job_id)
        if job is None:
            return self._not_found(job_id)
        if job['status'] != CREATED:
            return problem(LOCKED_STATUS, LOCKED, f"job {job_id} is {job['status']}: it was "
                           'started already')
        if job['process_id'] not in self.manager.processes:
            return problem(400, 'invalid-parameter', f"process {job['process_id']!r} no "
                           'longer exists: this job cannot be started')
        refused = permissions.refusal(self.manager.get_processor(job['process_id']),
                                      self.manager, current_user(), job['inputs'] or {})
        if refused is not None:
            return problem(refused.status, refused.type, refused.detail)
        # created without respond-async, for a process that runs synchronously: answered
        # when it ends (while a slot of the synchronous waits is free: else 503)
        waits = (job['details'] or {}).get(EXECUTION_MODE) == 'sync'
        with self.manager.sync_slot() if waits else nullcontext():
            try:
                started = self.manager.start(job_id)
            except QuotaExceeded as err:
                return quotas.refusal(err)
            if not started:
                return problem(LOCKED_STATUS, LOCKED, f'job {job_id} was started meanwhile')
            started = self.manager.wait(job_id, self.manager.settings.jobs.sync_timeout_seconds
                                        ) if waits else self.manager.repo.get(job_id)
        return _json(status_info(started, self.jobs.base_url), 200,
                     {'Location': f'{self.jobs.base_url}/jobs/{job_id}'})

    # -- GET /jobs/{id}/definition, /inputs, /prov -----------------------------------
    def definition(self, request: Request, job_id: str) -> Response:
        job = self.jobs._job(job_id)
        if job is None:
            return self._not_found(job_id)
        return _json(self._definition(job))

    def inputs(self, request: Request, job_id: str) -> Response:
        job = self.jobs._job(job_id)
        if job is None:
            return self._not_found(job_id)
        body = {'inputs': job['inputs'] or {}, 'outputs': job['requested_outputs'] or {}}
        body['links'] = [{'href': f'{self.jobs.base_url}/jobs/{job_id}', 'rel': 'up',
                          'type': JSON_TYPE, 'title': 'The job'}]
        return _json(body)

    def prov(self, request: Request, job_id: str) -> Response:
        """W3C PROV-JSON of what the job ran, used and generated, and for whom."""
        job = self.jobs._job(job_id)
        if job is None:
            return self._not_found(job_id)
        return _json(provenance.document(job, self.jobs.base_url, self._outputs(job)))

    def _outputs(self, job: dict) -> dict | None:
        """The job's results document (None while there is none, or once removed)."""
        if job['status'] != 'successful' or job['files_removed']:
            return None
        try:
            mimetype, outputs = self.manager.result(job['id'])
        except Exception:
            return None
        if mimetype == JSON_TYPE:
            outputs = self.jobs._rebased(job, outputs)
        return results_document(self.jobs._described(job, outputs), job, outputs, mimetype,
                                self.jobs.base_url)


def routes(view: JobManagementRoutes, request: Request) -> list[tuple]:
    """URL rules (path, endpoint, methods, view function) of Part 4."""
    return [
        ('/jobs', 'eoorder.create_job', ['POST'], lambda: view.create(request)),
        ('/jobs/<job_id>', 'eoorder.update_job', ['PATCH'],
         lambda job_id: view.update(request, job_id)),
        ('/jobs/<job_id>/results', 'eoorder.start_job', ['POST'],
         lambda job_id: view.start(request, job_id)),
        ('/jobs/<job_id>/definition', 'eoorder.job_definition', ['GET'],
         lambda job_id: view.definition(request, job_id)),
        ('/jobs/<job_id>/inputs', 'eoorder.job_inputs', ['GET'],
         lambda job_id: view.inputs(request, job_id)),
        ('/jobs/<job_id>/prov', 'eoorder.job_prov', ['GET'],
         lambda job_id: view.prov(request, job_id)),
    ]


def _problems(*codes: str) -> dict:
    response = {'description': 'Error (application/problem+json)',
                'content': {'application/problem+json': {'schema': {'type': 'object'}}}}
    return {code: response for code in codes}


def openapi_paths() -> dict:
    """Path items of Part 4 for the OpenAPI document."""
    job_id = {'name': 'jobId', 'in': 'path', 'required': True, 'schema': {'type': 'string'},
              'description': 'job identifier'}
    as_json = {'application/json': {'schema': {'type': 'object'}}}
    status = {'description': 'the job (statusInfo)', 'content': as_json}
    prefer = {'name': 'Prefer', 'in': 'header', 'required': False,
              'schema': {'type': 'string'},
              'description': '`status="created"`: keep the job until it is started; '
                             '`respond-async`: run it asynchronously'}
    content_schema = {'name': 'Content-Schema', 'in': 'header', 'required': False,
                      'schema': {'type': 'string'},
                      'description': 'URI of the schema of the body: an execute request '
                                     f'({", ".join(EXECUTE_SCHEMAS)}); others: 422'}

    def get(summary: str, operation: str, what: str) -> dict:
        return {'get': {'summary': summary, 'operationId': operation, 'tags': ['jobs'],
                        'parameters': [job_id],
                        'responses': {'200': {'description': what, 'content': as_json},
                                      **_problems('404')}}}

    return {
        '/jobs': {'post': {
            'summary': 'Create a job (Part 4)', 'operationId': 'createJob', 'tags': ['jobs'],
            'parameters': [prefer, content_schema],
            'requestBody': {'required': True, 'description': 'an execute request naming its '
                            '`process` (id or URI)', 'content': as_json},
            'responses': {'200': {'description': 'results of a synchronous execution'},
                          '201': status, '204': {'description': 'results by reference'},
                          **_problems('400', '404', '413', '415', '422')}}},
        '/jobs/{jobId}': {'patch': {
            'summary': 'Update a created job (Part 4)', 'operationId': 'updateJob',
            'tags': ['jobs'], 'parameters': [job_id, content_schema],
            'requestBody': {'required': True, 'description': 'JSON merge patch of the '
                            'execute request', 'content': {
                                'application/merge-patch+json': {'schema': {'type': 'object'}},
                                **as_json}},
            'responses': {'204': {'description': 'updated'},
                          **_problems('400', '404', '415', '422', '423')}}},
        '/jobs/{jobId}/results': {'post': {
            'summary': 'Start a created job (Part 4)', 'operationId': 'startJob',
            'tags': ['jobs'], 'parameters': [job_id],
            'responses': {'200': status, **_problems('400', '404', '423')}}},
        '/jobs/{jobId}/definition': get('The execute request of a job (Part 4)',
                                        'getJobDefinition', 'the execute request as stored'),
        '/jobs/{jobId}/inputs': get('The inputs of a job (Part 4)', 'getJobInputs',
                                    'the inputs and requested outputs'),
        '/jobs/{jobId}/prov': get('W3C PROV-JSON provenance of a job (Part 4)',
                                  'getJobProvenance', 'PROV-JSON document'),
    }

"""OGC API - Processes execution and job routes served by the shared job engine."""

from __future__ import annotations

import json
import mimetypes
import os
from contextlib import nullcontext
from datetime import datetime, timezone
from http import HTTPStatus
from urllib.parse import urlencode

from flask import Request, Response, request as flask_request, send_file
from pygeoapi.api import API, APIRequest
from pygeoapi.formats import F_HTML
from pygeoapi.util import DATETIME_FORMAT, render_j2_template

from ..auth import current_user
from ..web.problem import problem
from ..execution.paths import open_regular_file
from ..jobs.manager import Manager
from ..jobs.quotas import QuotaExceeded
from ..jobs.repository import CREATED, FINAL
from ..jobs.results import JSON_TYPE
from ..jobs.status import results_document, status_info
from ..notifications import Notifier
from ..processes import permissions, workspace_choice
from . import execute_request, job_query, quotas, result_modes, result_safety

JOB_LIST_CONFORMANCE = [
    'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list',
    'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss',
    'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/callback',
]


def _json(data, status: int = 200, headers: dict | None = None) -> Response:
    response = Response(json.dumps(data, default=str), status=status, mimetype=JSON_TYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def _prefer_tokens(header: str | None) -> list[str]:
    return [token.strip().split('=')[0].strip() for token in (header or '').split(',')]


class JobRoutes:
    """Flask view functions bound to pygeoapi's API object and our manager."""

    def __init__(self, api: API):
        self.api = api

    @property
    def manager(self) -> Manager:
        return self.api.manager

    @property
    def base_url(self) -> str:
        return self.api.base_url.rstrip('/')

    def _job(self, job_id: str) -> dict | None:
        """The job if it exists and the caller may see it (others' jobs do not exist; a
        `created` one, not started yet, exists only for its owner, Part 4)."""
        job = self.manager.repo.get(job_id)
        user = current_user()
        if job is None or not self.manager.auth.owns(user, job['owner']):
            return None
        if job['status'] == CREATED and job['owner'] != (user.name if user else None):
            return None
        return job

    def _wants_html(self, request: Request) -> bool:
        return APIRequest.from_flask(request, self.api.locales).format == F_HTML

    def _html(self, template: str, data: dict) -> Response:
        content = render_j2_template(self.api.tpl_config, self.api.config['server']['templates'],
                                     template, data, self.api.default_locale)
        return Response(content, mimetype='text/html')

    def _limits(self) -> tuple[int, int]:
        limits = self.api.config['server'].get('limits') or {}
        return int(limits.get('default_items', 10)), int(limits.get('max_items', 1000))

    # -- execution ----------------------------------------------------------------
    def _body_too_large(self, request: Request) -> Response | None:
        """413 for an execute request larger than `execution.max_inline_input_bytes`: large
        inputs go by reference; the body is not read past the limit, nothing is stored."""
        from werkzeug.exceptions import RequestEntityTooLarge
        limit = self.manager.settings.block['execution']['max_inline_input_bytes']
        refusal = problem(413, 'invalid-parameter', f'the execute request is larger than the '
                          f'{limit} bytes accepted; pass large inputs by reference (href)')
        if (request.content_length or 0) > limit:
            return refusal
        request.max_content_length = limit + 1  # a chunked body is read up to one more byte
        try:
            return refusal if len(request.get_data()) > limit else None
        except RequestEntityTooLarge:
            return refusal

    def execute(self, request: Request, process_id: str) -> Response:
        if process_id not in self.manager.processes:
            return problem(404, 'no-such-process', f'process {process_id!r} does not exist')
        too_large = self._body_too_large(request)
        if too_large is not None:
            return too_large
        if request.get_data() and request.mimetype not in ('application/json', '') \
                and not request.mimetype.endswith('+json'):
            return problem(415, 'unsupported-media-type',
                           f'execute requests must be application/json, not {request.mimetype}')
        process = self.manager.process_metadata(process_id)
        try:
            req = execute_request.parse(request.get_data(), process,
                                        Notifier(self.manager.settings.block).schemes)
        except execute_request.InvalidRequest as err:
            return problem(400, 'invalid-parameter', str(err))
        prefer = _prefer_tokens(request.headers.get('Prefer'))
        is_async = self.manager.wants_async(
            process_id, 'respond-async' if 'respond-async' in prefer else None)
        user = current_user()
        processor = self.manager.get_processor(process_id)
        refused = permissions.refusal(processor, self.manager, user, req.inputs)
        if refused is not None:  # built-ins that change shared state: nothing is queued
            return problem(refused.status, refused.type, refused.detail)
        try:
            details = workspace_choice.job_details(self.manager, processor, user,
                                                   req.workspace)
        except workspace_choice.WorkspaceRefused as err:
            return problem(400, 'invalid-parameter', str(err))
        with nullcontext() if is_async else self.manager.sync_slot():  # (else 503)
            try:
                job = self.manager.submit(process_id, req.inputs, requested_outputs=req.outputs,
                                          response=req.response, subscriber=req.subscriber,
                                          details=details,
                                          owner=user.name if user else None,
                                          owner_roles=sorted(user.roles) if user else None)
            except QuotaExceeded as err:
                return quotas.refusal(err)
            if not is_async:
                job = self.manager.wait(job['id'],
                                        self.manager.settings.jobs.sync_timeout_seconds)
        location = {'Location': f"{self.base_url}/jobs/{job['id']}"}
        if is_async:
            return _json(status_info(job, self.base_url), 201,
                         {**location, 'Preference-Applied': 'respond-async'})
        if job['status'] not in FINAL:
            return _json(status_info(job, self.base_url), 201, location)
        applied = {'Preference-Applied': 'wait'} if 'wait' in prefer else {}
        monitor = {'Link': f'<{location["Location"]}>; rel="monitor"'}
        return self._result_response(job, req.response, {**location, **monitor, **applied})

    def _result_response(self, job: dict, response_mode: str, headers: dict) -> Response:
        refusal = self._results_unavailable(job, headers)
        if refusal is not None:
            return refusal
        try:
            mimetype, outputs = self.manager.result(job['id'])
        except Exception:
            return problem(500, 'server-error', f"results of job {job['id']} are unreadable",
                           headers)
        if mimetype == JSON_TYPE:
            outputs = self._rebased(job, outputs)
        named, modes = self._shaped_outputs(job, mimetype, outputs)
        if response_mode == 'document':
            return _json(named, 200, headers)
        return self._raw_response(job, mimetype, outputs, named, modes, headers)

    @staticmethod
    def _results_unavailable(job: dict, headers: dict) -> Response | None:
        """The answer for a failed job or removed results, None if results are there."""
        status = job['status']
        if status == 'failed':
            error = job.get('error') or {}
            return problem(int(error.get('status', 500)), error.get('type', 'server-error'),
                           error.get('detail') or job['message'] or 'job failed', headers,
                           title='Job failed')
        if status == 'dismissed' or job['files_removed']:
            return problem(410, 'gone', f"results of job {job['id']} were removed "
                           f"({'dismissed' if status == 'dismissed' else 'retention period'})",
                           headers)
        return None

    def _shaped_outputs(self, job: dict, mimetype: str, outputs) -> tuple[dict, dict]:
        """Each output as the client asked for it (by value or by reference), and the
        requested transmission modes."""
        process = self._described(job, outputs)
        named = dict(results_document(process, job, outputs, mimetype, self.base_url))
        modes = result_modes.requested_modes(job.get('requested_outputs'))
        prefix = f"{self.base_url}/jobs/{job['id']}/results/"

        def open_file(name: str):
            return self._open_result(job['id'], name)

        def exists(name: str) -> bool:
            handle = open_file(name)
            if handle is not None:
                handle.close()
            return handle is not None

        whole = {'href': f"{prefix.rstrip('/')}?response=raw", 'type': mimetype} \
            if len(named) == 1 else None
        for name, mode in modes.items():
            if name not in named:
                continue
            if mode == 'value':
                named[name] = result_modes.by_value(named[name], prefix, open_file)
            else:
                named[name] = result_modes.by_reference(name, named[name], prefix, exists, whole)
        return named, modes

    def _raw_response(self, job: dict, mimetype: str, outputs, named: dict, modes: dict,
                      headers: dict) -> Response:
        """Raw results: 204 + Link when all are by reference, multipart/related for several
        outputs, else the one output's bytes."""
        if modes and set(modes) >= set(named) and all(
                modes[name] == 'reference' and isinstance(value, dict) and 'href' in value
                for name, value in named.items()):
            response = Response(status=204)
            response.headers['Link'] = ', '.join(
                filter(None, [headers.get('Link'), result_modes.link_header(named)]))
            headers = {key: value for key, value in headers.items() if key != 'Link'}
        elif mimetype == JSON_TYPE and isinstance(outputs, dict) and len(named) > 1 \
                and set(named) == set(outputs):
            prefix = f"{self.base_url}/jobs/{job['id']}/results/"
            body, content_type = result_modes.multipart(
                named, prefix, lambda name: self._open_result(job['id'], name))
            response = Response(body, status=200, content_type=content_type)
            result_safety.protect(response, 'multipart/related', f"{job['id']}-results")
        elif (single := self._single_file(job, mimetype, outputs)) is not None:
            response = self._send_result(*single)
        else:
            body = json.dumps(outputs, default=str) if mimetype == JSON_TYPE else outputs
            response = Response(body, status=200, mimetype=mimetype)
            result_safety.protect(response, mimetype, f"{job['id']}-result")
        for key, value in headers.items():
            response.headers[key] = value
        return response

    def _described(self, job: dict, outputs) -> dict:
        """The description of a job's process; for a process undeployed since, its outputs
        are the ones the job stored."""
        try:
            return self.manager.process_metadata(job['process_id'])
        except Exception:
            return {'outputs': {name: {} for name in outputs}
                    if isinstance(outputs, dict) else {}}

    def _rebased(self, job: dict, outputs):
        """Output hrefs to this job's result files as seen from this request's base URL
        (the worker wrote them with the submitting request's)."""
        written = f"{(job.get('base_url') or self.api.config['server']['url']).rstrip('/')}" \
            f"/jobs/{job['id']}/results"
        wanted = f"{self.base_url}/jobs/{job['id']}/results"
        if written == wanted:
            return outputs
        if isinstance(outputs, list):
            return [self._rebased(job, value) for value in outputs]
        if not isinstance(outputs, dict):
            return outputs
        rebased = {key: self._rebased(job, value) for key, value in outputs.items()}
        href = rebased.get('href')
        if isinstance(href, str) and (href == written or href.startswith(written + '/')
                                      or href.startswith(written + '?')):
            rebased['href'] = wanted + href[len(written):]
        return rebased

    def _open_result(self, job_id: str, name: str):
        """An open binary file for result `name` of a job, or None when there is no such
        regular file. Opened below the results directory without following any symbolic
        link (a container may have written links: they never lead to host files)."""
        return open_regular_file(self.manager.results_dir(job_id), name)

    def _send_result(self, handle, name: str, mimetype: str | None) -> Response:
        """Stream an open result file with its validators, ranges and the safety headers."""
        info = os.fstat(handle.fileno())
        download_name = name.rstrip('/').rsplit('/', 1)[-1] or 'result'
        mimetype = result_modes.header_safe(mimetype or mimetypes.guess_type(download_name)[0]
                                            or '') or 'application/octet-stream'
        response = send_file(handle, mimetype=mimetype, conditional=False,
                             etag=f'{info.st_ino:x}-{info.st_mtime_ns:x}-{info.st_size:x}',
                             last_modified=info.st_mtime)
        response.content_length = info.st_size
        response = response.make_conditional(flask_request.environ, accept_ranges=True,
                                              complete_length=info.st_size)
        return result_safety.protect(response, mimetype, download_name)

    def _single_file(self, job: dict, mimetype: str, outputs) -> tuple | None:
        """A raw response of one output given by reference is that output's content."""
        if mimetype != JSON_TYPE or not isinstance(outputs, dict) or len(outputs) != 1:
            return None
        value = next(iter(outputs.values()))
        prefix = f"{self.base_url}/jobs/{job['id']}/results/"
        if not isinstance(value, dict) or not str(value.get('href', '')).startswith(prefix):
            return None
        name = value['href'][len(prefix):]
        handle = self._open_result(job['id'], name)
        if handle is None:
            return None
        return handle, name, value.get('type') or 'application/octet-stream'

    def result_file(self, request: Request, job_id: str, name: str) -> Response:
        """One output file (or a file inside an output directory) of a job."""
        job = self._job(job_id)
        if job is None:
            return problem(404, 'no-such-job', f'job {job_id!r} does not exist')
        if job['status'] in (CREATED, 'accepted', 'running'):
            return problem(404, 'result-not-ready', f"job {job_id} is {job['status']}")
        if job['status'] == 'dismissed' or job['files_removed']:
            return problem(410, 'gone', f'results of job {job_id} were removed')
        handle = self._open_result(job_id, name)
        if handle is None:
            return problem(404, 'not-found', f'job {job_id} has no result file {name!r}')
        return self._send_result(handle, name, self._declared_type(job, name))

    def _declared_type(self, job: dict, name: str) -> str | None:
        """The media type the results document gives result file `name` (a literal
        output's file is text/plain); None to guess it from the name."""
        try:
            mimetype, outputs = self.manager.result(job['id'])
        except Exception:
            return None
        if mimetype != JSON_TYPE or not isinstance(outputs, dict):
            return None
        value = outputs.get(name)
        if isinstance(value, dict) and isinstance(value.get('type'), str) \
                and str(value.get('href', '')).endswith(f"/jobs/{job['id']}/results/{name}"):
            return value['type']
        if name in outputs and not isinstance(value, (dict, list)):
            return 'text/plain'
        return None

    # -- job list and job status ---------------------------------------------------
    def list_jobs(self, request: Request) -> Response:
        default_limit, max_limit = self._limits()
        try:
            query = job_query.parse(request.args, default_limit, max_limit)
        except job_query.InvalidQuery as err:
            return problem(400, 'invalid-parameter', str(err))
        user = current_user()
        if not self.manager.auth.is_admin(user):
            query.owner = user.name if user else ''
        query.created_of = user.name if user else ''
        jobs, matched = self.manager.repo.query(query)
        document = {'jobs': [status_info(job, self.base_url) for job in jobs],
                    'numberMatched': matched, 'numberReturned': len(jobs),
                    'links': self._list_links(request, query.limit, query.offset, matched)}
        if self._wants_html(request):
            return self._html('jobs/index.html', {
                'jobs': document, 'offset': query.offset,
                'now': datetime.now(timezone.utc).strftime(DATETIME_FORMAT)})
        return _json(document)

    def _list_links(self, request: Request, limit: int, offset: int, matched: int) -> list:
        params = [(k, v) for k, v in request.args.items(multi=True) if k not in ('offset', 'f')]

        def href(new_offset: int | None = None, fmt: str | None = None) -> str:
            query = list(params)
            if new_offset:
                query.append(('offset', str(new_offset)))
            if fmt:
                query.append(('f', fmt))
            return f'{self.base_url}/jobs' + (f'?{urlencode(query)}' if query else '')

        links = [{'href': href(offset, 'json'), 'rel': 'self', 'type': JSON_TYPE,
                  'title': 'This document'},
                 {'href': href(offset, 'html'), 'rel': 'alternate', 'type': 'text/html',
                  'title': 'This document as HTML'}]
        if offset + limit < matched:
            links.append({'href': href(offset + limit), 'rel': 'next', 'type': JSON_TYPE,
                          'title': 'Next page'})
        if offset > 0:
            links.append({'href': href(max(0, offset - limit)), 'rel': 'prev',
                          'type': JSON_TYPE, 'title': 'Previous page'})
        return links

    def get_job(self, request: Request, job_id: str) -> Response:
        job = self._job(job_id)
        if job is None:
            return problem(404, 'no-such-job', f'job {job_id!r} does not exist')
        info = status_info(job, self.base_url)
        if self._wants_html(request):
            return self._html('jobs/job.html', {
                'jobs': info, 'now': datetime.now(timezone.utc).strftime(DATETIME_FORMAT)})
        return _json(info)

    def dismiss(self, request: Request, job_id: str) -> Response:
        if self._job(job_id) is None:
            return problem(404, 'no-such-job', f'job {job_id!r} does not exist')
        job = self.manager.dismiss(job_id)
        return _json(status_info(job, self.base_url))

    def results(self, request: Request, job_id: str) -> Response:
        job = self._job(job_id)
        if job is None:
            return problem(404, 'no-such-job', f'job {job_id!r} does not exist')
        if job['status'] in (CREATED, 'accepted', 'running'):
            return problem(404, 'result-not-ready', f"job {job_id} is {job['status']}")
        mode = request.args.get('response', job['response'] or 'raw')
        if mode not in ('raw', 'document'):
            return problem(400, 'invalid-parameter', "response: must be 'raw' or 'document'")
        return self._result_response(job, mode, {})

    def log(self, request: Request, job_id: str) -> Response:
        job = self._job(job_id)
        if job is None:
            return problem(404, 'no-such-job', f'job {job_id!r} does not exist')
        path = self.manager.log_path(job_id)
        if job['files_removed']:
            return problem(410, 'gone', f'the log of job {job_id} was removed')
        text = path.read_bytes() if path.is_file() else b''
        return Response(text, status=HTTPStatus.OK, mimetype='text/plain')

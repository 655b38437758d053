"""OGC API - Processes routes of this server (Parts 1, 2 and 4) on pygeoapi's route table.

pygeoapi describes the processes (its own listing and descriptions); this adapter
answers execution, jobs and results from the shared job engine, adds deploy / replace /
undeploy / package, the job log and result files, Part 4 job management, and composes
the listing: `_`-prefixed processes are internal (absent from the list, 404 when named),
every summary says whether it is `mutable`.
"""

from __future__ import annotations

import collections
import json

from flask import Flask, Response, request
import pygeoapi.api.processes as processes_api
from werkzeug.datastructures import Headers

from ..web.problem import problem
from ..web.pygeoapi_routes import PygeoapiRoutes
from . import job_management, quotas
from .deploy import DEPLOY_CONFORMANCE, DeployRoutes
from .jobs import JOB_LIST_CONFORMANCE, JobRoutes

CONFORMANCE = JOB_LIST_CONFORMANCE + DEPLOY_CONFORMANCE + job_management.CONFORMANCE


def is_internal(process_id: str) -> bool:
    """Internal processes (e.g. the ordering component's item process) start with `_`."""
    return process_id.startswith('_')


def json_body(response: Response) -> dict | list | None:
    """The JSON body of a 200 JSON response, else None (pygeoapi sets plain-dict headers)."""
    if not isinstance(response.headers, Headers):
        response.headers = Headers(response.headers)
    if response.status_code != 200 or response.mimetype != 'application/json':
        return None
    return json.loads(response.get_data())


class _PublicProcesses:
    """The process manager as the listing sees it: internal processes are left out, so
    they take no place in a page (`limit`)."""

    def __init__(self, manager):
        self._manager = manager

    def __getattr__(self, name: str):
        return getattr(self._manager, name)

    @property
    def processes(self) -> collections.OrderedDict:
        return collections.OrderedDict((pid, conf) for pid, conf in
                                       self._manager.processes.items() if not is_internal(pid))


class _ListingAPI:
    """pygeoapi's API object with the public processes only (for its listing function)."""

    def __init__(self, api):
        self._api = api
        self.manager = _PublicProcesses(api.manager)

    def __getattr__(self, name: str):
        return getattr(self._api, name)


def _describe_public(api, api_request, process_id: str | None):
    return processes_api.describe_processes(_ListingAPI(api), api_request, process_id)


def _no_such_process(process_id: str) -> Response:
    return problem(404, 'no-such-process', f'process {process_id!r} does not exist')


class ProcessViews:
    """The views this server answers for pygeoapi's Processes endpoints."""

    def __init__(self, routes: PygeoapiRoutes):
        self.routes = routes
        self.jobs = JobRoutes(routes.api)

    def processes(self, process_id: str | None = None) -> Response:
        if process_id is not None and is_internal(process_id):
            return _no_such_process(process_id)
        response = self.routes.call(_describe_public, process_id)
        body = json_body(response)
        if body is None:
            return response
        for process in body.get('processes', [body] if 'id' in body else []):
            process.setdefault('mutable', False)  # Part 2: replaceable/undeployable or not
        response.set_data(json.dumps(body))
        return response

    def execute(self, process_id: str) -> Response:
        if is_internal(process_id):
            return _no_such_process(process_id)
        return self.jobs.execute(request, process_id)

    def jobs_view(self, job_id: str | None = None) -> Response:
        if job_id is None:
            return self.jobs.list_jobs(request)
        if request.method == 'DELETE':
            return self.jobs.dismiss(request, job_id)
        return self.jobs.get_job(request, job_id)

    def results(self, job_id: str | None = None) -> Response:
        return self.jobs.results(request, job_id)


def _own_rules(jobs: JobRoutes, deploy: DeployRoutes) -> list[tuple]:
    """(path, endpoint, methods, view) of the routes pygeoapi does not have."""
    rules = [
        ('/jobs/<job_id>/log', 'eoorder.job_log', ['GET'],
         lambda job_id: jobs.log(request, job_id)),
        ('/jobs/<job_id>/results/<path:name>', 'eoorder.job_result_file', ['GET'],
         lambda job_id, name: jobs.result_file(request, job_id, name)),
        ('/quotas', 'eoorder.quotas', ['GET'], lambda: quotas.usage(jobs.manager, request)),
        ('/processes', 'eoorder.deploy', ['POST'], lambda: deploy.deploy(request)),
        ('/processes/<process_id>', 'eoorder.replace', ['PUT'],
         lambda process_id: deploy.replace(request, process_id)),
        ('/processes/<process_id>', 'eoorder.undeploy', ['DELETE'],
         lambda process_id: deploy.undeploy(request, process_id)),
        ('/processes/<process_id>/package', 'eoorder.package', ['GET'],
         lambda process_id: deploy.package(request, process_id)),
    ]
    return rules + job_management.routes(job_management.JobManagementRoutes(jobs), request)


def install(app: Flask, routes: PygeoapiRoutes) -> None:
    """Choose the Processes views of `routes` and add this server's own routes."""
    views = ProcessViews(routes)
    routes.serve('get_processes', views.processes)
    routes.serve('execute_process_jobs', views.execute)
    routes.serve('get_jobs', views.jobs_view)
    routes.serve('get_job_result', views.results)
    routes.conformance_filters.append(lambda declared: sorted(set(declared) | set(CONFORMANCE)))
    for path, endpoint, methods, view in _own_rules(views.jobs, DeployRoutes(routes.api)):
        app.add_url_rule(routes.prefix + path, endpoint, view, methods=methods)

"""Routes of the openEO API (app component: `install(app, api, settings)`).

Present only with the data-cube libraries (the `openeo` extra). Its discovery paths are
public (an openEO client reads them before it signs in); its errors, including the
auth layer's refusals on its paths, are in openEO's format.
"""

from __future__ import annotations

import threading

from flask import Flask, request

from ..datacube import available, import_libraries
from ..web import cors
from .errors import from_problem
from .files import FileViews
from .jobs import JobViews
from .views import DiscoveryViews, UserProcessViews

ROOT = '/openeo/1.2'
# the response headers browser clients must read (openEO API 1.2, CORS)
EXPOSED = 'Link, Location, OpenEO-Costs, OpenEO-Identifier, Retry-After'
# public to the auth layer (a public path covers what lies under it): the views that
# openEO reserves to signed-in users check the caller themselves (`views.signed_in`)
PUBLIC = ('/.well-known/openeo', ROOT)


def _rules(discovery: DiscoveryViews, mine: UserProcessViews, jobs: JobViews,
           files: FileViews) -> list:
    return [
        ('/', ['GET'], discovery.landing), ('', ['GET'], discovery.landing),
        ('/conformance', ['GET'], discovery.conformance),
        ('/file_formats', ['GET'], discovery.file_formats),
        ('/service_types', ['GET'], discovery.nothing),
        ('/udf_runtimes', ['GET'], discovery.nothing),
        ('/credentials/basic', ['GET'], discovery.credentials_basic),
        ('/credentials/oidc', ['GET'], discovery.credentials_oidc),
        ('/me', ['GET'], discovery.me),
        ('/collections', ['GET'], discovery.list_collections),
        ('/collections/<collection_id>', ['GET'], discovery.get_collection),
        ('/processes', ['GET'], discovery.list_processes),
        ('/processes/<namespace>', ['GET'], discovery.namespace_processes),
        ('/processes/<namespace>/<process_id>', ['GET'], discovery.namespace_process),
        ('/process_graphs', ['GET'], mine.listing),
        ('/process_graphs/<process_graph_id>', ['GET'], mine.get),
        ('/process_graphs/<process_graph_id>', ['PUT'], mine.put),
        ('/process_graphs/<process_graph_id>', ['DELETE'], mine.delete),
        ('/validation', ['POST'], mine.validation),
        ('/result', ['POST'], jobs.result),
        ('/jobs', ['GET'], jobs.list_jobs), ('/jobs', ['POST'], jobs.create),
        ('/jobs/<job_id>', ['GET'], jobs.get), ('/jobs/<job_id>', ['PATCH'], jobs.update),
        ('/jobs/<job_id>', ['DELETE'], jobs.delete),
        ('/jobs/<job_id>/results', ['POST'], jobs.start),
        ('/jobs/<job_id>/results', ['DELETE'], jobs.stop),
        ('/jobs/<job_id>/results', ['GET'], jobs.results),
        ('/jobs/<job_id>/results/assets/<path:name>', ['GET'], jobs.asset),
        ('/jobs/<job_id>/logs', ['GET'], jobs.logs),
        ('/jobs/<job_id>/estimate', ['GET'], jobs.estimate),
        ('/files', ['GET'], files.listing),
        ('/files/<path:path>', ['PUT'], files.upload),
        ('/files/<path:path>', ['GET'], files.download),
        ('/files/<path:path>', ['DELETE'], files.delete),
    ]


def _openeo_errors(app: Flask, prefix: str) -> None:
    """problem+json answers on openEO paths (auth refusals, 404/405) in openEO's format."""
    roots = (prefix + ROOT, prefix + '/.well-known/openeo')

    @app.after_request
    def _convert(response):
        if request.path.startswith(roots) and response.mimetype == 'application/problem+json':
            return from_problem(response)
        return response


def install(app: Flask, api, settings) -> None:
    if not available():
        return
    prefix = api.urls.prefix
    auth = api.manager.auth  # the rules the auth layer applies
    auth.public_paths = [*auth.public_paths, *PUBLIC]
    discovery = DiscoveryViews(api, settings)
    mine = UserProcessViews(settings, api.manager)
    jobs = JobViews(api.manager, mine, discovery.collections)
    rules = _rules(discovery, mine, jobs, FileViews(settings))
    for index, (path, methods, view) in enumerate(rules):
        endpoint = f'openeo.{view.__name__}'
        if endpoint in app.view_functions:  # a view at two paths ('/' and '')
            endpoint += f'.{index}'
        app.add_url_rule(prefix + ROOT + path, endpoint, view, methods=methods)
    app.add_url_rule(prefix + '/.well-known/openeo', 'openeo.well_known',
                     discovery.well_known, methods=['GET'])
    # (before the errors' hook: CORS headers go on the converted answers too)
    if cors.allowed(settings, auth):
        cors.open_to_browsers(app, (prefix + ROOT, prefix + '/.well-known/openeo'), EXPOSED)
    _openeo_errors(app, prefix)
    eager = (settings.block.get('openeo') or {}).get('warm_up_workers', True)
    _warm_up(app, (prefix + ROOT, prefix + '/.well-known/openeo'), eager)


def _warm_up(app: Flask, roots: tuple[str, ...], eager: bool) -> None:
    """The data-cube libraries take seconds (of CPU) to import: a web worker's first
    request (`eager`: any; else its first openEO request) starts importing them in the
    background (in the worker, after any fork), so that openEO calls find them loaded."""
    started = threading.Event()

    @app.before_request
    def _import_process_libraries():
        if not started.is_set() and (eager or request.path.startswith(roots)):
            started.set()
            threading.Thread(target=import_libraries, name='openeo-warm-up',
                             daemon=True).start()


def openapi_paths() -> dict:
    """Component hook: the openEO API is described by its own specification."""
    return {}


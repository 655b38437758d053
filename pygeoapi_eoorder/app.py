"""One WSGI app: pygeoapi's API plus this package's routes (`pygeoapi_eoorder.app:APP`).

pygeoapi builds its Flask app at import time from PYGEOAPI_CONFIG; we load and validate
the same file first, swap in an API object built from the validated configuration, and
replace the views whose behaviour this package owns (execution, jobs, OpenAPI).
"""

from __future__ import annotations

import copy
import importlib
import json
import os
import sys
import threading

from flask import Flask, Response, request
from markupsafe import escape
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as eoconfig
from . import urls
from .api import openapi as oas
from .api.deploy import DEPLOY_CONFORMANCE, DeployRoutes
from .api import job_management
from .api.jobs import JOB_LIST_CONFORMANCE, JobRoutes
from .auth.throttle import LoginThrottle
from .errors import PROBLEM_TYPE, from_pygeoapi, problem
from .jobs import control
from .hooks import present


def _write_openapi(settings: eoconfig.Settings, document: dict) -> str:
    path = settings.run_dir / 'openapi.json'
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f'.{os.getpid()}.tmp')  # web workers start (and write) at once
    tmp.write_text(json.dumps(document))
    os.replace(tmp, path)
    return str(path)


def _json_response(response: Response) -> bool:
    """Is this a JSON response? pygeoapi replaces `headers` by a plain dict, so normalise."""
    if not isinstance(response.headers, Headers):
        response.headers = Headers(response.headers)
    return response.mimetype == 'application/json'


def _problem_for_pygeoapi_errors(response: Response) -> Response:
    """pygeoapi answers errors as `{code, description}` JSON: make them problem+json."""
    if response.status_code < 400 or not _json_response(response):
        return response
    try:
        body = json.loads(response.get_data())
    except ValueError:
        return response
    if isinstance(body, dict) and 'code' in body and 'description' in body:
        response.set_data(json.dumps(from_pygeoapi(response.status_code, body)))
        response.mimetype = PROBLEM_TYPE
    return response


def _install_error_handlers(app: Flask) -> None:
    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        kinds = {404: 'not-found', 405: 'method-not-allowed', 413: 'invalid-parameter',
                 415: 'unsupported-media-type'}
        return problem(err.code or 500, kinds.get(err.code, 'invalid-parameter'
                                                  if (err.code or 500) < 500 else 'server-error'),
                       err.description or err.name)

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        app.logger.exception('unhandled error on %s %s', request.method, request.path)
        return problem(500, 'server-error', 'internal error; the server log has the details')

    app.after_request(_problem_for_pygeoapi_errors)


def _with_mutable(response: Response) -> Response:
    """Part 2: every process summary says whether it can be replaced or undeployed."""
    if response.status_code != 200 or not _json_response(response):
        return response
    body = json.loads(response.get_data())
    for process in body.get('processes', [body] if 'id' in body else []):
        process.setdefault('mutable', False)
    response.set_data(json.dumps(body))
    return response


def _install_routes(app: Flask, flask_app, routes: JobRoutes, deploy: DeployRoutes,
                    openapi_cache) -> None:
    views = app.view_functions

    def jobs_view(job_id: str | None = None):
        if job_id is None:
            return routes.list_jobs(request)
        if request.method == 'DELETE':
            return routes.dismiss(request, job_id)
        return routes.get_job(request, job_id)

    def openapi_view():
        flask_app.api_.openapi = openapi_cache.get()
        return views_original['pygeoapi.openapi']()

    def conformance_view():
        response = views_original['pygeoapi.conformance']()
        if response.status_code == 200 and _json_response(response):  # not an error (bad f)
            body = json.loads(response.get_data())
            body['conformsTo'] = sorted(set(body['conformsTo']) | set(JOB_LIST_CONFORMANCE)
                                        | set(DEPLOY_CONFORMANCE)
                                        | set(job_management.CONFORMANCE))
            response.set_data(json.dumps(body))
        return response

    views_original = dict(views)
    views['pygeoapi.get_jobs'] = jobs_view
    views['pygeoapi.execute_process_jobs'] = lambda process_id: routes.execute(request,
                                                                               process_id)
    views['pygeoapi.get_job_result'] = lambda job_id=None: routes.results(request, job_id)
    views['pygeoapi.openapi'] = openapi_view
    views['pygeoapi.conformance'] = conformance_view
    views['pygeoapi.get_processes'] = lambda process_id=None: _with_mutable(
        views_original['pygeoapi.get_processes'](process_id))
    prefix = flask_app.API_RULES.get_url_prefix('flask') or ''
    rules = [
        ('/jobs/<job_id>/log', 'eoorder.job_log', ['GET'],
         lambda job_id: routes.log(request, job_id)),
        ('/jobs/<job_id>/results/<path:name>', 'eoorder.job_result_file', ['GET'],
         lambda job_id, name: routes.result_file(request, job_id, name)),
        ('/processes', 'eoorder.deploy', ['POST'], lambda: deploy.deploy(request)),
        ('/processes/<process_id>', 'eoorder.replace', ['PUT'],
         lambda process_id: deploy.replace(request, process_id)),
        ('/processes/<process_id>', 'eoorder.undeploy', ['DELETE'],
         lambda process_id: deploy.undeploy(request, process_id)),
        ('/processes/<process_id>/package', 'eoorder.package', ['GET'],
         lambda process_id: deploy.package(request, process_id)),
    ]
    rules += job_management.routes(job_management.JobManagementRoutes(routes), request)
    for path, endpoint, methods, view in rules:
        app.add_url_rule(prefix + path, endpoint, view, methods=methods)


# Components that add their own routes: each module has `install(app, api, settings)`.
COMPONENTS = ('pygeoapi_eoorder.ordering.http', 'pygeoapi_eoorder.catalogue.opensearch',
              'pygeoapi_eoorder.ui.http', 'pygeoapi_eoorder.catalogue.demo')


def components():
    """The component modules present in this installation."""
    for name in COMPONENTS:
        if present(name):
            yield importlib.import_module(name)


_PER_URL_LOCK = threading.Lock()


def _api_class():
    from pygeoapi.api import API

    class EOOrderAPI(API):
        """pygeoapi's API object whose base URL is the request's (see `urls`): pygeoapi
        reads `base_url` and `openapi` (its `servers`: a cached copy per URL) per request;
        its templates' `config.server.url` is `urls.IN_PAGES`, which `_pages_follow_request`
        replaces (pygeoapi caches the templates' config once per locale). Deployed processes
        (absent from the configuration's resources) use the server's templates."""

        MAX_CACHED_URLS = 16  # Host is the client's: keep a few copies, not one per value

        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if not urls.CURRENT.fixed:
                self.tpl_config['server']['url'] = urls.IN_PAGES

        @property
        def base_url(self) -> str:
            return urls.base_url()

        @base_url.setter
        def base_url(self, value: str) -> None:  # pygeoapi sets the configured one
            pass

        @property
        def openapi(self) -> dict:
            return self._for_url('openapi', lambda url, doc: [
                server.update(url=url) for server in doc.get('servers') or []])

        @openapi.setter
        def openapi(self, value: dict) -> None:
            self._originals = {**getattr(self, '_originals', {}), 'openapi': value}

        def _for_url(self, kind: str, rebase) -> dict:
            """The document of `kind` with the request's base URL (a cached copy)."""
            original, url = self._originals[kind], self.base_url
            per_url = self.__dict__.setdefault('_per_url', {})
            cached = per_url.get((kind, url))
            if cached is not None and cached[0] is original:
                return cached[1]
            document = copy.deepcopy(original)
            rebase(url, document)
            with _PER_URL_LOCK:
                if len(per_url) >= self.MAX_CACHED_URLS:
                    per_url.pop(next(iter(per_url)))
                per_url[(kind, url)] = (original, document)
            return document

        def get_dataset_templates(self, dataset: str) -> dict:
            if dataset not in self.config.get('resources', {}):
                return self.tpl_config['server']['templates']
            return super().get_dataset_templates(dataset)

    return EOOrderAPI


def _pages_follow_request(app: Flask) -> None:
    """HTML pages rendered by pygeoapi's templates get the request's base URL where the
    templates' config has `urls.IN_PAGES` (served files are left as they are)."""
    from .web import is_page
    placeholder = urls.IN_PAGES.encode()

    @app.after_request
    def _base_url_in_page(response: Response) -> Response:
        if not isinstance(response.headers, Headers):  # pygeoapi sets a plain dict
            response.headers = Headers(response.headers)
        if urls.CURRENT.fixed or not is_page(response):
            return response
        page = response.get_data()
        if placeholder in page:
            response.set_data(page.replace(placeholder,
                                           str(escape(urls.base_url())).encode()))
        return response


def _refuse_bad_hosts(app: Flask) -> None:
    """Links are built from the Host (or a trusted X-Forwarded-Host): one that is not a
    host name or address with an optional port is answered 400."""
    @app.before_request
    def _valid_host():
        if not urls.CURRENT.fixed and not urls.valid_host(request.host):
            return problem(400, 'invalid-parameter', 'the Host header is not a host name '
                           'or address with an optional port')
        return None


def _trust_proxies(app: Flask, settings: eoconfig.Settings) -> None:
    """Behind `web.trusted_proxies` proxies, honour their X-Forwarded-* headers (werkzeug's
    ProxyFix); with none trusted they are ignored."""
    count = int((settings.block.get('web') or {}).get('trusted_proxies') or 0)
    if count and not isinstance(app.wsgi_app, ProxyFix):
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=count,
                                x_port=count, x_prefix=count)


def _import_flask_app(settings: eoconfig.Settings, url: str):
    """pygeoapi's flask_app, which reads $PYGEOAPI_CONFIG at import and needs a
    `server.url`: without one, it reads a copy of the file (variables not expanded) with
    the bind address as its url; links follow the request anyway (see `urls`)."""
    import importlib.util
    import yaml

    if settings.public_url or importlib.util.find_spec('pygeoapi.flask_app') is None or \
            'pygeoapi.flask_app' in sys.modules:
        import pygeoapi.flask_app as flask_app
        return flask_app
    raw = yaml.safe_load(settings.config_path.read_text(encoding='utf8'))
    raw['server']['url'] = url
    path = settings.run_dir / 'pygeoapi-config.yml'
    tmp = path.with_suffix(f'.{os.getpid()}.tmp')
    tmp.write_text(yaml.safe_dump(raw, sort_keys=False), encoding='utf8')
    os.replace(tmp, path)
    os.environ[eoconfig.ENV_CONFIG] = str(path)
    try:
        import pygeoapi.flask_app as flask_app
    finally:
        os.environ[eoconfig.ENV_CONFIG] = str(settings.config_path)
    return flask_app


def _use_offline_templates(config: dict, settings: eoconfig.Settings) -> None:
    """pygeoapi renders its pages from `<data_dir>/run/templates/` first
    (`server.templates.path`, unless the deployer set one): its own templates rewritten to
    load Bootstrap, Leaflet and Swagger UI from this server (`/ui/vendor`) instead of CDNs,
    so the HTML works offline (see `ui.offline_templates`)."""
    templates = config['server'].setdefault('templates', {})
    if not templates.get('path'):
        from .ui import offline_templates
        templates['path'] = str(offline_templates.build(settings.run_dir))


def create_app(config_path: str | None = None) -> Flask:
    """Build the app for a configuration file (default: $PYGEOAPI_CONFIG)."""
    path = config_path or os.environ.get(eoconfig.ENV_CONFIG)
    if not path:
        raise eoconfig.ConfigError(f'{eoconfig.ENV_CONFIG}: not set; fix: point it at a '
                                   'pygeoapi YAML file with an eoorder: block')
    config, settings = eoconfig.load(path)
    _use_offline_templates(config, settings)
    from pygeoapi.process.manager.base import get_manager
    registry = get_manager(config).registry
    cache = oas.OpenAPICache(config, registry)
    os.environ[eoconfig.ENV_CONFIG] = str(settings.config_path)
    os.environ['PYGEOAPI_OPENAPI'] = _write_openapi(settings, cache.get())

    flask_app = _import_flask_app(settings, config['server']['url'])
    urls.configure(settings.public_url, config['server']['url'],
                   flask_app.API_RULES.get_url_prefix() or '')
    flask_app.api_ = _api_class()(config, cache.get(), flask_app.ASYNCAPI)
    app = flask_app.APP
    _trust_proxies(app, settings)
    _refuse_bad_hosts(app)
    app.config['MAX_CONTENT_LENGTH'] = 64 * 1024 * 1024
    _install_routes(app, flask_app, JobRoutes(flask_app.api_), DeployRoutes(flask_app.api_),
                    cache)
    from . import web
    from .auth import flask as auth_flask
    prefix = flask_app.API_RULES.get_url_prefix('flask') or ''
    web.install(app, settings, prefix, settings.public_url or '')  # first: refusals before auth
    auth_flask.install(app, flask_app.api_.manager.auth, prefix,
                       LoginThrottle.from_settings(settings))
    for component in components():
        component.install(app, flask_app.api_, settings)
    from .api import landing
    from .ui.render import Renderer
    landing.install(app, flask_app.api_, Renderer(flask_app.api_))  # after the components
    _install_error_handlers(app)
    _pages_follow_request(app)
    if not control.supervised_externally():
        control.ensure_supervisor(settings, force=True)
    return app


def __getattr__(name: str):
    """`APP` is built on first access, so importing this module has no side effects."""
    if name == 'APP':
        global APP
        try:
            APP = create_app()
        except eoconfig.ConfigError as err:
            print(f'eoorder: config error: {err}', file=sys.stderr)
            raise SystemExit(2) from None
        return APP
    raise AttributeError(name)

"""One WSGI app: pygeoapi's OGC API plus this package's protocol adapters
(`pygeoapi_eoorder.app:APP`, or `create_app(config_path)` for any number of apps).

The app is ours: pygeoapi's routes are served by our own route table
(`web.pygeoapi_routes`) over an API object built from the validated configuration; the
adapters choose the views of the endpoints whose behaviour this package owns (Processes,
Records searches, landing page) before the table is registered, and add their own routes.
pygeoapi's `flask_app` module is never imported (it builds a global app at import).
"""

from __future__ import annotations

import json
import os
import sys

from flask import Flask, Response, g, has_request_context, request
from markupsafe import escape
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as eoconfig
from . import urls
from .api import landing, openapi as oas, routes as processes_adapter
from .auth import flask as auth_flask
from .auth.throttle import LoginThrottle
from .catalogue import demo, runtime as catalogue_runtime, workspace_collections
from .catalogue.visibility import current_viewer
from .components import Components
from .errors import PROBLEM_TYPE, from_pygeoapi
from .jobs import supervisor_control as control
from .jobs.sync_waits import ServerBusy
from .opensearch import http as opensearch_http
from .openeo_api import http as openeo_http
from .oseo import http as oseo_http
from .records import demo_files, http as records_http
from . import stac_api, workspace_api
from .ui import http as ui_http
from .web import install as install_web_safety, is_page
from .web.app_context import install as install_app_context
from .web.problem import problem
from .web.render import Renderer
from .web.pygeoapi_api import EOOrderAPI
from .web.pygeoapi_routes import PygeoapiRoutes, check_supported, static_folder
from .wps import http as wps_http

# Components with routes of their own: each has `install(app, api, settings)` and
# `openapi_paths()`, and may have `check(settings)` (run before web workers start) and
# `pygeoapi_views(routes)` (choose the views of pygeoapi endpoints it answers itself, with
# `routes.serve(endpoint, view)`; see web.pygeoapi_routes).
COMPONENTS = (oseo_http, opensearch_http, ui_http, demo, demo_files, wps_http, openeo_http,
              stac_api, workspace_api)


def components():
    """The components this app installs."""
    return COMPONENTS


def _json_response(response: Response) -> bool:
    """Is this a JSON response? pygeoapi replaces `headers` by a plain dict, so normalise."""
    if not isinstance(response.headers, Headers):
        response.headers = Headers(response.headers)
    return response.mimetype == 'application/json'


# blueprints whose errors are their protocol's own JSON (STAC API: {code, description})
OWN_ERROR_FORMATS = ('stac_api',)


def _problem_for_pygeoapi_errors(response: Response) -> Response:
    """pygeoapi answers errors as `{code, description}` JSON: make them problem+json."""
    if response.status_code < 400 or not _json_response(response) or \
            request.blueprint in OWN_ERROR_FORMATS:
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
        kept = {k: v for k, v in err.get_headers() if k in ('Allow', 'Retry-After')}
        return problem(err.code or 500, kinds.get(err.code, 'invalid-parameter'
                                                  if (err.code or 500) < 500 else 'server-error'),
                       err.description or err.name, kept)  # (405: the methods it takes)

    @app.errorhandler(ServerBusy)
    def _busy(err: ServerBusy):  # (a synchronous request past `jobs.max_sync_waits`)
        return problem(503, 'server-busy', str(err), {'Retry-After': str(err.retry_after)})

    @app.errorhandler(Exception)
    def _unexpected(err: Exception):
        app.logger.exception('unhandled error on %s %s', request.method, request.path)
        return problem(500, 'server-error', 'internal error; the server log has the details')

    app.after_request(_problem_for_pygeoapi_errors)


def _pages_follow_request(app: Flask, base: urls.BaseURL) -> None:
    """HTML pages rendered by pygeoapi's templates get the request's base URL where the
    templates' config has `urls.IN_PAGES` (served files are left as they are)."""
    placeholder = urls.IN_PAGES.encode()

    @app.after_request
    def _base_url_in_page(response: Response) -> Response:
        if not isinstance(response.headers, Headers):  # pygeoapi sets a plain dict
            response.headers = Headers(response.headers)
        if base.fixed or not is_page(response):
            return response
        page = response.get_data()
        if placeholder in page:
            response.set_data(page.replace(placeholder,
                                           str(escape(urls.base_url())).encode()))
        return response


def _refuse_bad_hosts(app: Flask, base: urls.BaseURL) -> None:
    """Links are built from the Host (or a trusted X-Forwarded-Host): one that is not a
    host name or address with an optional port is answered 400."""
    @app.before_request
    def _valid_host():
        if not base.fixed and not urls.valid_host(request.host):
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


def _use_offline_templates(config: dict, settings: eoconfig.Settings) -> None:
    """pygeoapi renders its pages from `<data_dir>/run/templates/` first
    (`server.templates.path`, unless the deployer set one): its own templates rewritten to
    load Bootstrap, Leaflet and Swagger UI from this server (`/ui/vendor`) instead of CDNs,
    so the HTML works offline (see `ui.offline_templates`)."""
    templates = config['server'].setdefault('templates', {})
    if not templates.get('path'):
        from .ui import offline_templates
        templates['path'] = str(offline_templates.build(settings.run_dir))


def _api_for(registry: Components) -> EOOrderAPI:
    """pygeoapi's API object over the registry's process manager, its OpenAPI document
    rebuilt when the set of processes changes (the first one now: pygeoapi builds the
    record providers to describe them, in the registry's catalogue context)."""
    config, settings = registry.config, registry.settings
    cache = oas.OpenAPICache(config, registry.registry, COMPONENTS)
    with catalogue_runtime.entered(registry.catalogue):
        api = EOOrderAPI(config, cache.get, registry.manager, base=registry.urls)
    if (settings.block.get('workspaces') or {}).get('enabled', True):
        api.runtime_resources = lambda: workspace_collections.resources(
            settings.store_url, current_viewer())  # members see their workspaces' records
    return api


def _install_routes(app: Flask, api: EOOrderAPI, settings: eoconfig.Settings) -> None:
    """The adapters' routes, in hook order: web safety, authentication, then the rest."""
    routes = PygeoapiRoutes(api)
    install_web_safety(app, settings, routes.prefix, settings.public_url or '')
    auth_flask.install(app, api.manager.auth, routes.prefix,
                       LoginThrottle.from_settings(settings))
    processes_adapter.install(app, routes)
    records_http.install(app, routes)
    for component in COMPONENTS:
        component.install(app, api, settings)
        choose_views = getattr(component, 'pygeoapi_views', None)
        if choose_views is not None:  # it answers some of pygeoapi's endpoints itself
            choose_views(routes)
    landing.install(app, routes, Renderer(api))
    routes.register(app)


def _request_scope() -> dict | None:
    """The current request's own storage (flask.g), for the services' per-request caches."""
    return vars(g) if has_request_context() else None


def create_app(config_path: str | None = None) -> Flask:
    """Build the app for a configuration file (default: $PYGEOAPI_CONFIG)."""
    path = config_path or os.environ.get(eoconfig.ENV_CONFIG)
    if not path:
        raise eoconfig.ConfigError(f'{eoconfig.ENV_CONFIG}: not set; fix: point it at a '
                                   'pygeoapi YAML file with an eoorder: block')
    registry = Components.for_config(path)
    registry.registry.request_scope = _request_scope  # deployed processes: read once a request
    config, settings = registry.config, registry.settings
    check_supported(config)
    _use_offline_templates(config, settings)
    api = _api_for(registry)
    app = Flask(__name__, static_folder=static_folder(config), static_url_path='/static')
    install_app_context(app, registry.urls, registry.catalogue)  # per request: its URL
    _trust_proxies(app, settings)
    _refuse_bad_hosts(app, registry.urls)
    app.config['MAX_CONTENT_LENGTH'] = 64 * 1024 * 1024
    _install_routes(app, api, settings)
    _install_error_handlers(app)
    _pages_follow_request(app, registry.urls)
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

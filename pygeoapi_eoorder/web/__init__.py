"""Web safety of every route (app hook: `install(app, settings)`).

Before a request: state-changing requests from other sites are refused (see
:mod:`.crosssite`), and JSON bodies nested too deep for the server's parsers are answered
400 (:mod:`pygeoapi_eoorder.nesting`). After it: security headers (:mod:`.headers`) and,
on HTML pages, only http(s) and relative links (:mod:`.links`). Errors use the route's protocol: an
`ows:ExceptionReport` on /oseo, problem+json elsewhere.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, has_request_context, request
from lxml import etree
from werkzeug.datastructures import Headers

from .. import nesting
from ..errors import ows_exception_report
from . import cors, crosssite, headers, json_body, links
from .problem import problem

LOGGER = logging.getLogger(__name__)
OSEO_PATH = '/oseo'  # the ordering component's endpoint (XML bodies, OWS errors)
# views that serve files as they are (job result files, deliveries, static files); other
# views mark a served file (e.g. a raw job result) with Content-Disposition
VERBATIM_ENDPOINTS = frozenset({'eoorder.job_result_file', 'eoorder.oseo_download',
                                'eoorder.ui_static', 'static'})
# views that accept only their own media types and answer 415 naming them (text/plain and
# form bodies included): the media-type check is theirs
# (openEO's file upload takes any bytes; a PUT needs a preflight to come cross-site)
# routes that accept only their own (non-simple) media types and answer 415 themselves
OWN_MEDIA_TYPE_CHECK = frozenset({'eoorder.deploy', 'eoorder.replace', 'openeo.upload',
                                  'eoorder.create_job', 'eoorder.update_job'})
MAX_REWRITTEN_PAGE = 8 * 1024 * 1024


def is_page(response: Response) -> bool:
    """Whether `response` is an HTML page this server rendered (rewritable), not a served
    file: a job result, a delivery, a static file, a download."""
    return (response.mimetype == 'text/html' and not response.direct_passthrough
            and not response.is_streamed and request.endpoint not in VERBATIM_ENDPOINTS
            and 'Content-Disposition' not in response.headers)


def request_root() -> str | None:
    """The root URL the client used for the request being served (None outside one):
    with the app's `urls.BaseURL`, links follow the request."""
    return request.root_url if has_request_context() else None


def is_json(mimetype: str) -> bool:
    return mimetype in ('application/json', 'application/query-cql-json') or \
        mimetype.endswith('+json')


def ows_error(status: int, code: str, message: str) -> Response:
    """An ows:ExceptionReport (the OSEO endpoint's error format)."""
    report = ows_exception_report(code, message, 'request')
    return Response(etree.tostring(report, xml_declaration=True, encoding='UTF-8'),
                    status=status, content_type='application/xml; charset=utf-8')


def refuse(status: int, message: str, oseo: bool) -> Response:
    if oseo:
        return ows_error(status, 'NoApplicableCode', message)
    kinds = {403: 'forbidden', 415: 'unsupported-media-type'}
    return problem(status, kinds.get(status, 'invalid-parameter'), message)


def install(app: Flask, settings, prefix: str = '', base_url: str = '') -> None:
    """Register the hooks; call before any other before_request hook is registered."""
    block = settings.block.get('web') or {}
    own = {crosssite.origin_of(base_url)} - {None}
    trusted = {crosssite.origin_of(o) for o in block.get('trusted_origins') or []} - {None}
    max_depth = int(block.get('max_json_depth') or nesting.MAX_JSON_DEPTH)
    csp = block.get('content_security_policy') or headers.DEFAULT_CSP

    def is_oseo() -> bool:
        path = request.path[len(prefix):] if prefix and request.path.startswith(prefix) \
            else request.path
        return path == OSEO_PATH or request.path == OSEO_PATH

    @app.before_request
    def _refuse_unsafe_requests():
        oseo = is_oseo()
        if request.method in crosssite.STATE_CHANGING:
            refusal = crosssite.check_origin(request, own, trusted)
            if refusal and cors.is_open(app, request.path) and \
                    crosssite.page_credentials(request):  # (see `cors`)
                cors.admit_other_site(refuse(refusal.status, refusal.message, oseo))
                refusal = None
            if refusal is None and request.endpoint not in OWN_MEDIA_TYPE_CHECK:
                refusal = crosssite.check_media_type(request, xml_only=oseo)
            if refusal:
                return refuse(refusal.status, refusal.message, oseo)
        if crosssite.has_body(request) and is_json(request.mimetype or ''):
            body = request.get_data(cache=True)
            try:
                nesting.check_json_depth(json_body.check_text(body), max_depth)
            except (json_body.NotText, nesting.TooDeep) as err:
                return refuse(400, f'request body: {err}', oseo)
        return None

    @app.after_request
    def _secure_response(response: Response) -> Response:
        if not isinstance(response.headers, Headers):  # pygeoapi sets a plain dict
            response.headers = Headers(response.headers)
        if response.mimetype == 'text/html' and response.calculate_content_length() == 0 and \
                not response.direct_passthrough:  # (werkzeug's default: e.g. a 201, a 204)
            del response.headers['Content-Type']  # an empty answer is no page
        headers.add_headers(response, csp)
        if is_page(response) and (response.content_length or 0) <= MAX_REWRITTEN_PAGE:
            page = response.get_data(as_text=True)
            try:
                safe = links.neutralise(page)
            except ValueError:
                LOGGER.error('could not filter the links of %s; served as text', request.path)
                response.mimetype = 'text/plain'
                return response
            if safe is not page:
                response.set_data(safe)
        return response

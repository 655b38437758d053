"""CORS for APIs that browser clients on other sites use (openEO's Web Editor, STAC
Browser): every answer under their paths allows any origin (`*`) and exposes the headers
the protocol names; an `OPTIONS` preflight is answered 204 with the methods of the path,
before authentication (a preflight never carries credentials).

Credentials are never allowed (`Access-Control-Allow-Credentials` is not sent), so a page
of another site can only send what it adds itself (an openEO bearer token), never the
browser's remembered credentials: a preflighted request that would carry them is refused by
the browser. A simple one (no preflight: a body-less or form POST) may still carry them:
these paths take state-changing requests from other origins (`is_open`) only with a bearer
token (`crosssite.page_credentials`) that makes someone the caller (a made-up one leaves
the caller anonymous: refused after authentication, as without credentials), and form or
text bodies are refused anyway (415).

Opened only where callers without credentials are not privileged (`allowed`): with the
`none` authenticator every caller is the local admin, and any page could act and read as
them.
"""

from __future__ import annotations

from flask import Flask, Response, g, request
from werkzeug.datastructures import Headers
from werkzeug.exceptions import HTTPException

EXTENSION = 'eoorder_cors_paths'
ALLOWED_HEADERS = 'Authorization, Content-Type'
MAX_AGE = '600'  # seconds a browser may keep a preflight's answer
OTHER_SITE = 'eoorder_other_site_refusal'
PREFLIGHT = 'eoorder_preflight'
AUTH = 'eoorder_auth'  # the app's access rules (`auth.flask.install`)


def allowed(settings, auth) -> bool:
    """Whether the configuration lets browser clients of other sites in
    (`web.cross_origin_apis`), never where callers without credentials are privileged."""
    return bool((settings.block.get('web') or {}).get('cross_origin_apis', True)) and \
        not open_to_all(auth)


def open_to_all(auth) -> bool:
    """Whether a caller without credentials acts as someone privileged: the `none`
    authenticator (every caller is the local admin), or anonymous callers with an admin
    role. Any page of another site could then act and read as them."""
    from ..auth.builtin import NoAuthenticator
    return any(isinstance(a, NoAuthenticator) for a in auth.authenticators) or \
        bool(auth.anonymous and auth.anonymous_roles & auth.admin_roles)


def is_open(app: Flask, path: str) -> bool:
    """Whether `path` is open to other origins (under a root given to `open_to_browsers`)."""
    return _exposed(app, path) is not None


def _exposed(app: Flask, path: str) -> str | None:
    """The headers exposed at `path` ('' for none), None where it is not open."""
    for root, exposed in app.extensions.get(EXTENSION, {}).items():
        if path == root or path.startswith(root.rstrip('/') + '/'):
            return exposed
    return None


def open_to_browsers(app: Flask, roots: tuple[str, ...], exposed: str = '') -> None:
    """Answer requests to `roots` and the paths under them with CORS headers, exposing
    the response headers `exposed` (comma-separated; none: ''). The hooks are registered
    once, by the first call; each call adds its roots to the app's table."""
    if EXTENSION not in app.extensions:
        _install_hooks(app)
    app.extensions[EXTENSION].update(dict.fromkeys(roots, exposed))


def _install_hooks(app: Flask) -> None:
    app.extensions[EXTENSION] = {}

    def _preflight():
        if request.method != 'OPTIONS' or not is_open(app, request.path):
            return None
        methods = _methods(app)
        if methods is None:
            return None  # (no such path: its 404 follows)
        setattr(g, PREFLIGHT, methods)
        return Response(status=204, content_type='application/json')

    # before the other hooks (authentication among them): a preflight is answered first
    app.before_request_funcs.setdefault(None, []).insert(0, _preflight)

    @app.before_request  # (after authentication)
    def _other_site_needs_a_caller():
        refusal = g.pop(OTHER_SITE, None)
        if refusal is not None and _anonymous(app):
            return refusal  # (the bearer token made no one the caller)
        return None

    @app.after_request
    def _allow(response: Response) -> Response:
        exposed = _exposed(app, request.path)
        if exposed is None:
            return response
        if not isinstance(response.headers, Headers):  # pygeoapi sets a plain dict
            response.headers = Headers(response.headers)
        headers = response.headers  # (ours alone: pygeoapi's `server.cors` may add its own)
        for name in [n for n in headers.keys() if n.lower().startswith('access-control-')]:
            del headers[name]
        headers['Access-Control-Allow-Origin'] = '*'
        if exposed:
            headers['Access-Control-Expose-Headers'] = exposed
        methods = g.pop(PREFLIGHT, None)
        if methods is not None and response.status_code == 204:
            headers['Access-Control-Allow-Methods'] = ', '.join(methods)
            headers['Access-Control-Allow-Headers'] = ALLOWED_HEADERS
            headers['Access-Control-Max-Age'] = MAX_AGE
        return response


def admit_other_site(refusal: Response) -> None:
    """Let a state-changing request from another site with a bearer token through, to be
    refused with `refusal` if that token makes no one its caller (`_anonymous`)."""
    g.setdefault(OTHER_SITE, refusal)


def _anonymous(app: Flask) -> bool:
    from ..auth.service import current_user
    user = current_user()
    return user is None or user.name == app.extensions[AUTH].anonymous_user().name


def _methods(app: Flask) -> list[str] | None:
    """The methods the request's path takes (OPTIONS included), None if it has no route."""
    adapter = app.create_url_adapter(request)
    try:
        methods = adapter.allowed_methods()
    except HTTPException:
        return None
    if not methods:
        return None
    return sorted({*methods, 'OPTIONS'} - {'HEAD'})

"""Attaching the caller to every request; 401 with WWW-Authenticate on OGC API routes,
429 with Retry-After while failed logins are throttled."""

from __future__ import annotations

from flask import Flask, g, request

from ..web.problem import problem
from . import scope as request_scope
from .service import Auth, AuthenticationFailed
from .throttle import EXTENSION as THROTTLE_EXTENSION, LoginThrottle, TooManyFailures

# answered as ows:ExceptionReport by the ordering component (exact paths: downloads
# under /oseo/downloads/ get the 401 with WWW-Authenticate of every other route)
OWN_AUTH_ERRORS = ('/oseo',)


def _throttled(err: TooManyFailures, own_errors: bool):
    headers = {'Retry-After': str(err.retry_after)}
    if own_errors:
        from ..web import refuse
        response = refuse(429, f'authentication refused: {err}', oseo=True)
        response.headers.update(headers)
        return response
    return problem(429, 'about:blank', f'authentication refused: {err}', headers)


def install(app: Flask, auth: Auth, prefix: str = '',
            throttle: LoginThrottle | None = None) -> None:
    app.extensions['eoorder_auth'] = auth
    if throttle is not None:
        app.extensions[THROTTLE_EXTENSION] = throttle

    @app.before_request
    def _identify():
        path = request.path[len(prefix):] if prefix and request.path.startswith(prefix) \
            else request.path
        own_errors = path in OWN_AUTH_ERRORS
        scope = request_scope.RequestScope(auth, throttle, request.remote_addr)
        g.eoorder_scope_token = request_scope.enter(scope)
        try:
            user = auth.identify(request)
        except TooManyFailures as err:
            return _throttled(err, own_errors)
        except AuthenticationFailed as err:
            if own_errors:
                scope.auth_error = str(err)
                return None
            return problem(401, 'unauthorized', f'authentication failed: {err}',
                           {'WWW-Authenticate': auth.challenge()})
        if user is None and (auth.anonymous or auth.is_public(path)):
            user = auth.anonymous_user()
        if user is None and not own_errors:
            return problem(401, 'unauthorized', 'authentication required',
                           {'WWW-Authenticate': auth.challenge()})
        scope.user = user
        return None

    @app.teardown_request
    def _forget_caller(_error=None):
        token = g.pop('eoorder_scope_token', None)
        if token is not None:
            request_scope.leave(token)


def get_auth(app: Flask) -> Auth:
    return app.extensions['eoorder_auth']

"""Attaching the caller to every request; 401 with WWW-Authenticate on OGC API routes."""

from __future__ import annotations

from flask import Flask, g, request

from ..errors import problem
from .service import Auth, AuthenticationFailed

# answered as ows:ExceptionReport by the ordering component (exact paths: downloads
# under /oseo/downloads/ get the 401 with WWW-Authenticate of every other route)
OWN_AUTH_ERRORS = ('/oseo',)


def install(app: Flask, auth: Auth, prefix: str = '') -> None:
    app.extensions['eoorder_auth'] = auth

    @app.before_request
    def _identify():
        path = request.path[len(prefix):] if prefix and request.path.startswith(prefix) \
            else request.path
        own_errors = path in OWN_AUTH_ERRORS
        g.auth_error = None
        try:
            user = auth.identify(request)
        except AuthenticationFailed as err:
            if own_errors:
                g.user, g.auth_error = None, str(err)
                return None
            return problem(401, 'unauthorized', f'authentication failed: {err}',
                           {'WWW-Authenticate': auth.challenge()})
        if user is None and (auth.anonymous or auth.is_public(path)):
            user = auth.anonymous_user()
        if user is None and not own_errors:
            return problem(401, 'unauthorized', 'authentication required',
                           {'WWW-Authenticate': auth.challenge()})
        g.user = user
        return None


def get_auth(app: Flask) -> Auth:
    return app.extensions['eoorder_auth']

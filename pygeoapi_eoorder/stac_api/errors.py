"""The STAC API's error format, JSON `{"code", "description"}`, on every answer under
`<prefix>/stac`: its views' errors, and the refusals of the layers before them (routing's
404 and 405, the web safety's 415 and 400, the auth layer's 401/403), which answer
problem+json, converted by an `after_request` hook (`answer_in_stac_format`)."""

from __future__ import annotations

import json

from flask import Flask, Response, request

PROBLEM_TYPE = 'application/problem+json'
CODES = {400: 'InvalidParameterValue', 401: 'Unauthorized', 403: 'Forbidden',
         404: 'NotFound', 405: 'MethodNotAllowed', 409: 'Conflict',
         413: 'PayloadTooLarge', 415: 'UnsupportedMediaType', 429: 'TooManyRequests',
         500: 'ServerError', 503: 'ServiceUnavailable'}


class StacError(Exception):
    def __init__(self, status: int, description: str, headers: dict | None = None):
        super().__init__(description)
        self.status, self.description, self.headers = status, description, headers or {}


def code_of(status: int) -> str:
    """The error `code` of a status: a name, like the views' own errors."""
    return CODES.get(status, 'ServerError' if status >= 500 else 'InvalidRequest')


def error(status: int, description: str, headers: dict | None = None) -> Response:
    body = {'code': code_of(status), 'description': description}
    return Response(json.dumps(body), status, headers, mimetype='application/json')


def from_problem(response: Response) -> Response:
    """A problem+json answer in the STAC API's format: same status, and same headers
    (`Allow`, `Retry-After`, `WWW-Authenticate`, those of CORS...): it is rewritten in
    place, as the hooks that ran before may have added some."""
    try:
        problem = json.loads(response.get_data())
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        problem = {}
    description = problem.get('detail') or problem.get('title') or 'request refused'
    response.set_data(json.dumps({'code': code_of(response.status_code),
                                  'description': str(description)}))
    response.mimetype = 'application/json'
    return response


def is_under(path: str, root: str) -> bool:
    """Is `path` the STAC API's `root` or a path below it (not `/stacx`)?"""
    return path == root or path.startswith(root + '/')


def answer_in_stac_format(app: Flask, root: str) -> None:
    """Register the hook converting problem+json answers on paths under `root` (the STAC
    API's root path, with the API's prefix). Flask runs the last registered hook first:
    registered with the routes, this one runs after the app's, registered later, that
    makes pygeoapi's errors (its `/stac/<path>` view's too) problem+json."""
    @app.after_request
    def _stac_errors(response: Response) -> Response:
        if response.status_code >= 400 and response.mimetype == PROBLEM_TYPE and \
                is_under(request.path, root):
            return from_problem(response)
        return response

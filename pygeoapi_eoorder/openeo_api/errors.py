"""openEO's error format: `{"id", "code", "message", "links"}` with its standard codes."""

from __future__ import annotations

import json
import uuid

from flask import Response

JSON = 'application/json'


def error(status: int, code: str, message: str, headers: dict | None = None) -> Response:
    body = {'id': uuid.uuid4().hex, 'code': code, 'message': message, 'links': []}
    return Response(json.dumps(body), status=status, mimetype=JSON, headers=headers or {})


def not_found(what: str, code: str = 'NotFound') -> Response:
    return error(404, code, f'{what} does not exist')


CODES_BY_STATUS = {400: 'BadRequest', 401: 'AuthenticationRequired',
                   403: 'PermissionsInsufficient', 404: 'NotFound', 405: 'MethodNotAllowed',
                   413: 'PayloadTooLarge', 415: 'ContentTypeInvalid', 429: 'TooManyRequests',
                   503: 'ServiceUnavailable'}


def from_problem(response: Response) -> Response:
    """A problem+json answer (auth refusals, routing errors) in openEO's format."""
    try:
        problem = json.loads(response.get_data())
    except ValueError:
        problem = {}
    status = response.status_code
    code = CODES_BY_STATUS.get(status, 'Internal' if status >= 500 else 'BadRequest')
    if status == 401 and 'failed' in str(problem.get('detail', '')):
        code = 'CredentialsInvalid'
    converted = error(status, code, str(problem.get('detail') or problem.get('title')
                                        or 'request refused'))
    for name in ('WWW-Authenticate', 'Retry-After', 'Allow'):
        if name in response.headers:
            converted.headers[name] = response.headers[name]
    return converted


def json_response(body, status: int = 200, headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status=status, mimetype=JSON, headers=headers or {})

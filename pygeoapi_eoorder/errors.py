"""OGC API errors as problem+json (RFC 7807) with the OGC exception type URIs."""

from __future__ import annotations

import json
from http import HTTPStatus

from flask import Response

PROBLEM_TYPE = 'application/problem+json'
_P1 = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/'
_P2 = 'http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/'

TYPES = {
    'no-such-process': _P1 + 'no-such-process',
    'no-such-job': _P1 + 'no-such-job',
    'result-not-ready': _P1 + 'result-not-ready',
    'invalid-parameter': _P1 + 'invalid-parameter',
    'server-error': _P1 + 'server-error',
    'unsupported-media-type': _P2 + 'unsupported-media-type',
    'duplicated-process': _P2 + 'duplicated-process',
    'immutable-process': _P2 + 'immutable-process',
    'workflow-not-found': _P2 + 'workflow-not-found',
    'not-found': 'about:blank',
    'unauthorized': 'about:blank',
    'forbidden': 'about:blank',
    'gone': 'about:blank',
    'method-not-allowed': 'about:blank',
}

# pygeoapi's own exception codes, mapped onto the types above
PYGEOAPI_CODES = {
    'NoSuchProcess': 'no-such-process',
    'NoSuchJob': 'no-such-job',
    'ResultNotReady': 'result-not-ready',
    'InvalidParameterValue': 'invalid-parameter',
    'MissingParameterValue': 'invalid-parameter',
    'OperationParsingFailed': 'invalid-parameter',
    'InvalidQuery': 'invalid-parameter',
    'NotFound': 'not-found',
    'NoApplicableCode': 'server-error',
    'InternalError': 'server-error',
    'JobResultNotFound': 'server-error',
    'Forbidden': 'forbidden',
}


def problem_body(status: int, kind: str, detail: str, **extra) -> dict:
    body = {'type': TYPES.get(kind, kind), 'title': HTTPStatus(status).phrase,
            'status': status, 'detail': detail}
    body.update(extra)
    return body


def problem(status: int, kind: str, detail: str, headers: dict | None = None,
            **extra) -> Response:
    """A problem+json response."""
    response = Response(json.dumps(problem_body(status, kind, detail, **extra)),
                        status=status, mimetype=PROBLEM_TYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def from_pygeoapi(status: int, body: dict) -> dict:
    """Rewrite a pygeoapi `{code, description}` error as a problem document."""
    code = str(body.get('code', ''))
    kind = PYGEOAPI_CODES.get(code, 'server-error' if status >= 500 else 'invalid-parameter')
    if status == 404 and kind == 'invalid-parameter':
        kind = 'not-found'
    return problem_body(status, kind, str(body.get('description', '')), code=code)

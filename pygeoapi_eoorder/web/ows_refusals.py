"""Refusals made before an OWS protocol's adapter answers (authentication, request checks,
Flask's 404/405) are problem+json; on the OWS endpoints (WPS, OSEO) they are turned into
the ows:ExceptionReport those clients read, with the same status and the headers that
matter."""

from __future__ import annotations

import json
from typing import Callable

from flask import Flask, Response, request

# exception codes by HTTP status; else InvalidParameterValue (4xx) or NoApplicableCode
CODES = {401: 'NotAuthorized', 403: 'NotAuthorized', 405: 'OperationNotSupported',
         413: 'SizeExceeded', 429: 'ServerBusy', 503: 'ServerBusy'}
KEPT = frozenset({'www-authenticate', 'retry-after', 'allow'})


def install(app: Flask, on_path: Callable[[str], bool],
            render: Callable[[int, str, str], Response]) -> None:
    """Turn problem+json answers to requests whose path `on_path` accepts into
    `render(status, code, text)`."""
    @app.after_request
    def _as_ows(response):
        if response.mimetype != 'application/problem+json' or not on_path(request.path):
            return response
        try:
            problem = json.loads(response.get_data())
            text = str(problem.get('detail') or problem.get('title') or 'refused')
        except (ValueError, AttributeError):
            text = 'refused'
        status = response.status_code
        code = CODES.get(status, 'NoApplicableCode' if status >= 500
                         else 'InvalidParameterValue')
        converted = render(status, code, text)
        for name, value in response.headers.items():  # (CORS ones: `server.cors`)
            if name.lower() in KEPT or name.lower().startswith('access-control-'):
                converted.headers.add(name, value)
        return converted

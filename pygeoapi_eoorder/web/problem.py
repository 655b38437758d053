"""problem+json responses (RFC 7807) of the OGC API routes; the bodies are `errors`'."""

from __future__ import annotations

import json

from flask import Response

from ..errors import PROBLEM_TYPE, problem_body


def problem(status: int, kind: str, detail: str, headers: dict | None = None,
            **extra) -> Response:
    """A problem+json response."""
    response = Response(json.dumps(problem_body(status, kind, detail, **extra)),
                        status=status, mimetype=PROBLEM_TYPE)
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response

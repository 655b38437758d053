"""The web worker of `eoorder serve` and the container's gunicorn: gunicorn's gthread
worker, with the errors gunicorn answers itself (a request line or headers it cannot
parse or over its limits, before the app sees the request) as problem+json (RFC 9457),
like the app's own refusals, instead of an HTML page."""

from __future__ import annotations

import json

from gunicorn import util
from gunicorn.workers.gthread import ThreadWorker

from ..errors import PROBLEM_TYPE


def write_problem(sock, status_int: int, reason: str, mesg: str) -> None:
    """gunicorn's error answer (status, reason, text) as a problem document."""
    body = json.dumps({'type': 'about:blank', 'title': reason, 'status': status_int,
                       'detail': mesg or reason}).encode()
    head = (f'HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n'
            f'Content-Type: {PROBLEM_TYPE}\r\nContent-Length: {len(body)}\r\n\r\n')
    util.write_nonblock(sock, head.encode('latin-1') + body)


util.write_error = write_problem  # (gunicorn has no setting for its errors' format)


class Worker(ThreadWorker):
    """gunicorn's gthread worker; its own errors are problem+json (see the module)."""

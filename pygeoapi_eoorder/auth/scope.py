"""The request being served, as the auth service sees it: set by the web layer for the
length of one request (`enter`/`leave`), read by services without importing a web framework.

Outside a request (a job in a worker, the CLI) there is no scope: `current()` is None.
"""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import Any

_SCOPE: contextvars.ContextVar['RequestScope | None'] = contextvars.ContextVar(
    'eoorder_request_scope', default=None)


@dataclass
class RequestScope:
    """Who is calling (filled in once identified), under which rules, from where."""

    auth: Any = None            # the deployment's `Auth` rules
    throttle: Any = None        # the failed-login throttle, if configured
    client_address: str | None = None
    user: Any = None            # the identified `User`, None while anonymous/unknown
    auth_error: str | None = None
    memo: dict = field(default_factory=dict)  # what the services read once a request


def enter(scope: RequestScope) -> contextvars.Token:
    """Start serving a request with `scope`; pass the token to `leave` when it ends."""
    return _SCOPE.set(scope)


def leave(token: contextvars.Token) -> None:
    _SCOPE.reset(token)


def current() -> RequestScope | None:
    """The scope of the request being served, or None outside requests."""
    return _SCOPE.get()

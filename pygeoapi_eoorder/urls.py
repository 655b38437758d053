"""The server's base URL: the configured `server.url`, else the URL the client used.

With `server.url` unset (the default) every link is built from the request: scheme, host
and port as the client sent them — and, behind a proxy the deployer trusts
(`eoorder.web.trusted_proxies`), as werkzeug's `ProxyFix` restores them from the
`X-Forwarded-Proto/Host/Port/Prefix` headers. Outside a request (a job in a worker) the
base URL is the one stored with the job, else the configured or bind address.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable
from urllib.parse import urlsplit


def outside_requests() -> str | None:
    """The request root before the web layer says how to read it: none."""
    return None


@dataclass
class BaseURL:
    """How this server's base URL is found."""

    fixed: str | None = None     # `server.url` when the deployer set one
    fallback: str = ''           # outside a request without a fixed URL
    prefix: str = ''             # pygeoapi's API rules URL prefix (e.g. /v1)
    # the root URL of the request being served, None outside one (given by the web layer)
    request_root: Callable[[], str | None] = outside_requests

    def __call__(self) -> str:
        if self.fixed:
            return self.fixed
        root = self.request_root()
        if root:
            return root.rstrip('/') + self.prefix
        return self.fallback


CURRENT = BaseURL()
# pygeoapi's templates read `config.server.url`, and pygeoapi caches their config once per
# locale: with no fixed URL it is this placeholder, replaced in each HTML page by the
# request's base URL (app.py)
IN_PAGES = 'http://request-base-url.eoorder.invalid'


def configure(fixed: str | None, fallback: str, prefix: str = '',
              request_root: Callable[[], str | None] | None = None) -> None:
    """Set by the app at start-up (`request_root`: the web layer's reader of the request
    being served)."""
    CURRENT.fixed = fixed.rstrip('/') if fixed else None
    CURRENT.fallback = fallback.rstrip('/')
    CURRENT.prefix = ('/' + prefix.strip('/')) if prefix.strip('/') else ''
    if request_root is not None:
        CURRENT.request_root = request_root


HOST = re.compile(r'(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
                  r'(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?'
                  r'|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?')


def valid_host(host: str) -> bool:
    """Is `host` a host name, IPv4 or [IPv6] address, with an optional port?"""
    return len(host) <= 300 and HOST.fullmatch(host) is not None


def base_url() -> str:
    """The base URL links start with (no trailing slash)."""
    return CURRENT()


def of_request() -> str | None:
    """The base URL of the request being served (stored with the jobs it creates), or None
    outside a request."""
    return CURRENT() if CURRENT.fixed or CURRENT.request_root() else None


def path() -> str:
    """The base URL's path ('' at the root): HTML pages link with it, so they work at
    whatever host and port the browser used."""
    return urlsplit(base_url()).path.rstrip('/')

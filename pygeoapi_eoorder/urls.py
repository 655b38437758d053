"""The server's base URL: the configured `server.url`, else the URL the client used.

With `server.url` unset (the default) every link is built from the request: scheme, host
and port as the client sent them — and, behind a proxy the deployer trusts
(`eoorder.web.trusted_proxies`), as werkzeug's `ProxyFix` restores them from the
`X-Forwarded-Proto/Host/Port/Prefix` headers.

Each app owns its :class:`BaseURL` (built from its configuration by the component
registry). The web layer makes it current for the length of a request (`enter`/`leave`, a
context variable, as `auth.scope` does for the caller), so services read the URL of the
app serving the request without importing a web framework, and two apps in one process
never see each other's. Outside a request (a job in a worker, the CLI) nothing is current:
`base_url()` is '' and `of_request()` None; those paths use the URL stored with the job or
the configured one.
"""

from __future__ import annotations

import contextvars
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pygeoapi.util import get_api_rules


@dataclass(frozen=True)
class BaseURL:
    """How one app's base URL is found."""

    fixed: str | None = None     # `server.url` when the deployer set one
    fallback: str = ''           # outside a request without a fixed URL
    prefix: str = ''             # pygeoapi's API rules URL prefix (e.g. /v1)

    @classmethod
    def of(cls, fixed: str | None, fallback: str, prefix: str = '') -> 'BaseURL':
        return cls(fixed.rstrip('/') if fixed else None, fallback.rstrip('/'),
                   ('/' + prefix.strip('/')) if prefix.strip('/') else '')

    @classmethod
    def for_config(cls, config: dict, fixed: str | None) -> 'BaseURL':
        """`fixed`: the deployer's `server.url` (None: follow the request); the loaded
        configuration's `server.url` is the fallback, its API rules give the prefix."""
        prefix = get_api_rules(config).get_url_prefix('flask') or ''
        return cls.of(fixed, config['server']['url'], prefix)

    def at(self, root: str | None) -> str:
        """The base URL for a request whose root URL is `root` (None: outside one)."""
        if self.fixed:
            return self.fixed
        if root:
            return root.rstrip('/') + self.prefix
        return self.fallback


@dataclass(frozen=True)
class _Serving:
    base: BaseURL
    root: str | None


_SERVING: contextvars.ContextVar[_Serving | None] = contextvars.ContextVar(
    'eoorder_base_url', default=None)
# pygeoapi's templates read `config.server.url`, and pygeoapi caches their config once per
# locale: with no fixed URL it is this placeholder, replaced in each HTML page by the
# request's base URL (app.py)
IN_PAGES = 'http://request-base-url.eoorder.invalid'


def enter(base: BaseURL, root: str | None) -> contextvars.Token:
    """Start serving a request of the app whose base URL is `base`, at root URL `root`
    (given by the web layer); pass the token to `leave` when it ends."""
    return _SERVING.set(_Serving(base, root))


def leave(token: contextvars.Token) -> None:
    _SERVING.reset(token)


def current() -> BaseURL | None:
    """The base URL rules of the app serving the current request (None outside one)."""
    serving = _SERVING.get()
    return serving.base if serving is not None else None


HOST = re.compile(r'(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
                  r'(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?'
                  r'|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?')


def valid_host(host: str) -> bool:
    """Is `host` a host name, IPv4 or [IPv6] address, with an optional port?"""
    return len(host) <= 300 and HOST.fullmatch(host) is not None


def base_url() -> str:
    """The base URL links start with (no trailing slash); '' outside a request."""
    serving = _SERVING.get()
    return serving.base.at(serving.root) if serving is not None else ''


def of_request() -> str | None:
    """The base URL of the request being served (stored with the jobs it creates), or None
    outside a request."""
    serving = _SERVING.get()
    return serving.base.at(serving.root) if serving is not None else None


def path() -> str:
    """The base URL's path ('' at the root): HTML pages link with it, so they work at
    whatever host and port the browser used."""
    return urlsplit(base_url()).path.rstrip('/')

"""The catalogue context of the app at work: its settings, resources and base URL.

pygeoapi instantiates record providers itself, handing each only its own definition
(`provider_def`), so a provider cannot be given its app. Each app owns a
:class:`CatalogueContext` (on its component registry); the web layer makes it current for
the length of a request (`enter`/`leave`: a context variable, like `auth.scope` for the
caller), and the composition root around start-up work that builds providers (pygeoapi's
OpenAPI document). A provider reads the context of the app it serves through the functions
below; two apps in one process never see each other's. A context variable rather than a
key stamped into each definition: collections are also declared at run time, per request
(workspace collections), and their definitions are covered without stamping each one.
Outside any context (a worker, the CLI) a provider has no settings: `data: eoorder` fails
with a clear error; an SQLAlchemy URL in `data` works anywhere.
"""

from __future__ import annotations

import contextvars
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator


@dataclass(frozen=True, eq=False)
class CatalogueContext:
    """What the catalogue's providers need to know of their app."""

    settings: Any = None                               # the eoorder Settings
    resources: dict = field(default_factory=dict)     # the configured resources
    base_url: str = ''                                 # links outside a request

    @classmethod
    def of_config(cls, config: dict, settings) -> 'CatalogueContext':
        """The context of a loaded configuration (`config.load`)."""
        return cls(settings, config.get('resources') or {},
                   str(config['server'].get('url') or '').rstrip('/'))


_CURRENT: contextvars.ContextVar[CatalogueContext | None] = contextvars.ContextVar(
    'eoorder_catalogue_context', default=None)
_NONE = CatalogueContext()


def enter(context: CatalogueContext) -> contextvars.Token:
    """Make `context` current (a request, start-up work); pass the token to `leave`."""
    return _CURRENT.set(context)


def leave(token: contextvars.Token) -> None:
    _CURRENT.reset(token)


@contextmanager
def entered(context: CatalogueContext) -> Iterator[CatalogueContext]:
    """`context` is current inside the `with` block."""
    token = enter(context)
    try:
        yield context
    finally:
        leave(token)


def current() -> CatalogueContext:
    """The current app's context (an empty one outside any)."""
    return _CURRENT.get() or _NONE


def settings():
    """The eoorder Settings of the current app (None outside any)."""
    return current().settings


def catalogue_block() -> dict:
    found = settings()
    return (found.block.get('catalogue') or {}) if found else {}


def base_url() -> str:
    return current().base_url


def resources() -> dict:
    return current().resources


def store_url(data: str | None) -> str:
    """`data: eoorder` (or empty) is the shared store; anything else is an SQLAlchemy URL."""
    if data and data != 'eoorder':
        return data
    found = settings()
    if found is None:
        raise RuntimeError('data: eoorder needs the eoorder configuration of an app '
                           '(no catalogue context is current)')
    return found.store_url


def resource_id_of(provider_def: dict) -> str | None:
    """The id of the resource whose providers include this definition: the very object
    pygeoapi handed the provider, else (a copy) an equal definition."""
    equal = None
    for key, resource in resources().items():
        for provider in (resource or {}).get('providers', []) or []:
            if provider is provider_def:
                return key
            if equal is None and provider == provider_def:
                equal = key
    return equal

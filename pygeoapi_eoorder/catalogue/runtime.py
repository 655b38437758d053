"""What the web app tells the catalogue at start-up (base URL, settings, resources).

Providers are instantiated by pygeoapi per request with only their own definition; the
app's `install()` hook fills this in so they can resolve `data: eoorder`, their resource
id and absolute links.
"""

from __future__ import annotations

import os
from functools import lru_cache

STATE: dict = {}


def configure(base_url: str, settings, resources: dict) -> None:
    STATE.update(base_url=base_url.rstrip('/'), settings=settings, resources=resources)


@lru_cache(maxsize=4)
def _settings_from(path: str):
    from pygeoapi_eoorder import config as eoconfig
    return eoconfig.load(path)


def settings():
    """The eoorder Settings of the running server (or of $PYGEOAPI_CONFIG)."""
    if STATE.get('settings') is None and os.environ.get('PYGEOAPI_CONFIG'):
        config, found = _settings_from(os.environ['PYGEOAPI_CONFIG'])
        STATE.setdefault('resources', config.get('resources', {}))
        STATE.setdefault('base_url', config['server']['url'].rstrip('/'))
        STATE['settings'] = found
    return STATE.get('settings')


def catalogue_block() -> dict:
    found = settings()
    return (found.block.get('catalogue') or {}) if found else {}


def base_url() -> str:
    settings()
    return STATE.get('base_url', '')


def resources() -> dict:
    settings()
    return STATE.get('resources') or {}


def store_url(data: str | None) -> str:
    """`data: eoorder` (or empty) is the shared store; anything else is an SQLAlchemy URL."""
    if data and data != 'eoorder':
        return data
    found = settings()
    if found is None:
        raise RuntimeError('data: eoorder needs the eoorder configuration (PYGEOAPI_CONFIG)')
    return found.store_url


def resource_id_of(provider_def: dict) -> str | None:
    """The id of the resource whose providers include this definition: the very object
    pygeoapi handed the provider, else (outside the app) an equal definition."""
    equal = None
    for key, resource in resources().items():
        for provider in (resource or {}).get('providers', []) or []:
            if provider is provider_def:
                return key
            if equal is None and provider == provider_def:
                equal = key
    return equal

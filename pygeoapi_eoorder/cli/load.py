"""Loading a configuration for a command: a broken one stops it with one line."""

from __future__ import annotations

import sys

import click

from .. import config as eoconfig


def check_auth(settings: eoconfig.Settings) -> None:
    """Load the authenticators once, so a broken auth block stops start-up clearly."""
    from ..auth import Auth
    try:
        Auth(settings.block['auth'], settings.config_path.parent)
    except Exception as err:  # a plugin may fail in any way: report it in one line
        raise eoconfig.ConfigError(
            f'eoorder.auth.authenticators: {type(err).__name__}: {err}; fix: check the '
            'authenticator names, files and options') from None


def load(path: str, strict: bool = False):
    """Load a configuration (its authenticators too) or stop with a one-line message."""
    from ..components import load_config  # the services' imports, only when needed
    try:
        config, settings = load_config(path, strict=strict)
        check_auth(settings)
    except eoconfig.ConfigError as err:
        click.echo(f'eoorder: config error: {err}', err=True)
        sys.exit(2)
    return config, settings

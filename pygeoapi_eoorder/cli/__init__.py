"""The `eoorder` command line."""

from __future__ import annotations

import json
import sys

import click

from .. import __version__
from .. import config as eoconfig
from .load import load


@click.group()
@click.version_option(__version__, prog_name='eoorder')
def cli():
    """pygeoapi-eoorder: EO ordering (OSEO), processing (OGC API - Processes) and catalogue
    on pygeoapi, from one configuration file."""


@cli.command()
@click.option('--config', 'config_path', required=True, type=click.Path(dir_okay=False),
              envvar=eoconfig.ENV_CONFIG, help='pygeoapi YAML file with an eoorder: block')
@click.option('--host', default='127.0.0.1', show_default=True, help='address to listen on')
@click.option('--port', default=5000, show_default=True, type=click.IntRange(1, 65535),
              envvar='PORT', help='port to listen on (or $PORT); links follow it')
@click.option('--workers', default=2, show_default=True, type=click.IntRange(1, 64),
              help='web worker processes (jobs run in the job engine\'s own workers)')
@click.option('--threads', default=8, show_default=True, type=click.IntRange(1, 256),
              help='threads per web worker')
def serve(config_path, host, port, workers, threads):
    """Serve the API with gunicorn and run the job engine beside it."""
    _, settings = load(config_path)
    from ..serve import run
    try:
        run(settings, host, port, workers, threads)
    except eoconfig.ConfigError as err:
        click.echo(f'eoorder: config error: {err}', err=True)
        sys.exit(2)
    except RuntimeError as err:
        click.echo(f'eoorder: {err}', err=True)
        sys.exit(1)


@cli.command()
@click.option('--config', 'config_path', required=True, type=click.Path(dir_okay=False),
              envvar=eoconfig.ENV_CONFIG, help='pygeoapi YAML file with an eoorder: block')
@click.option('--concurrency', type=click.IntRange(1, 256), default=None,
              help='jobs this worker runs at once (default: eoorder.jobs.workers)')
@click.option('--loglevel', default='INFO', show_default=True,
              type=click.Choice(['DEBUG', 'INFO', 'WARNING', 'ERROR'], case_sensitive=False))
def worker(config_path, concurrency, loglevel):
    """Run a Celery worker of the cluster engine (jobs.engine: celery)."""
    _, settings = load(config_path)
    if settings.jobs.engine != 'celery':
        click.echo(f'eoorder: {config_path}: eoorder.jobs.engine is {settings.jobs.engine!r}, '
                   'so `eoorder serve` runs the jobs itself; fix: set eoorder.jobs.engine: '
                   'celery to run jobs in workers', err=True)
        sys.exit(2)
    try:
        import celery  # noqa: F401
    except ImportError:
        click.echo('eoorder: the celery engine needs Celery; fix: pip install '
                   '"pygeoapi-eoorder[celery]"', err=True)
        sys.exit(2)
    from sqlalchemy.exc import SQLAlchemyError
    from ..components import Components
    from ..jobs.cluster import worker_main
    try:
        worker_main(settings, concurrency, loglevel.upper(),
                    load_runtime=lambda path: Components.for_config(path).runtime())
    except SQLAlchemyError as err:
        reason = str(getattr(err, 'orig', None) or err).strip().splitlines()[0]
        click.echo(f'eoorder: store {settings.store_url.split("@")[-1]} unreachable '
                   f'({reason}); fix: start the database or correct eoorder.store.url',
                   err=True)
        sys.exit(1)


@cli.group('db')
def db_group():
    """The shared store's schema."""


@db_group.command('upgrade')
@click.option('--config', 'config_path', required=True, type=click.Path(dir_okay=False),
              envvar=eoconfig.ENV_CONFIG, help='pygeoapi YAML file with an eoorder: block')
def db_upgrade(config_path):
    """Create the store's tables or upgrade them to this version (never drops data)."""
    _, settings = load(config_path)
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError
    from ..store import migrate
    where = settings.store_url.split('@')[-1]
    try:
        if settings.store_url.startswith('sqlite'):
            from pathlib import Path
            from ..store import _sqlite_engine
            Path(settings.store_url.split(':///', 1)[-1]).parent.mkdir(parents=True,
                                                                      exist_ok=True)
            engine = _sqlite_engine(settings.store_url, immediate=True)
        else:
            engine = create_engine(settings.store_url)
        with engine.connect() as connection:
            steps = len(migrate.pending(migrate.current(connection)))
        with click.progressbar(length=steps, label='upgrading the store', file=sys.stderr,
                               show_pos=True) as bar:
            before, now = migrate.upgrade(engine, on_step=lambda _: bar.update(1))
        engine.dispose()
    except SQLAlchemyError as err:
        reason = str(getattr(err, 'orig', None) or err).strip().splitlines()[0]
        click.echo(f'eoorder: store {where} could not be upgraded ({reason}); fix: start the '
                   'database or correct eoorder.store.url', err=True)
        sys.exit(1)
    if before == now:
        click.echo(f'{where}: already at revision {now}')
    else:
        click.echo(f'{where}: upgraded from {before or "no revision"} to {now}')


@cli.group('config')
def config_group():
    """Check configuration files."""


@config_group.command('validate')
@click.argument('config_file', type=click.Path(dir_okay=False))
def config_validate(config_file):
    """Validate CONFIG_FILE (pygeoapi's schema and the eoorder: block)."""
    _, settings = load(config_file, strict=True)
    click.echo(f'{config_file}: valid (data in {settings.data_dir}, store '
               f'{settings.store_url.split("://")[0]})')


@cli.command()
@click.argument('config_file', type=click.Path(dir_okay=False))
@click.option('--output', '-o', type=click.File('w'), default='-',
              help='where to write the document (default: standard output)')
def openapi(config_file, output):
    """Write the OpenAPI document of CONFIG_FILE, with every process it serves."""
    config, settings = load(config_file)
    from ..api.openapi import build
    from ..catalogue import runtime as catalogue
    with catalogue.entered(catalogue.CatalogueContext.of_config(config, settings)):
        document = build(config)  # pygeoapi builds the record providers to describe them
    json.dump(document, output, indent=2, default=str)
    output.write('\n')


@cli.group()
def users():
    """Manage the users file of the basic authenticator."""


@users.command('add')
@click.argument('users_file', type=click.Path(dir_okay=False))
@click.argument('name')
@click.option('--role', 'roles', multiple=True, help='a role of the user (repeatable)')
@click.password_option(help='the password (asked twice when not given)')
def users_add(users_file, name, roles, password):
    """Add or update NAME in USERS_FILE with a hashed password."""
    from pathlib import Path

    import yaml
    from werkzeug.security import generate_password_hash
    path = Path(users_file)
    try:
        data = yaml.safe_load(path.read_text()) if path.exists() else {}
    except yaml.YAMLError as err:
        click.echo(f'eoorder: {users_file}: not valid YAML ({err}); fix: correct or remove it',
                   err=True)
        sys.exit(2)
    data = data or {}
    data.setdefault('users', {})[name] = {'password': generate_password_hash(password),
                                          'roles': list(roles)}
    path.write_text(yaml.safe_dump(data))
    path.chmod(0o600)
    click.echo(f'{name}: saved in {users_file} (roles: {", ".join(roles) or "none"})')


@cli.command('apikey')
@click.argument('keys_file', type=click.Path(dir_okay=False))
@click.argument('user')
@click.option('--role', 'roles', multiple=True, help='a role of the key (repeatable)')
def apikey(keys_file, user, roles):
    """Create an API key for USER in KEYS_FILE (only its hash is stored) and print it."""
    import hashlib
    import secrets
    from pathlib import Path

    import yaml
    path = Path(keys_file)
    data = (yaml.safe_load(path.read_text()) if path.exists() else None) or {}
    key = secrets.token_urlsafe(32)
    data.setdefault('keys', []).append({'sha256': hashlib.sha256(key.encode()).hexdigest(),
                                        'user': user, 'roles': list(roles)})
    path.write_text(yaml.safe_dump(data))
    path.chmod(0o600)
    click.echo(key)


def _mount_command_groups() -> None:
    """Command groups of the components (orders, harvest, ...)."""
    from .harvest import harvest
    from .orders import orders
    cli.add_command(orders)
    cli.add_command(harvest)


_mount_command_groups()


def main():
    cli()


if __name__ == '__main__':
    main()

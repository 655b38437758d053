"""`eoorder harvest SOURCE --into COLLECTION`: fill a records collection from a source."""

from __future__ import annotations

import sys

import click

from ..catalogue.harvest import KINDS, HarvestError
from ..catalogue.harvest import harvest as run_harvest
from .load import load


def _store_url(config_path: str | None, store: str | None) -> str:
    if store:
        return store
    if not config_path:
        raise click.ClickException('no store: give --config (or set PYGEOAPI_CONFIG) or '
                                   '--store URL')
    _, settings = load(config_path)
    return settings.store_url


def _settings_block(config_path: str | None) -> dict:
    if not config_path:
        return {}
    from pygeoapi_eoorder import config as eoconfig
    try:
        _, settings = eoconfig.load(config_path)
    except eoconfig.ConfigError:
        return {}
    return (settings.block.get('catalogue') or {}).get('harvest') or {}


def _egress_policy(config_path: str | None, allow_hosts: tuple[str, ...] = ()):
    """The configured egress policy (strict without a configuration), plus the hosts
    allowed on the command line."""
    from pygeoapi_eoorder import config as eoconfig
    from pygeoapi_eoorder.egress import policy_from_settings
    block: dict = {}
    if config_path:
        try:
            _, settings = eoconfig.load(config_path)
            block = dict(settings.block.get('egress') or {})
        except eoconfig.ConfigError:
            pass
    block['allowed_hosts'] = [*(block.get('allowed_hosts') or []), *allow_hosts]
    return policy_from_settings(block)


def _submit(config_path: str | None, process_id: str, inputs: dict) -> None:
    """Commit a harvest job to the shared engine and say where to follow it."""
    if not config_path:
        raise click.ClickException('--as-job needs --config (or PYGEOAPI_CONFIG)')
    from pygeoapi.process.manager.base import get_manager

    from pygeoapi_eoorder import config as eoconfig
    from pygeoapi_eoorder.components import load_config
    try:
        config, _ = load_config(config_path)
    except eoconfig.ConfigError as err:
        raise click.ClickException(f'config error: {err}') from None
    resource = config.get('resources', {}).get(process_id) or {}
    if resource.get('type') != 'process' or not str(
            (resource.get('processor') or {}).get('name', '')).endswith('HarvestProcessor'):
        raise click.ClickException(
            f'no harvest process {process_id!r} in {config_path}; add a process resource with '
            'processor pygeoapi_eoorder.catalogue.harvest.job.HarvestProcessor')
    manager = get_manager(config)
    # the deployer runs the CLI: the job acts with the admin roles
    job = manager.submit(process_id, inputs, job_type='harvest',
                         owner_roles=sorted(manager.auth.admin_roles))
    base = config['server']['url'].rstrip('/')
    click.echo(f'harvest job {job["id"]} accepted; follow it at {base}/jobs/{job["id"]}')


@click.command('harvest')
@click.argument('source')
@click.option('--into', 'collection', required=True,
              help='record set to fill (the `collection` of a SQL record provider)')
@click.option('--type', 'kind', type=click.Choice(KINDS), default='auto', show_default=True,
              help='kind of source (auto: look at what SOURCE serves)')
@click.option('--collection', 'remote_collections', multiple=True,
              help='STAC API collection to harvest (repeatable; default: all)')
@click.option('--config', 'config_path', envvar='PYGEOAPI_CONFIG',
              type=click.Path(dir_okay=False), help='pygeoapi config with the eoorder block')
@click.option('--store', help='SQLAlchemy URL of the store (instead of --config)')
@click.option('--restart', is_flag=True, help='start again instead of resuming')
@click.option('--max-records', type=click.IntRange(1), help='stop after this many records '
              '(the next run resumes)')
@click.option('--quiet', is_flag=True, help='no progress bar')
@click.option('--allow-host', 'allow_hosts', multiple=True,
              help='host, address or CIDR that may be reached although internal (repeatable; '
                   'added to egress.allowed_hosts)')
@click.option('--as-job', 'process_id', is_flag=False, flag_value='harvest', default=None,
              help='submit to the job engine instead (process id, default `harvest`; needs '
                   '--config)')
def harvest_command(source, collection, kind, remote_collections, config_path, store, restart,
                    max_records, quiet, allow_hosts, process_id):
    """Harvest SOURCE (STAC API, static STAC catalog, OpenSearch EO description or OGC API -
    Records items URL) into the records collection COLLECTION; unchanged records are skipped
    and an interrupted harvest resumes where it stopped."""
    if process_id:
        _submit(config_path, process_id, {'source': source, 'collection': collection,
                                          'type': kind, 'restart': restart,
                                          'remote_collections': list(remote_collections)})
        return
    url = _store_url(config_path, store)
    block = _settings_block(config_path)
    bar = {'bar': None}

    def progress(done, total):
        if quiet:
            return
        of = f'/{total}' if total is not None else ''
        if not sys.stderr.isatty():  # logs and pipes get one line per batch
            click.echo(f'harvest {collection}: {done}{of} records', err=True)
            return
        if bar['bar'] is None:
            bar['bar'] = click.progressbar(length=total or 0, label=f'harvest {collection}',
                                           file=sys.stderr, show_pos=True)
            bar['bar'].__enter__()
            bar['done'] = 0
        bar['bar'].update(done - bar['done'])
        bar['done'] = done

    try:
        result = run_harvest(url, source, collection, kind=kind,
                         remote_collections=remote_collections,
                         page_size=int(block.get('page_size', 100)),
                         timeout=float(block.get('timeout_seconds', 30)), restart=restart,
                         max_records=max_records, progress=progress,
                         policy=_egress_policy(config_path, allow_hosts))
    except HarvestError as err:
        raise click.ClickException(f'harvest: {err}') from None
    finally:
        if bar['bar'] is not None:
            bar['bar'].__exit__(None, None, None)
    counts = result.counts
    state = 'complete' if result.complete else 'stopped (run again to resume)'
    resumed = f', resumed at {result.resumed_at}' if result.resumed_at else ''
    click.echo(f'{result.kind}: {counts.inserted} new, {counts.updated} updated, '
               f'{counts.unchanged} unchanged{resumed}; {state}')


harvest = harvest_command  # the name the `eoorder` group registers

"""`eoorder orders ...`: list orders, moderate them (approve/reject), clean expired deliveries."""

from __future__ import annotations

import json
import sys

import click

from .. import config as eoconfig
from .load import load


def _service(config_path: str, with_manager: bool = True):
    config, settings = load(config_path)
    from ..ordering.service import OrderService
    manager = None
    if with_manager:
        from pygeoapi.process.manager.base import get_manager
        manager = get_manager(config)
    return OrderService(settings, manager)


config_option = click.option('--config', 'config_path', required=True,
                             type=click.Path(dir_okay=False), envvar=eoconfig.ENV_CONFIG,
                             help='pygeoapi YAML file with an eoorder: block')


@click.group()
def orders():
    """OSEO orders: list, approve, reject, clean."""


@orders.command('list')
@config_option
@click.option('--status', multiple=True, help='only orders with this status (repeatable)')
@click.option('--limit', default=50, show_default=True, type=click.IntRange(1, 10000))
def list_orders(config_path, status, limit):
    """Orders of every user, newest first, as JSON lines."""
    from ..ordering.repository import OrderQuery
    service = _service(config_path, with_manager=False)
    rows, _ = service.repo.query(OrderQuery(any_owner=True, statuses=list(status), limit=limit))
    for order in rows:
        click.echo(json.dumps(service.summary(order)))


def _moderate(config_path: str, order_id: str, decision: str, reason: str = '') -> None:
    service = _service(config_path)
    order = service.repo.get(order_id, with_request=False)
    if order is None:
        click.echo(f'eoorder: no order {order_id!r}; fix: see `eoorder orders list`', err=True)
        sys.exit(1)
    change = service.approve(order_id, 'approved on the command line') \
        if decision == 'approve' else service.reject(order_id, reason)
    if change is None:
        click.echo(f'eoorder: order {order_id} is {order["status"]}; fix: only Submitted '
                   'orders can be approved or rejected', err=True)
        sys.exit(1)
    from ..ordering.notify import notify_change
    notify_change(service, change)
    click.echo(f'order {order_id}: {change.before} -> {change.after}')


@orders.command()
@config_option
@click.argument('order_id')
def approve(config_path, order_id):
    """Approve an order awaiting moderation; its items start."""
    _moderate(config_path, order_id, 'approve')


@orders.command()
@config_option
@click.argument('order_id')
@click.option('--reason', default='', help='told to the client in additionalStatusInfo')
def reject(config_path, order_id, reason):
    """Reject an order awaiting moderation (it becomes Terminated)."""
    _moderate(config_path, order_id, 'reject', reason)


@orders.command()
@config_option
def clean(config_path):
    """Remove deliveries whose download period has expired."""
    from ..ordering.delivery import clean_expired
    click.echo(f'{clean_expired(_service(config_path, with_manager=False))} expired '
               'deliveries removed')

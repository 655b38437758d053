"""Orders survive crashes: the job engine's sweep re-creates missing item jobs, settles
items whose job ended without them knowing, and withdraws the workspace deliveries of
stopped items that are still there (`workspace_withdrawal.sweep`)."""

from __future__ import annotations

import logging

from . import states, subscriptions, workspace_withdrawal
from .service import OrderService

LOGGER = logging.getLogger('eoorder.ordering')


def _resume_submits(service: OrderService) -> int:
    """Finish what a crash interrupted inside Submit: the order was committed, but its
    automatic approval or the creation of its first item jobs was not. (Racing a Submit
    still in progress is harmless: both transitions are compare-and-set.)"""
    unapproved, unstarted = service.repo.stalled_orders()
    for order_id in unapproved:
        LOGGER.warning('order %s: approved automatically after an interrupted Submit',
                       order_id)
        service.approve(order_id, 'automatic approval')
    for order_id in unstarted:
        service.start_items(order_id)
    return len(unapproved) + len(unstarted)


def sweep(manager, settings) -> int:
    """Run by the supervisor at start and periodically; returns how many items it fixed."""
    service = OrderService(settings, manager)
    fixed = _resume_submits(service) + subscriptions.deliver(service)
    waiting = service.repo.waiting_items()
    if not waiting:
        return fixed + workspace_withdrawal.sweep(manager, settings)
    known = manager.repo.status_of(i['job_id'] for i in waiting)
    orders: dict[str, list] = {}
    for item in waiting:
        orders.setdefault(item['order_id'], []).append(item)
        if item['job_id'] not in known:
            order = service.repo.get(item['order_id'], with_request=False)
            if order is None or order['status'] in states.FINAL:
                continue
            service.submit_item_job(order, item)
            LOGGER.warning('order %s item %s: its job was missing and is created again',
                           item['order_id'], item['item_id'])
            fixed += 1
    for order_id, items in orders.items():
        if service.reconcile(order_id, items):
            fixed += 1
        service.start_items(order_id)
    return fixed + workspace_withdrawal.sweep(manager, settings)

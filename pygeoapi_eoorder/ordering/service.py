"""The order service: what OSEO operations, REST views, the CLI and item jobs all call.

Orders are committed before the client hears of them; each item becomes a job of the
shared engine (job type `order`) when the order is approved, at most `limit` at once.
"""

from __future__ import annotations

import uuid
from typing import Any, Callable

from sqlalchemy.engine import Connection

from ..config import Settings
from ..jobs.quotas import QuotaExceeded, QuotaPolicy, lock_user
from ..store import get_store
from . import states, subscriptions, workspace_withdrawal
from .encode import order_item_xml, spec_xml
from .errors import OseoError, invalid
from .options import resolve_item
from .parsing import ParsedOrder
from .repository import SUBSCRIPTION, Change, OrderRepository
from .settings import OrderingSettings

ITEM_PROCESS = '_oseo_order_item'
ORDER_JOB_TYPE = 'order'


def new_order_id() -> str:
    return str(uuid.uuid4())


class OrderService:
    def __init__(self, settings: Settings, manager=None):
        self.settings = settings
        self.conf = OrderingSettings(settings)
        self.repo = OrderRepository(get_store(settings.store_url))
        self.manager = manager

    # -- reading ----------------------------------------------------------------
    def find(self, order_id: str, owner: str | None, admin: bool = False) -> dict:
        """The order, if it exists and belongs to `owner`; else InvalidOrderIdentifier."""
        order = self.repo.get(order_id)
        if order is None or (not admin and order['owner'] != owner):
            raise OseoError('InvalidOrderIdentifier', f'no order {order_id!r} of yours',
                            'orderId')
        return order

    def reconcile(self, order_id: str, items: list[dict]) -> bool:
        """Items whose job ended without the item knowing (a crash) are marked Failed."""
        waiting = {i['job_id']: i for i in items if i['job_id'] and i['status'] in (
            states.ACCEPTED, states.IN_PRODUCTION)}
        if not waiting or self.manager is None:
            return False
        changed = False
        for job_id, status in self.manager.repo.status_of(waiting).items():
            if status in ('failed', 'dismissed'):
                job = self.manager.repo.get(job_id)
                reason = (job or {}).get('message') or f'job {status}'
                changed |= self.repo.transition_item(waiting[job_id]['id'], states.FAILED,
                                                     f'processing {status}: {reason}') is not None
        return changed

    # -- submission ---------------------------------------------------------------
    def _kind(self, order: ParsedOrder) -> str:
        if order.order_type == 'SUBSCRIPTION_ORDER':
            return 'subscription'
        if order.order_type == 'TASKING_ORDER':
            return 'tasking'
        return 'massive' if len(order.items) > self.conf.massive['threshold'] else 'product'

    def check(self, order: ParsedOrder, owner: str | None,
              roles: frozenset | None = None, *, quota: bool = True) -> list:
        """Refuse what cannot be ordered (`roles`: the owner's, for their quota; `quota`
        False: a Submit, whose quota is checked where the order is inserted); return each
        item's collection."""
        if order.order_type == 'TASKING_ORDER' and not self.conf.tasking.get('handler'):
            raise OseoError('OrderTypeNotSupported', 'tasking orders are not supported by '
                            'this server (no tasking handler is configured)', 'orderType')
        limit = self.conf.limits['max_items_per_order']
        if len(order.items) > limit:
            raise invalid('orderItem', f'{len(order.items)} items in one order; at most '
                          f'{limit} are accepted')
        if order.order_type == 'TASKING_ORDER':
            return [None] * len(order.items)
        collections = [resolve_item(self.conf, order, item) for item in order.items]
        if quota:
            self._check_quota(self.repo.active_items_of(owner), roles, len(order.items))
        return collections

    def _check_quota(self, active: int, roles: frozenset | None, adding: int) -> None:
        """LimitExceeded (429) naming the limit and the usage when `adding` more active
        items take the owner over their quota."""
        try:
            QuotaPolicy.from_settings(self.settings).check_order_items(roles, active, adding)
        except QuotaExceeded as err:
            raise OseoError('LimitExceeded', f'{err}: {active} of your items are waiting or '
                            f'in production, at most {err.allowed} may be at once',
                            'orderItem', status=429) from err

    def quota_guard(self, order: ParsedOrder, owner: str | None,
                    roles: frozenset | None) -> Callable[[Connection], None] | None:
        """The active-order-items check run in the transaction that inserts the order,
        under a per-user lock: simultaneous Submits of one user cannot both pass the last
        free places (None: a tasking order, not counted)."""
        if order.order_type == 'TASKING_ORDER':
            return None

        def guard(connection: Connection) -> None:
            lock_user(connection, owner, scope='order_items')
            self._check_quota(self.repo.active_items_of(owner, connection), roles,
                              len(order.items))
        return guard

    def submit(self, order: ParsedOrder, owner: str | None, collections: list | None = None,
               *, notification: str = 'None',
               reply_to: str | None = None, binding: str = 'xml',
               quotation_id: str | None = None, wake: bool = True,
               roles: frozenset | None = None) -> dict:
        """Commit the order (and, approved automatically, its first item jobs) if the
        owner's quota (`roles`: theirs) allows it; without `wake` the caller wakes the job
        engine (`manager.wake()`) once it has replied."""
        if collections is None:
            collections = self.check(order, owner, roles, quota=False)
        guard = self.quota_guard(order, owner, roles)
        kind = self._kind(order)
        manual = self.conf.moderation.get(kind, 'auto') == 'manual' if kind != 'tasking' \
            else False
        order_id = new_order_id()
        record = {
            'id': order_id, 'reference': order.reference, 'order_type': order.order_type,
            'massive': kind == 'massive', 'status': states.SUBMITTED,
            'status_info': 'awaiting approval' if manual else None, 'owner': owner,
            'status_notification': notification, 'reply_to': reply_to, 'binding': binding,
            'priority': order.priority, 'packaging': order.packaging,
            'protocol': order.protocol, 'options': order.options,
            'quotation_id': quotation_id, 'request_xml': spec_xml(order.element)}
        items = []
        for position, (item, collection) in enumerate(zip(order.items, collections)):
            items.append({
                'id': str(uuid.uuid4()), 'position': position, 'item_id': item.item_id,
                'kind': item.kind, 'collection_id': collection.id if collection else None,
                'identifier': item.identifier, 'status': states.SUBMITTED,
                'options': {**order.options, **item.options}, 'packaging': order.packaging,
                'protocol': item.protocol or order.protocol,
                'item_xml': order_item_xml(item.element)})
        if manual:
            return self.repo.create(record, items, 'submitted', guard=guard)[0]
        # automatic approval: inserted as Accepted, with its first items' jobs, in one
        # transaction (with the celery engine they are published once it is committed)
        limit = self._parallel_limit(record, items) if self.manager is not None else 0
        stored, claimed = self.repo.create(
            record, items, 'submitted', accept='automatic approval', claim=limit,
            job_for=lambda item: self.item_job_row(record, item), guard=guard)
        if any(item['kind'] == SUBSCRIPTION for item in items):
            subscriptions.start(self.repo, order_id)
        if claimed:
            self.manager.announce([item['job_id'] for item in claimed], wake)
        return stored

    def records_inserted(self, store_url: str, collection: str) -> None:
        """A catalogue record listener: new records of `collection` become items of the
        subscriptions standing on it."""
        if store_url == self.settings.store_url:
            subscriptions.deliver(self, collection)

    # -- moderation -----------------------------------------------------------------
    def approve(self, order_id: str, note: str = 'approved') -> Change | None:
        done = self.repo.transition_order(order_id, states.ACCEPTED, note)
        if done is None:
            return None
        subscriptions.start(self.repo, order_id)
        self.start_items(order_id)
        return done[0]

    def reject(self, order_id: str, reason: str) -> Change | None:
        done = self.repo.transition_order(order_id, states.TERMINATED,
                                          f'rejected: {reason}' if reason else 'rejected')
        return done[0] if done else None

    # -- running items ----------------------------------------------------------------
    def _parallel_limit(self, order: dict, items: list[dict] | None = None) -> int:
        """How many of the order's items may run at once (`items`: when already known)."""
        if order['massive']:
            return self.conf.massive['batch_size']
        if items is None:
            items = self.repo.items(order['id'])
        collections = {i['collection_id'] for i in items}
        sequential = any(not self.conf.collections[c].parallel for c in collections
                         if c in self.conf.collections)
        return 1 if sequential else max(1, len(items))

    def start_items(self, order_id: str) -> list[str]:
        """Submit jobs for the order's waiting items, within its parallel limit."""
        order = self.repo.get(order_id, with_request=False)
        if order is None or order['status'] in (states.SUBMITTED, *states.FINAL) \
                or self.manager is None:
            return []
        started = []
        for item in self.repo.claim_pending(order_id, self._parallel_limit(order)):
            started.append(self.submit_item_job(order, item)['id'])
        return started

    def item_job_row(self, order: dict, item: dict) -> dict:
        """The job of an item, to be inserted with the order (`repo.create`)."""
        return self.manager.new_job(ITEM_PROCESS, {'order': order['id'], 'item': item['id']},
                                    job_type=ORDER_JOB_TYPE, owner=order['owner'],
                                    job_id=item['job_id'])

    def submit_item_job(self, order: dict, item: dict) -> dict:
        """Create (or find) the job of an item under the id the item already holds."""
        return self.manager.submit(ITEM_PROCESS, {'order': order['id'], 'item': item['id']},
                                   job_type=ORDER_JOB_TYPE, owner=order['owner'],
                                   job_id=item['job_id'])

    # -- cancelling -------------------------------------------------------------------
    def cancel(self, order_id: str, owner: str | None, admin: bool = False) -> dict:
        order = self.find(order_id, owner, admin)
        done = self.repo.transition_order(order_id, states.CANCELLED, 'cancelled by the client')
        if done is None:
            raise invalid('orderId', f'order {order_id!r} is {order["status"]} and can no '
                          'longer be cancelled')
        for item in done[1]:
            job_id = item['job_id']
            if job_id and self.manager is not None:
                try:
                    self.manager.dismiss(job_id)
                except Exception:  # the job may be gone already; the item is cancelled
                    pass
        delivering = [self.repo.item(i['id']) for i in done[1]
                      if i['status'] == states.IN_PRODUCTION]
        workspace_withdrawal.withdraw_cancelled(self.settings, [i for i in delivering if i])
        return self.repo.get(order_id)

    def summary(self, order: dict, items: list[dict] | None = None) -> dict[str, Any]:
        """A JSON view of an order (REST and CLI)."""
        from ..store import isoformat
        body = {'id': order['id'], 'reference': order['reference'],
                'orderType': order['order_type'], 'massive': order['massive'],
                'status': order['status'], 'statusInfo': order['status_info'],
                'owner': order['owner'], 'created': isoformat(order['created']),
                'updated': isoformat(order['updated']), 'items': order['item_count']}
        if items is not None:
            body['items'] = [{'itemId': i['item_id'], 'kind': i['kind'],
                              'collection': i['collection_id'], 'identifier': i['identifier'],
                              'status': i['status'], 'statusInfo': i['status_info'],
                              'jobID': i['job_id'],
                              'downloads': i['downloads'],
                              'expires': isoformat(i['expires'])} for i in items]
        return body

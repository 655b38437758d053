"""Withdrawal of an order item's delivery into a workspace (`workspace_delivery`): an item
cancelled (or failed) during its delivery keeps nothing in the workspace, and the bytes
its delivery booked go back to the workspace's usage exactly once.

Before uploading, the delivery writes its plan into the item row (`files`: the keys and
the bytes booked for each), while the item is still in production; the item's files are
its delivery's area `orders/<order id>/<item>/` and its STAC record; the booking and the
plan commit together, so a crash leaves no booking without its plan. Whoever withdraws
(the worker that sees the cancel, the Cancel request once the item's job is stopped, or
the job engine's sweep) removes the record first (no record names a missing object), then
the objects and the multipart uploads left open in the area; the one that marks the item
`files_removed` gives the planned booking back. The sweep (`sweep`) withdraws what was
left: a withdrawal the object store refused (tried again at each sweep until it answers)
and the delivery of an item failed after its worker was killed."""

from __future__ import annotations

import logging

from sqlalchemy import select, update

from ..jobs.repository import ACCEPTED, RUNNING
from ..store import get_store
from ..store.order_tables import OrderItem
from ..workspaces import StorageError, WorkspaceService, make_storage
from ..workspaces.job_areas import exists
from ..workspaces.records import WorkspaceRecords
from . import states

LOGGER = logging.getLogger('eoorder.ordering')
OPTION = 'deliveryWorkspace'


def area(item: dict) -> str:
    """The key prefix of an item's delivered files in its workspace."""
    return f"orders/{item['order_id']}/{item['id']}"


def record_id(item: dict) -> str:
    return f"order-{item['order_id']}-{item['item_id']}"


def book_and_plan(service: WorkspaceService, workspace, item: dict,
                  planned: list[tuple[str, int]]) -> bool:
    """Book the delivery's bytes in the workspace's usage and write its plan ((key,
    bytes) booked) into the item row, in one transaction: a crash leaves both or neither,
    and the plan gives the booking back (`withdraw`). False when the item is no longer in
    production (nothing booked); QuotaExceeded when the bytes do not fit (nothing
    planned)."""
    service.counter.counted(workspace.id)
    with get_store(service.store_url).write() as session:
        if session.execute(update(OrderItem).where(
                OrderItem.id == item['id'], OrderItem.status == states.IN_PRODUCTION,
                OrderItem.files_removed.is_(False)).values(
                files=[{'key': key, 'bytes': size} for key, size in planned])).rowcount != 1:
            return False
        service.reserve(workspace, sum(size for _, size in planned), session)
    return True


def _claim(store_url: str, item_pk: str) -> int:
    """Mark the item's files removed; the bytes its plan booked (0: someone else did)."""
    with get_store(store_url).write() as session:
        claimed = session.execute(update(OrderItem).where(
            OrderItem.id == item_pk, OrderItem.files_removed.is_(False))
            .values(files_removed=True)).rowcount == 1
        planned = session.execute(select(OrderItem.files).where(
            OrderItem.id == item_pk)).scalar_one_or_none() if claimed else None
    return sum(int(entry.get('bytes', 0)) for entry in planned or ()
               if isinstance(entry, dict))


def _remove_record(store_url: str, workspace_id: str, identifier: str) -> int:
    """Deregister the item's record; the bytes its document took (0: it was not there)."""
    records = WorkspaceRecords(store_url, workspace_id)
    size = records.stored_bytes(identifier)
    return size if size and records.deregister(identifier) else 0


def withdraw(service: WorkspaceService, item: dict) -> None:
    """Remove the item's delivery from its workspace and give its booking back;
    StorageError when the object store fails (the booking stays until it is done)."""
    workspace_id = (item.get('options') or {}).get(OPTION)
    if not workspace_id:
        return
    store_url = service.store_url
    freed = _remove_record(store_url, workspace_id, record_id(item))
    prefix = area(item) + '/'
    try:
        service.storage.abort_uploads(workspace_id, prefix)
        for stored in list(service.storage.objects(workspace_id)):
            if stored.key.startswith(prefix):
                service.storage.delete(workspace_id, stored.key)
        freed += _claim(store_url, item['id'])
    finally:
        if freed and exists(service, workspace_id):
            service.release(workspace_id, freed)


def withdraw_cancelled(settings, items: list[dict]) -> None:
    """After a Cancel stopped their jobs: withdraw the workspace deliveries of `items`
    (full item rows); failures are logged, the cancel stands."""
    block = settings.block.get('workspaces') or {}
    wanted = [i for i in items if (i.get('options') or {}).get(OPTION)]
    if not wanted or not block.get('enabled', True):
        return
    try:
        service = WorkspaceService(settings.store_url, make_storage(
            block['storage'], settings.data_dir), None, block)
        for item in wanted:
            withdraw(service, item)
    except (StorageError, OSError) as err:  # the sweep tries again (`sweep`)
        LOGGER.warning('order %s: a cancelled delivery stays in its workspace until the '
                       'next sweep: %s', wanted[0]['order_id'], err)


STOPPED = (states.CANCELLED, states.FAILED, states.TERMINATED)


def pending(store_url: str, limit: int = 100) -> list[dict]:
    """Items that stopped with a delivery plan not yet withdrawn."""
    with get_store(store_url).read() as session:
        rows = session.execute(select(OrderItem.__table__).where(
            OrderItem.status.in_(STOPPED), OrderItem.files_removed.is_(False),
            OrderItem.files.is_not(None), OrderItem.token.is_(None))
            .order_by(OrderItem.updated).limit(limit)).mappings()
        return [dict(r) for r in rows if r['files'] and (r['options'] or {}).get(OPTION)]


def sweep(manager, settings) -> int:
    """Withdraw the deliveries left behind (a job engine sweep, through the order
    recovery): items stopped with a plan whose job no longer runs; how many were
    withdrawn. While the object store fails, the rest waits for the next sweep."""
    block = settings.block.get('workspaces') or {}
    items = pending(settings.store_url) if block.get('enabled', True) else []
    if not items:
        return 0
    jobs = manager.repo.status_of([i['job_id'] for i in items if i['job_id']])
    idle = [i for i in items if jobs.get(i['job_id']) not in (ACCEPTED, RUNNING)]
    if not idle:
        return 0
    service = WorkspaceService(settings.store_url, make_storage(
        block['storage'], settings.data_dir), None, block)
    done = 0
    for item in idle:
        try:
            withdraw(service, item)
        except (StorageError, OSError) as err:  # the object store is down: later
            LOGGER.warning('order %s item %s: its delivery stays in workspace %s until the '
                           'next sweep: %s', item['order_id'], item['item_id'],
                           item['options'][OPTION], err)
            break
        except Exception:  # this item only; the others are still withdrawn
            LOGGER.exception('order %s item %s: withdrawal from workspace %s failed',
                             item['order_id'], item['item_id'], item['options'][OPTION])
            continue
        LOGGER.info('order %s item %s: its delivery left workspace %s', item['order_id'],
                    item['item_id'], item['options'][OPTION])
        done += 1
    return done

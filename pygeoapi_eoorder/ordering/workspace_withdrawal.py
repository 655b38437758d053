"""Withdrawal of an order item's delivery into a workspace (`workspace_delivery`): an item
cancelled (or failed) during its delivery keeps nothing in the workspace, and the bytes
its delivery booked go back to the workspace's usage exactly once.

Before uploading, the delivery writes its plan into the item row (`files`: the keys and
the bytes booked for each), while the item is still in production; the item's files are
its delivery's area `orders/<order id>/<item>/` and its STAC record. Whoever withdraws
(the worker that sees the cancel, or the Cancel request once the item's job is stopped)
removes the record first (no record names a missing object), then the objects and the
multipart uploads left open in the area; the one that marks the item `files_removed`
gives the planned booking back. A worker killed between its booking and writing the plan
leaves that booking counted until an admin's recount."""

from __future__ import annotations

import logging

from sqlalchemy import select, update

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


def plan(store_url: str, item: dict, planned: list[tuple[str, int]]) -> bool:
    """Write the delivery's plan ((key, bytes) booked) into the item row; False when the
    item is no longer in production (cancelled: the caller gives its booking back)."""
    with get_store(store_url).write() as session:
        return session.execute(update(OrderItem).where(
            OrderItem.id == item['id'], OrderItem.status == states.IN_PRODUCTION,
            OrderItem.files_removed.is_(False)).values(
            files=[{'key': key, 'bytes': size} for key, size in planned])).rowcount == 1


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
    except (StorageError, OSError) as err:
        LOGGER.warning('order %s: a cancelled delivery stays in its workspace: %s',
                       wanted[0]['order_id'], err)

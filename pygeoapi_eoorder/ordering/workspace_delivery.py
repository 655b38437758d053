"""Delivery of order items into one of the orderer's workspaces (issue 18): the order or
item option `deliveryWorkspace`, offered in GetOptions with the caller's workspaces as its
allowed values. A Submit naming a workspace the orderer is not a member of is refused as
if it did not exist (InvalidParameterValue). Each delivered file is uploaded to
`orders/<order id>/<item id>/` of the workspace after the quota is booked for all of them
(a refusal fails the item, naming the limit and the usage), then one STAC item per
delivered product is registered in the workspace's collection (owned by the workspace);
the order's download URLs point at the workspace's files. An item cancelled or failed
during its delivery keeps nothing there (`workspace_withdrawal`)."""

from __future__ import annotations

from pathlib import Path

from ..auth import job_user
from ..store import get_store, isoformat, utcnow
from ..workspaces import (QuotaExceeded, StorageError, WorkspaceNotFound, WorkspaceService,
                          make_storage)
from ..workspaces.records import WorkspaceRecords
from . import states
from . import workspace_withdrawal as withdrawal
from .errors import invalid
from .processors import ItemProcessingError
from .repository import OrderRepository
from .workspace_withdrawal import OPTION

CANCELLED = 'item cancelled during its delivery; nothing of it stays in the workspace'
PREFIX = '/workspaces/'  # a delivered name starting so is a path of the server, not a file


def workspace_service(settings, auth) -> WorkspaceService | None:
    """The workspace service of the configuration (None: workspaces are off)."""
    block = settings.block.get('workspaces') or {}
    if not block.get('enabled', True) or auth is None:
        return None
    return WorkspaceService(settings.store_url, make_storage(block['storage'],
                                                             settings.data_dir), auth, block)


def offered(settings, auth, user) -> list[str]:
    """Ids of the workspaces `user` may deliver into (none when workspaces are off)."""
    service = workspace_service(settings, auth)
    if service is None or user is None:
        return []
    return [w.id for w in service.visible(user)]


def check(settings, auth, user, order) -> None:
    """Refuse an order naming a workspace `user` may not deliver into."""
    named = {v for v in [order.options.get(OPTION)] + [i.options.get(OPTION)
                                                       for i in order.items] if v}
    if not named:
        return
    service = workspace_service(settings, auth)
    for workspace_id in sorted(named):
        try:
            if service is None or user is None:
                raise WorkspaceNotFound(workspace_id)
            service.get(user, workspace_id)
        except WorkspaceNotFound:
            raise invalid(OPTION, f'{OPTION}: no workspace {workspace_id!r} of yours') \
                from None


def _files(delivered: list[Path], root: Path) -> list[tuple[str, Path]]:
    found = []
    for path in delivered:
        found += [(p.relative_to(root).as_posix(), p) for p in
                  ([path] if path.is_file() else sorted(path.rglob('*')))
                  if p.is_file() and not p.is_symlink()]
    return found


def deliver(ctx, item: dict, workspace_id: str, root: Path, delivered: list[Path]) -> list[str]:
    """Upload the files delivered under `root` into the workspace and register the STAC
    item; their paths on this server (`/workspaces/<id>/files/...`)."""
    service = workspace_service(ctx.settings, getattr(ctx.manager, 'auth', None))
    try:
        if service is None:
            raise WorkspaceNotFound(workspace_id)
        workspace = service.get(job_user(ctx.job), workspace_id)
    except WorkspaceNotFound:
        raise ItemProcessingError(f'{OPTION}: no workspace {workspace_id!r} of yours') from None
    prefix = withdrawal.area(item)
    files = [(f'{prefix}/{name}', path) for name, path in _files(delivered, root)]
    planned = [(key, path.stat().st_size) for key, path in files]
    size = sum(bytes_ for _, bytes_ in planned)
    try:
        if not withdrawal.book_and_plan(service, workspace, item, planned):
            raise ItemProcessingError(CANCELLED)
    except QuotaExceeded as err:
        raise ItemProcessingError(f'delivery to workspace {workspace_id!r} refused: '
                                  f'{err.detail}') from None
    try:
        _upload(service, ctx, item, workspace_id, files)
        paths = [f'{PREFIX}{workspace_id}/files/{key}' for key, _ in files]
        _register(service, ctx, item, workspace_id, paths)
    except BaseException:
        _withdraw_quietly(service, item, ctx.log)
        raise
    ctx.log.info('delivered %d file(s), %d bytes, to workspace %s', len(files), size,
                 workspace_id)
    return paths


def _upload(service, ctx, item: dict, workspace_id: str, files) -> None:
    """Store every file; stop when the item was cancelled meanwhile."""
    repo = OrderRepository(get_store(ctx.settings.store_url))
    for key, path in files:
        if repo.item(item['id'])['status'] != states.IN_PRODUCTION:
            raise ItemProcessingError(CANCELLED)
        try:
            with open(path, 'rb') as stream:
                service.storage.put(workspace_id, key, stream)
        except (StorageError, OSError) as err:
            raise ItemProcessingError(f'delivery to workspace {workspace_id!r} failed: '
                                      f'{err}') from None


def _withdraw_quietly(service, item: dict, log) -> None:
    try:
        withdrawal.withdraw(service, item)
    except (StorageError, OSError) as err:
        log.warning('the delivery stays in the workspace: %s', err)


def withdraw_item(ctx, item: dict) -> None:
    """The item was cancelled once delivered: its delivery leaves the workspace."""
    service = workspace_service(ctx.settings, getattr(ctx.manager, 'auth', None))
    if service is not None:
        _withdraw_quietly(service, item, ctx.log)


def _register(service, ctx, item: dict, workspace_id: str, paths: list[str]) -> None:
    """One STAC item for the delivered product, its assets the workspace's files."""
    base = ctx.base_url.rstrip('/')
    document = {
        'type': 'Feature', 'stac_version': '1.0.0', 'id': withdrawal.record_id(item),
        'geometry': None,
        'properties': {'datetime': isoformat(utcnow()), 'title': item['identifier'] or
                       item['item_id'], 'order:id': item['order_id'],
                       'order:item': item['item_id'], 'collection': item['collection_id']},
        'links': [], 'assets': {Path(p).name: {'href': base + p, 'roles': ['data']}
                                for p in paths}}
    records = WorkspaceRecords(ctx.settings.store_url, workspace_id)
    before = records.stored_bytes()
    try:
        records.register([[document]])
    finally:
        service.release(workspace_id, before - records.stored_bytes())


def url(base_url: str, name: str) -> str | None:
    """The URL of a name delivered into a workspace (None: a name of the downloads)."""
    return base_url.rstrip('/') + name if name.startswith(PREFIX) else None

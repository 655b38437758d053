"""Stage-out of a deployed process's outputs into its owner's workspace (EOEPCA's ADES:
results land in the user's workspace and its catalogue), with `workspaces.stage_out:
personal`. The workspace is chosen when the job starts (`target`). Every output file is
uploaded to `jobs/<job id>/<output id>[/...]` of the owner's personal workspace, after
the quota check for all of them (booked with a ledger row, `workspaces.bookings`, settled
once the files and records are stored), each confirmed by its stored size (a failed upload is
tried again a few times: an object store restarting); STAC outputs are registered in the
workspace's collection (owned by the workspace, private) only then, so no record ever
points at an object that is not stored; the job's results link to the workspace.

A stage-out that fails (storage down, workspace deleted meanwhile, registration refused)
fails the job with the reason and leaves nothing of it in the workspace
(`workspaces.job_areas`: what the storage could not remove then is swept later). A job
killed mid-stage-out leaves its booking open: recovery (or a sweep) removes its area
and gives the booking back whole, so no bytes stay counted."""

from __future__ import annotations

import time
from pathlib import Path

from ..auth import job_user
from ..catalogue.ingest import ingest_stac
from ..catalogue.workspace_collections import collection_of
from ..execution.errors import ExecutionError
from ..workspaces import (KeyConflict, QuotaExceeded, StorageError, Workspace,
                          WorkspaceService, make_storage)
from ..workspaces import WorkspaceNotFound, bookings, job_areas
from ..workspaces.records import WorkspaceRecords, ownership

PAUSES = (1, 2, 4)  # seconds between the attempts at one object


def workspace_service(ctx) -> WorkspaceService | None:
    """The workspace service of the job's configuration (None: workspaces are off)."""
    block = ctx.settings.block.get('workspaces') or {}
    if not block.get('enabled', True):
        return None
    storage = make_storage(block['storage'], ctx.settings.data_dir)
    auth = getattr(ctx.manager, 'auth', None)
    return WorkspaceService(ctx.settings.store_url, storage, auth, block)


Target = tuple[WorkspaceService, Workspace]


def target(ctx) -> Target | None:
    """Where the job's outputs go, chosen as it starts: the workspace its request named
    (`workspace_choice`), else the owner's personal one (None: stage-out is off)."""
    block = ctx.settings.block.get('workspaces') or {}
    named = (ctx.job.get('details') or {}).get('workspace')  # see workspace_choice
    service = workspace_service(ctx) if named or block.get('stage_out') == 'personal' \
        else None
    if service is None or not ctx.job.get('owner'):
        return None
    if named:  # checked at submission; a membership withdrawn since fails the job
        try:
            return service, service.get(job_user(ctx.job), named)
        except WorkspaceNotFound:
            raise ExecutionError(f'stage-out: no workspace {named!r} of yours') from None
    workspace = service.personal_of(job_user(ctx.job))
    if workspace is None:
        raise ExecutionError(f'stage-out: user {ctx.job["owner"]!r} has no personal '
                             'workspace (workspaces.personal is off)')
    return service, workspace


def _files(results_dir: Path, output_id: str) -> list[tuple[str, Path]]:
    """(key, path) of an output's regular files (a container's links were removed)."""
    root = results_dir / output_id
    if root.is_file():
        return [(output_id, root)]
    return [(f'{output_id}/{p.relative_to(root).as_posix()}', p)
            for p in sorted(root.rglob('*')) if p.is_file() and not p.is_symlink()]


def stage_out(ctx, document: dict, chosen: Target | None = None) -> dict:
    """`document` (the job's results) with its file outputs moved by reference to the
    workspace `chosen` (default: `target`); unchanged when stage-out is off."""
    chosen = chosen if chosen is not None else target(ctx)
    if chosen is None:
        return document
    service, workspace = chosen
    results_dir = ctx.job_dir / 'results'
    refs = {oid: v for oid, v in document.items() if isinstance(v, dict) and 'href' in v
            and (results_dir / oid).exists()}
    files = {oid: _files(results_dir, oid) for oid in refs}
    size = sum(p.stat().st_size for found in files.values() for _, p in found)
    try:
        _prepare(ctx, service, workspace.id)
        booking = service.book(workspace, bookings.JOB, ctx.job_id, size)
    except QuotaExceeded as err:
        raise ExecutionError(f'stage-out to workspace {workspace.id!r}: {err.detail}') from None
    except StorageError as err:
        raise ExecutionError(f'stage-out to workspace {workspace.id!r}: {err}') from None
    try:
        refs, kept = _store(ctx, service, workspace.id, refs, files)
    except ExecutionError as err:  # the area goes, and its booking with it
        reason = job_areas.discard_quietly(service, workspace.id, ctx.job_id)
        raise ExecutionError(f'{err}{reason}') from None
    if not service.settle(booking, kept):  # (else the files and records stored: counted)
        # its area went with its booking while it wrote (the job dismissed, its order
        # cancelled): what it wrote since goes too, uncounted as it is
        job_areas.remove_uncounted(service, workspace.id, ctx.job_id)
        raise ExecutionError(f'stage-out to workspace {workspace.id!r}: the job\'s outputs '
                             'were withdrawn while it wrote them; nothing of it was kept')
    ctx.log.info('staged %d output(s), %d bytes, out to workspace %s', len(refs), size,
                 workspace.id)
    return {**document, **refs}


def _prepare(ctx, service, workspace_id: str) -> None:
    """The workspace is still there; what failed jobs (and an earlier attempt of this
    one) left in it goes first."""
    _still_there(service, workspace_id)
    job_areas.sweep(service, workspace_id, also=(ctx.job_id,))


def _still_there(service, workspace_id: str) -> None:
    if not job_areas.exists(service, workspace_id):
        raise ExecutionError(f'stage-out: workspace {workspace_id!r} was deleted while the '
                             'job wrote into it; nothing of the job was kept')


def _store(ctx, service, workspace_id: str, refs: dict, files: dict) -> tuple[dict, int]:
    """Upload the files, then register the STAC outputs; the refs pointing there and the
    bytes stored (files and record documents), all covered by the job's booking."""
    prefix = f'jobs/{ctx.job_id}'
    base = f'{ctx.base_url}/workspaces/{workspace_id}/files/{prefix}'
    uploaded = 0
    for oid, found in files.items():
        for key, path in found:
            uploaded += _put(ctx, service, workspace_id, f'{prefix}/{key}', path)
            _still_there(service, workspace_id)
        refs[oid] = dict(refs[oid], href=refs[oid]['href'].replace(
            f'{ctx.base_url}/jobs/{ctx.job_id}/results', base, 1))
    records = WorkspaceRecords(ctx.settings.store_url, workspace_id)
    before = records.stored_bytes()
    for oid in refs:
        if (ctx.job_dir / 'results' / oid / 'catalog.json').is_file():
            _register(ctx, workspace_id, ctx.job_dir / 'results' / oid, f'{base}/{oid}')
    _still_there(service, workspace_id)
    return refs, uploaded + records.stored_bytes() - before


def _put(ctx, service, workspace_id: str, key: str, path: Path) -> int:
    """Upload one file, confirmed by the stored size; tried again after a failure."""
    expected = path.stat().st_size
    for attempt, pause in enumerate((*PAUSES, None), 1):
        try:
            with open(path, 'rb') as stream:
                stored = service.storage.put(workspace_id, key, stream)
            if stored == expected:
                return stored
            error: Exception = StorageError(f'{stored} of {expected} bytes stored')
        except KeyConflict as err:
            raise ExecutionError(f'stage-out to workspace {workspace_id!r}: {err}') from None
        except (StorageError, OSError) as err:
            error = err
        if pause is None:
            raise ExecutionError(f'stage-out to workspace {workspace_id!r}: {key}: {error} '
                                 f'(after {attempt} attempts)')
        ctx.log.warning('stage-out of %s failed (%s); again in %d s', key, error, pause)
        time.sleep(pause)
    raise AssertionError('unreachable')


def _register(ctx, workspace_id: str, catalog_dir: Path, href_base: str) -> None:
    try:
        count = ingest_stac(ctx.settings.store_url, collection_of(workspace_id), catalog_dir,
                            base_href=href_base, ownership=ownership(workspace_id),
                            id_prefix=f'{ctx.job_id}/', unless=ctx.repo.ended_check(ctx.job_id))
    except Exception as err:  # pystac and the store raise many kinds; the job says why
        raise ExecutionError(f'registering {catalog_dir.name} in workspace {workspace_id!r} '
                             f'failed: {type(err).__name__}: {err}') from None
    ctx.log.info('registered %d STAC item(s) in workspace %s', count, workspace_id)

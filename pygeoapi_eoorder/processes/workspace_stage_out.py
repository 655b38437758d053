"""Stage-out of a deployed process's outputs into its owner's workspace (EOEPCA's ADES:
results land in the user's workspace and its catalogue), with `workspaces.stage_out:
personal`. Every output file is uploaded to `jobs/<job id>/<output id>[/...]` of the
owner's personal workspace, after the quota check for all of them; STAC outputs are then
registered in the workspace's collection (owned by the workspace, private), so no record
ever points at an object that is not stored; the job's results link to the workspace."""

from __future__ import annotations

from pathlib import Path

from ..auth import job_user
from ..catalogue.ingest import ingest_stac
from ..catalogue.workspace_collections import collection_of
from ..execution.errors import ExecutionError
from ..workspaces import QuotaExceeded, StorageError, WorkspaceService, make_storage
from ..workspaces.records import ownership


def workspace_service(ctx) -> WorkspaceService | None:
    """The workspace service of the job's configuration (None: workspaces are off)."""
    block = ctx.settings.block.get('workspaces') or {}
    if not block.get('enabled', True):
        return None
    storage = make_storage(block['storage'], ctx.settings.data_dir)
    auth = getattr(ctx.manager, 'auth', None)
    return WorkspaceService(ctx.settings.store_url, storage, auth, block)


def _files(results_dir: Path, output_id: str) -> list[tuple[str, Path]]:
    """(key, path) of an output's regular files (a container's links were removed)."""
    root = results_dir / output_id
    if root.is_file():
        return [(output_id, root)]
    return [(f'{output_id}/{p.relative_to(root).as_posix()}', p)
            for p in sorted(root.rglob('*')) if p.is_file() and not p.is_symlink()]


def stage_out(ctx, document: dict) -> dict:
    """`document` (the job's results) with its file outputs moved by reference to the
    owner's workspace; unchanged when stage-out to workspaces is off."""
    block = ctx.settings.block.get('workspaces') or {}
    service = workspace_service(ctx) if block.get('stage_out') == 'personal' else None
    if service is None or not ctx.job.get('owner'):
        return document
    workspace = service.personal_of(job_user(ctx.job))
    if workspace is None:
        raise ExecutionError(f'stage-out: user {ctx.job["owner"]!r} has no personal '
                             'workspace (workspaces.personal is off)')
    results_dir = ctx.job_dir / 'results'
    refs = {oid: v for oid, v in document.items() if isinstance(v, dict) and 'href' in v
            and (results_dir / oid).exists()}
    files = {oid: _files(results_dir, oid) for oid in refs}
    size = sum(p.stat().st_size for found in files.values() for _, p in found)
    try:
        service.check_room(workspace, size)
    except QuotaExceeded as err:
        raise ExecutionError(f'stage-out to workspace {workspace.id!r}: {err.detail}') from None
    prefix = f'jobs/{ctx.job_id}'
    base = f'{ctx.base_url}/workspaces/{workspace.id}/files/{prefix}'
    for oid, found in files.items():
        _upload(service, workspace.id, prefix, found)
        refs[oid] = dict(refs[oid], href=refs[oid]['href'].replace(
            f'{ctx.base_url}/jobs/{ctx.job_id}/results', base, 1))
    for oid in refs:
        if (results_dir / oid / 'catalog.json').is_file():
            _register(ctx, workspace.id, results_dir / oid, f'{base}/{oid}')
    ctx.log.info('staged %d output(s), %d bytes, out to workspace %s', len(refs), size,
                 workspace.id)
    return {**document, **refs}


def _upload(service, workspace_id: str, prefix: str, found) -> None:
    for key, path in found:
        try:
            with open(path, 'rb') as stream:
                service.storage.put(workspace_id, f'{prefix}/{key}', stream)
        except (StorageError, OSError) as err:
            raise ExecutionError(f'stage-out to workspace {workspace_id!r}: {key}: '
                                 f'{err}') from None


def _register(ctx, workspace_id: str, catalog_dir: Path, href_base: str) -> None:
    try:
        count = ingest_stac(ctx.settings.store_url, collection_of(workspace_id), catalog_dir,
                            base_href=href_base, ownership=ownership(workspace_id),
                            id_prefix=f'{ctx.job_id}/')
    except Exception as err:  # pystac and the store raise many kinds; the job says why
        raise ExecutionError(f'registering {catalog_dir.name} in workspace {workspace_id!r} '
                             f'failed: {type(err).__name__}: {err}') from None
    ctx.log.info('registered %d STAC item(s) in workspace %s', count, workspace_id)

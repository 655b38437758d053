"""The area of one job's results in a workspace: the objects under `jobs/<job id>/` and
the records whose ids start with `<job id>/` (stage-out, `processes/workspace_stage_out`).

A job that does not end successful keeps nothing there: its area is discarded when its
stage-out fails, when its workspace is deleted under it, and when recovery fails it after
a crash. What could not be discarded at the time (the object store was down) is swept
later: before every stage-out into the workspace, the areas of failed or dismissed jobs
go. Records go before objects, so no record ever names an object that is gone; the
multipart uploads a job left open in an object store are aborted with its objects.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select

from ..catalogue.workspace_collections import collection_of
from ..store import get_store
from ..store.models import Job
from ..store.record_tables import Record
from .tables import WORKSPACE

LOGGER = logging.getLogger('eoorder.workspaces')
AREA = 'jobs'
ENDED_WITHOUT_RESULTS = ('failed',)


def prefix_of(job_id: str) -> str:
    return f'{AREA}/{job_id}/'


def _remove_records(service, workspace_id: str, job_ids: list[str]) -> None:
    if not job_ids:
        return
    collection = collection_of(workspace_id)
    with get_store(service.store_url).write() as session:
        for job_id in job_ids:
            session.execute(delete(Record).where(
                Record.collection == collection,
                Record.identifier.startswith(f'{job_id}/', autoescape=True)))


def discard(service, workspace_id: str, job_ids: list[str]) -> int:
    """Remove the areas of `job_ids` from the workspace (records, then objects) and give
    their bytes back to the usage; how many objects went. StorageError if the object
    store fails (what is left is swept later)."""
    from .records import WorkspaceRecords
    records = WorkspaceRecords(service.store_url, workspace_id)
    if not exists(service, workspace_id):  # deleted meanwhile: whatever was written
        records.clear()
        service.storage.destroy(workspace_id)
        return 0
    before = records.stored_bytes()
    _remove_records(service, workspace_id, job_ids)
    freed = before - records.stored_bytes()
    prefixes = tuple(prefix_of(job_id) for job_id in job_ids)
    removed = 0
    try:
        for prefix in prefixes:  # unfinished multipart uploads: no hidden parts stay
            service.storage.abort_uploads(workspace_id, prefix)
        for stored in list(service.storage.objects(workspace_id)):
            if prefixes and stored.key.startswith(prefixes):
                if service.storage.delete(workspace_id, stored.key):
                    freed += stored.size
                    removed += 1
    finally:
        if freed and exists(service, workspace_id):
            service.release(workspace_id, freed)
    return removed


def exists(service, workspace_id: str) -> bool:
    with get_store(service.store_url).read() as session:
        return session.execute(select(WORKSPACE.c.id).where(
            WORKSPACE.c.id == workspace_id)).first() is not None


def sweep(service, workspace_id: str, also: tuple[str, ...] = ()) -> int:
    """Discard the areas that jobs which ended without results left in the workspace
    (their discard failed at the time), and those of the jobs `also`; how many objects
    went."""
    keys = [stored.key for stored in service.storage.objects(workspace_id)]
    keys += service.storage.open_uploads(workspace_id, f'{AREA}/')
    found = {key.split('/')[1] for key in keys
             if key.startswith(f'{AREA}/') and key.count('/') >= 2}
    if not found:
        return 0
    with get_store(service.store_url).read() as session:
        ended = list(session.execute(select(Job.id).where(
            Job.id.in_(sorted(found)), Job.status.in_(ENDED_WITHOUT_RESULTS))).scalars())
    ended += [job_id for job_id in also if job_id in found and job_id not in ended]
    removed = discard(service, workspace_id, ended) if ended else 0
    if removed:
        LOGGER.info('workspace %s: %d object(s) of ended jobs %s swept', workspace_id,
                    removed, ', '.join(ended))
    return removed


def discard_quietly(service, workspace_id: str, job_id: str) -> str:
    """Discard a job's area; '' or why it could not be done now (swept later)."""
    try:
        discard(service, workspace_id, [job_id])
        return ''
    except Exception as err:  # the object store is down: the sweep removes it later
        LOGGER.warning('workspace %s: job %s: its objects stay until the next sweep: %s',
                       workspace_id, job_id, err)
        return f'; its stored objects are removed once the storage answers ({err})'


def personal_workspace(store_url: str, owner: str) -> str | None:
    """The id of `owner`'s personal workspace, if it has one (none is created)."""
    with get_store(store_url).read() as session:
        return session.execute(select(WORKSPACE.c.id).where(
            WORKSPACE.c.personal == owner)).scalar_one_or_none()


"""The area of one job's results in a workspace: the objects under `jobs/<job id>/` and
the records whose ids start with `<job id>/` (stage-out, `processes/workspace_stage_out`).

A job that does not end successful keeps nothing there: its area is discarded when its
stage-out fails, when its workspace is deleted under it, and when recovery fails it after
a crash. What could not be discarded at the time (the object store was down) is swept
later: before every stage-out into the workspace, the areas of failed jobs go, and those
of dismissed or deleted jobs whose stage-out booking is still open. Records go before
objects, so no record ever names an object that is gone; the multipart uploads a job
left open in an object store are aborted with its objects.

While a stage-out's booking is open (`bookings`), its area's objects and records are
counted by that booking, not one by one: discarding such an area removes it whole and
then gives the booking back whole, so a stage-out killed at any point leaves no bytes
counted. `sweep_bookings` (a job engine sweep) does it for jobs that no longer run.
"""

from __future__ import annotations

import logging

from sqlalchemy import delete, select

from ..catalogue.workspace_collections import collection_of
from ..store import get_store
from ..store.models import Job
from ..store.record_tables import Record
from . import bookings
from .tables import WORKSPACE

LOGGER = logging.getLogger('eoorder.workspaces')
AREA = 'jobs'
ENDED_WITHOUT_RESULTS = ('failed',)
STILL_RUNNING = ('accepted', 'running')  # may yet settle its stage-out booking
# a stage-out settles its booking before its job succeeds: a successful job's booking was
# read open by a sweep just before it was settled, and its area is the job's results
KEEPS_ITS_AREA = (*STILL_RUNNING, 'successful')


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
    if not exists(service, workspace_id):  # deleted meanwhile: whatever was written
        WorkspaceRecords(service.store_url, workspace_id).clear()
        service.storage.destroy(workspace_id)
        bookings.forget_workspace(service.store_url, workspace_id)
        return 0
    open_ = bookings.open_of(service.store_url, workspace_id, bookings.JOB, list(job_ids))
    covered = {booking.subject for booking in open_}
    removed = _remove(service, workspace_id, [j for j in job_ids if j not in covered], True)
    removed += _remove(service, workspace_id, sorted(covered), False)
    for booking in open_:  # the whole area is gone: its booking goes back whole
        service.settle(booking, 0)
    return removed


def remove_uncounted(service, workspace_id: str, job_id: str) -> int:
    """Remove what a job's stage-out wrote after its area was discarded with its booking
    (its order cancelled, the job dismissed, while it wrote): counted by nobody, it goes
    without changing the usage; how many objects went."""
    return _remove(service, workspace_id, [job_id], False)


def _remove(service, workspace_id: str, job_ids: list[str], counted: bool) -> int:
    """Remove the areas of `job_ids`; with `counted` (their stage-out was settled) the
    bytes removed go back to the usage, else they are part of an open booking."""
    from .records import WorkspaceRecords
    if not job_ids:
        return 0
    records = WorkspaceRecords(service.store_url, workspace_id)
    before = records.stored_bytes()
    _remove_records(service, workspace_id, job_ids)
    freed = before - records.stored_bytes()
    prefixes = tuple(prefix_of(job_id) for job_id in job_ids)
    removed = 0
    try:
        for prefix in prefixes:  # unfinished multipart uploads: no hidden parts stay
            service.storage.abort_uploads(workspace_id, prefix)
        for stored in list(service.storage.objects(workspace_id)):
            if stored.key.startswith(prefixes):
                if service.storage.delete(workspace_id, stored.key):
                    freed += stored.size
                    removed += 1
    finally:
        if counted and freed and exists(service, workspace_id):
            service.release(workspace_id, freed)
    return removed


def exists(service, workspace_id: str) -> bool:
    with get_store(service.store_url).read() as session:
        return session.execute(select(WORKSPACE.c.id).where(
            WORKSPACE.c.id == workspace_id)).first() is not None


def sweep(service, workspace_id: str, also: tuple[str, ...] = ()) -> int:
    """Discard the areas that jobs which ended without results left in the workspace
    (their discard failed at the time), those of jobs that no longer run with a
    stage-out booking still open (killed mid-stage-out), and those of the jobs `also`;
    how many objects went."""
    keys = [stored.key for stored in service.storage.objects(workspace_id)]
    keys += service.storage.open_uploads(workspace_id, f'{AREA}/')
    found = {key.split('/')[1] for key in keys
             if key.startswith(f'{AREA}/') and key.count('/') >= 2}
    booked = {b.subject for b in bookings.open_of(service.store_url, workspace_id,
                                                  bookings.JOB)}
    if not found | booked:
        return 0
    ended = ended_jobs(service.store_url, found, booked)
    ended += [job_id for job_id in also if job_id in found | booked and job_id not in ended]
    removed = discard(service, workspace_id, ended) if ended else 0
    if removed:
        LOGGER.info('workspace %s: %d object(s) of ended jobs %s swept', workspace_id,
                    removed, ', '.join(ended))
    return removed


def ended_jobs(store_url: str, found: set[str], booked: set[str]) -> list[str]:
    """Of the jobs `found` in a workspace, those that ended without results (failed, or
    dismissed before they succeeded: what a stage-out still wrote after a sweep, in
    another worker, gave its booking back); of the jobs `booked` (a stage-out booking
    open), those that no longer run and did not succeed."""
    with get_store(store_url).read() as session:
        rows = session.execute(select(Job.id, Job.status, Job.result_file).where(
            Job.id.in_(sorted(found | booked)))).all()
    status = {row.id: row.status for row in rows}
    unfinished = {row.id for row in rows if row.status == 'dismissed' and not row.result_file}
    return sorted({job_id for job_id in found
                   if status.get(job_id) in ENDED_WITHOUT_RESULTS or job_id in unfinished}
                  | {job_id for job_id in booked if status.get(job_id) not in KEEPS_ITS_AREA})


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


"""The stored usage of a workspace (`eoorder_workspace.used_bytes`: its files and the
documents of its registered records), so that reading it lists no storage.

A write books its bytes first with one conditional UPDATE (`used + size <= quota`), which
the database applies to one transaction at a time: two concurrent uploads cannot both pass
a quota that only one fits. Once written, the booking is corrected by what was really
stored. NULL means "never counted": the first use counts the storage (as does an admin's
recount, which counts the writes under way by their open bookings)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from ..store import get_store
from . import bookings, job_areas
from .records import WorkspaceRecords
from .tables import WORKSPACE


class UsageCounter:
    """Book, release and recount the stored usage of workspaces."""

    def __init__(self, store_url: str, storage):
        self.store_url, self.storage = store_url, storage

    def _stored(self, workspace_id: str) -> int | None:
        with get_store(self.store_url).read() as session:
            return session.execute(select(WORKSPACE.c.used_bytes).where(
                WORKSPACE.c.id == workspace_id)).scalar_one_or_none()

    def counted(self, workspace_id: str) -> int:
        """The stored usage, counted from the storage first if never counted."""
        used = self._stored(workspace_id)
        return self.recount(workspace_id, only_if_missing=True) if used is None else used

    def recount(self, workspace_id: str, only_if_missing: bool = False) -> int:
        """Count files and record documents again and store the result (an admin's
        recount first aborts the uploads abandoned in the object store)."""
        if not only_if_missing:
            self.storage.abort_abandoned(workspace_id)
        used = self._count(workspace_id)
        query = update(WORKSPACE).where(WORKSPACE.c.id == workspace_id)
        if only_if_missing:  # a concurrent first count or booking wins
            query = query.where(WORKSPACE.c.used_bytes.is_(None))
        with get_store(self.store_url).write() as session:
            session.execute(query.values(used_bytes=used))
        return self._stored(workspace_id) or 0

    def _count(self, workspace_id: str) -> int:
        """Files and record documents, plus the open bookings (`bookings`): the area
        of a stage-out under way (`jobs/<job id>/`) is counted by its booking."""
        booked = bookings.open_of(self.store_url, workspace_id)
        jobs = tuple(b.subject for b in booked if b.purpose == bookings.JOB)
        areas = tuple(job_areas.prefix_of(job_id) for job_id in jobs)
        files = sum(o.size for o in self.storage.objects(workspace_id)
                    if not o.key.startswith(areas))
        records = WorkspaceRecords(self.store_url, workspace_id).stored_bytes(
            excluding=tuple(f'{job_id}/' for job_id in jobs))
        return files + records + sum(b.bytes for b in booked)

    def book(self, workspace_id: str, size: int, session: Session | None = None) -> int | None:
        """Add `size` bytes if they fit in the quota: None when booked, else the usage
        that refused them. Negative sizes (freed bytes) are always booked. In `session`
        when given (the booking commits with the caller's other writes; the caller has
        had the usage counted first: `counted`)."""
        if session is None:
            self.counted(workspace_id)
            with get_store(self.store_url).write() as own:
                return self.book(workspace_id, size, own)
        used = WORKSPACE.c.used_bytes
        query = update(WORKSPACE).where(WORKSPACE.c.id == workspace_id)
        if size > 0:
            query = query.where(used + size <= WORKSPACE.c.quota_bytes)
        if session.execute(query.values(used_bytes=used + size)).rowcount == 1:
            return None
        return session.execute(select(used).where(
            WORKSPACE.c.id == workspace_id)).scalar_one_or_none() or 0

    def release(self, workspace_id: str, size: int) -> None:
        """Give back `size` booked bytes (a write that failed, a file deleted); a negative
        size books bytes already stored, whatever the quota."""
        if size:
            self.counted(workspace_id)
            with get_store(self.store_url).write() as session:
                session.execute(update(WORKSPACE).where(WORKSPACE.c.id == workspace_id).values(
                    used_bytes=WORKSPACE.c.used_bytes - size))

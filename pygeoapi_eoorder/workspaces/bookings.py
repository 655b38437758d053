"""Open bookings of a workspace's stored usage: the bytes a write under way booked.

A write (a job's stage-out, a user's upload) books its bytes in `used_bytes` and inserts
its booking row (`BOOKING`: what it is for, how many bytes) in one transaction, so a
crash leaves both or neither. When the write ends it is settled, again in one
transaction: the row goes and the usage is corrected to what was kept (all of it, part
of it, or nothing). A booking a crash left open is given back whole by a sweep: a job's
once its area is removed (`job_areas.discard`), an upload's once its writer is gone
(`uploads.sweep_uploads`). Whoever deletes the row corrects the usage, so a booking is
settled or given back exactly once; an upload whose booking was given back meanwhile
books what it kept when it settles, a job's stage-out books nothing then: its booking
goes back only with its whole area (`job_areas.discard`: the objects it kept are gone),
and what it wrote after the discard looked is removed by it, uncounted
(`job_areas.remove_uncounted`).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select, update

from ..store import get_store, utcnow
from .tables import BOOKING, WORKSPACE

JOB, UPLOAD = 'job', 'upload'


@dataclass(frozen=True)
class Booking:
    id: str
    workspace: str
    purpose: str
    subject: str
    bytes: int
    replaced: int = 0


def record(session, workspace_id: str, purpose: str, subject: str, size: int,
           replaced: int = 0, booking_id: str | None = None) -> Booking:
    """Insert the booking row of `size` bytes just booked in `session`."""
    booking = Booking(booking_id or uuid.uuid4().hex, workspace_id, purpose, subject, size,
                      replaced)
    session.execute(insert(BOOKING).values(
        id=booking.id, workspace=workspace_id, purpose=purpose, subject=subject,
        bytes=size, replaced=replaced, created=utcnow()))
    return booking


def settle(store_url: str, booking: Booking, kept: int) -> bool:
    """The write ended having kept `kept` bytes (0: nothing): its booking becomes that
    (or, given back meanwhile by a sweep, those bytes are booked now; a stage-out's:
    nothing, see the module). False if it had been given back."""
    with get_store(store_url).write() as session:
        return _settle(session, booking, kept)


def _settle(session, booking: Booking, kept: int) -> bool:
    if _close(session, booking):
        _add_usage(session, booking.workspace, kept - booking.bytes)
        return True
    if booking.purpose != JOB:  # (a stage-out's area was discarded with its booking)
        _add_usage(session, booking.workspace, kept)
    return False


def _close(session, booking: Booking) -> bool:
    """Delete the booking's row; False if it was closed already (by whoever came first)."""
    return session.execute(delete(BOOKING).where(BOOKING.c.id == booking.id)).rowcount == 1


def _add_usage(session, workspace_id: str, change: int) -> None:
    if change:
        session.execute(update(WORKSPACE).where(WORKSPACE.c.id == workspace_id).values(
            used_bytes=WORKSPACE.c.used_bytes + change))


def _rows(query) -> list[Booking]:
    return [Booking(r.id, r.workspace, r.purpose, r.subject, r.bytes, r.replaced)
            for r in query]


def open_of(store_url: str, workspace_id: str, purpose: str | None = None,
            subjects: list[str] | None = None) -> list[Booking]:
    """The open bookings of a workspace (for `purpose`, of `subjects` when given)."""
    query = select(BOOKING).where(BOOKING.c.workspace == workspace_id)
    if purpose is not None:
        query = query.where(BOOKING.c.purpose == purpose)
    if subjects is not None:
        query = query.where(BOOKING.c.subject.in_(subjects))
    with get_store(store_url).read() as session:
        return _rows(session.execute(query))


def open_jobs(store_url: str) -> dict[str, list[str]]:
    """{workspace id: job ids} of the open bookings of stage-outs."""
    found: dict[str, list[str]] = {}
    with get_store(store_url).read() as session:
        for row in session.execute(select(BOOKING.c.workspace, BOOKING.c.subject).where(
                BOOKING.c.purpose == JOB)):
            found.setdefault(row.workspace, []).append(row.subject)
    return found


def forget_workspace(store_url: str, workspace_id: str) -> None:
    """A deleted workspace's bookings go with it (its usage went already)."""
    with get_store(store_url).write() as session:
        session.execute(delete(BOOKING).where(BOOKING.c.workspace == workspace_id))


def give_back(store_url: str, booking: Booking, kept: int) -> bool:
    """A sweep found the writer of `booking` gone: the booking becomes the `kept` bytes
    it stored, if it is still open (True); settled meanwhile, nothing changes."""
    with get_store(store_url).write() as session:
        if not _close(session, booking):
            return False
        _add_usage(session, booking.workspace, kept - booking.bytes)
        return True


def open_uploads(store_url: str) -> list[tuple[Booking, datetime]]:
    """The open bookings of uploads, in every workspace, with when each was opened."""
    with get_store(store_url).read() as session:
        rows = session.execute(select(BOOKING).where(BOOKING.c.purpose == UPLOAD)).all()
    return list(zip(_rows(rows), (row.created for row in rows)))

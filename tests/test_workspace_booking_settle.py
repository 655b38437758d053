"""Settling workspace bookings (`workspaces.bookings`) on a real store: a write books
what it kept; a job's stage-out whose booking went back meanwhile with its whole area
(`job_areas.discard`, e.g. its order cancelled between its delivery's registration and
its end) books nothing: the objects it kept are gone (it booked them again, leaving the
usage above the workspace's content: seen in test_oseo_workspace_withdrawal)."""

from __future__ import annotations

from sqlalchemy import insert, select

from pygeoapi_eoorder.store import get_store, utcnow
from pygeoapi_eoorder.workspaces import bookings
from pygeoapi_eoorder.workspaces.tables import WORKSPACE


def _usage(url: str, workspace: str) -> int:
    with get_store(url).read() as session:
        return session.execute(select(WORKSPACE.c.used_bytes).where(
            WORKSPACE.c.id == workspace)).scalar_one()


def _booked(url: str, workspace: str, purpose: str, size: int) -> bookings.Booking:
    with get_store(url).write() as session:
        session.execute(WORKSPACE.update().where(WORKSPACE.c.id == workspace).values(
            used_bytes=WORKSPACE.c.used_bytes + size))
        return bookings.record(session, workspace, purpose, 'subject', size)


def test_a_settle_after_the_booking_went_back(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with get_store(url).write() as session:
        session.execute(insert(WORKSPACE).values(id='w', owner='alice', quota_bytes=10_000,
                                                 personal=False, created=utcnow(),
                                                 used_bytes=0))
    stage_out = _booked(url, 'w', bookings.JOB, 300)
    upload = _booked(url, 'w', bookings.UPLOAD, 200)
    assert _usage(url, 'w') == 500
    bookings.settle(url, stage_out, 0)  # (the job's area discarded: given back whole)
    assert _usage(url, 'w') == 200
    bookings.settle(url, stage_out, 300)  # its writer ends after the discard
    bookings.settle(url, upload, 150)  # an upload ends having kept 150 of its 200
    assert _usage(url, 'w') == 150
    assert bookings.open_of(url, 'w') == []

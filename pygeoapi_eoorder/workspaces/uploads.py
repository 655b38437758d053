"""Which upload bookings are abandoned: a job engine sweep gives those back (`sweep_uploads`).

An upload under way holds an exclusive lock on a file named after its booking, in the
run directory (`UploadLocks.holding`), from before its booking until it settled. The
lock goes with the process that holds it, so on this host a booking whose lock file is
there and free was cut by a crash (its web worker is gone): given back, keeping what it
stored; one whose lock is held is still being written: never given back, however long
it takes. A booking with no lock file here (opened on another host) is given back whole
once older than the uploads' lifetime (`workspaces.upload_lifetime_seconds`); if its
upload still runs, it books what it kept as it ends (`bookings.settle`), so the usage is
exact once every write ended.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from datetime import timedelta
from pathlib import Path
from typing import Iterator

from ..store import utcnow
from . import bookings
from .storage import make_storage

LOGGER = logging.getLogger('eoorder.workspaces')


class UploadLocks:
    """The lock files of the uploads under way on this host (`directory`)."""

    def __init__(self, directory: Path):
        self.directory = directory

    def _path(self, booking_id: str) -> Path:
        return self.directory / f'{booking_id}.lock'

    @contextlib.contextmanager
    def holding(self, booking_id: str) -> Iterator[None]:
        """Hold the lock of an upload's booking while the upload runs. The file appears
        under its name already locked (made aside, then renamed)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._path(booking_id)
        aside = path.with_suffix('.new')
        fd = os.open(aside, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.rename(aside, path)
            try:
                yield
            finally:
                path.unlink(missing_ok=True)  # while still locked: never seen free
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def if_abandoned(self, booking_id: str) -> Iterator[bool | None]:
        """True (its lock taken meanwhile, the file removed after): the upload's writer is
        gone; False: it is still writing; None: no lock file here."""
        try:
            fd = os.open(self._path(booking_id), os.O_RDWR)
        except FileNotFoundError:
            yield None
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True
            self._path(booking_id).unlink(missing_ok=True)
        finally:
            os.close(fd)


def give_back_abandoned(store_url: str, storage, locks: UploadLocks, lifetime: float) -> int:
    """Give back the bookings of abandoned uploads (see the module docstring): an
    upload whose object was stored before the crash keeps what it changed (the key's
    size now, less the size it replaced); how many."""
    oldest = utcnow() - timedelta(seconds=lifetime)
    given = 0
    for booking, created in bookings.open_uploads(store_url):
        with locks.if_abandoned(booking.id) as gone:
            if gone:  # its writer is gone: what it stored stays
                kept = _kept(storage, booking)
            elif gone is None and created < oldest:  # not opened here: by its age,
                kept = 0  # whole (a writer still there books what it kept as it ends)
            else:
                continue
            given += bookings.give_back(store_url, booking, kept)
    return given


def _kept(storage, booking: bookings.Booking) -> int:
    try:
        now = storage.size(booking.workspace, booking.subject) or 0
    except Exception:  # a key the storage cannot read: as if nothing was stored
        now = booking.replaced
    return now - booking.replaced


def sweep_uploads(manager, settings) -> int:
    """A job engine sweep: the bookings of abandoned uploads go back (see the module
    docstring); how many."""
    block = settings.block.get('workspaces') or {}
    if not block.get('enabled', True) or not bookings.open_uploads(settings.store_url):
        return 0  # (no storage client built for nothing, every sweep)
    storage = make_storage(block['storage'], settings.data_dir)
    given = give_back_abandoned(settings.store_url, storage, locks_of(settings),
                                block['upload_lifetime_seconds'])
    if given:
        LOGGER.info('bookings of %d upload(s) cut by a crash given back', given)
    return given


def locks_of(settings) -> UploadLocks:
    """The upload locks of this host's servers of `settings`."""
    return UploadLocks(settings.run_dir / 'uploads')

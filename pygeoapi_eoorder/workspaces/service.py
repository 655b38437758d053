"""Workspaces: who may create, see and manage them; their storage, members and quota.

A workspace another user may not see answers exactly as if it did not exist
(`WorkspaceNotFound`). Members read, upload and register; the owner and admins also
manage members and delete. Storage usage is a stored counter booked together with the
quota check (`usage.UsageCounter`); an admin may recount it from the storage.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from dataclasses import dataclass, field
from typing import BinaryIO

from sqlalchemy import delete, insert, select

from ..store import get_store, isoformat, utcnow
from . import bookings
from .bodies import ExactBody, IncompleteBody
from .keys import client_key
from .records import Fetcher, WorkspaceRecords
from .storage import StoredObject
from .tables import MEMBER, WORKSPACE
from .uploads import UploadLocks
from .usage import UsageCounter

ID_PATTERN = re.compile(r'^[a-z0-9][a-z0-9_-]{0,62}$')


class WorkspaceError(Exception):
    """A refused request: `status` is the HTTP-like status, `kind` the error type."""

    status, kind = 400, 'invalid-parameter'

    def __init__(self, detail: str, **extra):
        super().__init__(detail)
        self.detail, self.extra = detail, extra


class WorkspaceNotFound(WorkspaceError):
    status, kind = 404, 'not-found'


class Forbidden(WorkspaceError):
    status, kind = 403, 'forbidden'


class Conflict(WorkspaceError):
    status, kind = 409, 'conflict'


class QuotaExceeded(WorkspaceError):
    status, kind = 413, 'quota-exceeded'


@dataclass
class Workspace:
    id: str
    title: str | None
    owner: str
    quota_bytes: int
    created: str | None
    members: list[str] = field(default_factory=list)
    personal: str | None = None


class WorkspaceService:
    """Workspaces over the store (records) and a storage backend (files)."""

    def __init__(self, store_url: str, storage, auth, options: dict,
                 upload_locks: UploadLocks | None = None):
        self.store_url, self.storage, self.auth = store_url, storage, auth
        self.upload_locks = upload_locks  # held by uploads under way (`uploads`)
        self.default_quota = options['default_quota_bytes']
        self.personal = options['personal']
        self.counter = UsageCounter(store_url, storage)

    @property
    def store(self):
        return get_store(self.store_url)

    # -- reading -------------------------------------------------------------------

    def _load(self, session, workspace_id: str) -> Workspace | None:
        row = session.execute(select(WORKSPACE).where(WORKSPACE.c.id == workspace_id)).first()
        if row is None:
            return None
        members = sorted(session.execute(select(MEMBER.c.user).where(
            MEMBER.c.workspace == workspace_id)).scalars())
        return Workspace(row.id, row.title, row.owner, row.quota_bytes,
                         isoformat(row.created), members, row.personal)

    def may_see(self, user, workspace: Workspace) -> bool:
        return self.auth.is_admin(user) or (user is not None and user.name in
                                            (workspace.owner, *workspace.members))

    def may_manage(self, user, workspace: Workspace) -> bool:
        return self.auth.is_admin(user) or (user is not None and user.name == workspace.owner)

    def get(self, user, workspace_id: str) -> Workspace:
        """The workspace if `user` may see it, else WorkspaceNotFound."""
        with self.store.read() as session:
            workspace = self._load(session, workspace_id)
        if workspace is None or not self.may_see(user, workspace):
            raise WorkspaceNotFound(f'workspace {workspace_id!r} not found')
        return workspace

    def visible(self, user) -> list[Workspace]:
        """The workspaces `user` may see (admins: all), creating a personal one first
        when the deployer allows it."""
        self.ensure_personal(user)
        query = select(WORKSPACE.c.id).order_by(WORKSPACE.c.id)
        if not self.auth.is_admin(user):
            mine = select(MEMBER.c.workspace).where(MEMBER.c.user == user.name)
            query = query.where((WORKSPACE.c.owner == user.name) | WORKSPACE.c.id.in_(mine))
        with self.store.read() as session:
            return [self._load(session, wid) for wid in session.execute(query).scalars()]

    def usage(self, workspace: Workspace) -> dict:
        """Files and registered records (their documents' bytes) against the quota, from
        the stored counter (no storage listing)."""
        used = self.counter.counted(workspace.id)
        records = WorkspaceRecords(self.store_url, workspace.id).stored_bytes()
        return {'usedBytes': used, 'quotaBytes': workspace.quota_bytes,
                'availableBytes': max(workspace.quota_bytes - used, 0), 'recordBytes': records}

    def recount(self, user, workspace_id: str) -> Workspace:
        """Count the usage again from the storage (admins only)."""
        workspace = self.get(user, workspace_id)
        if not self.auth.is_admin(user):
            raise Forbidden('only an admin may recount the usage of a workspace')
        self.counter.recount(workspace.id)
        return workspace

    def location(self, workspace: Workspace) -> dict:
        return self.storage.location(workspace.id)

    def record_count(self, workspace: Workspace) -> int:
        return WorkspaceRecords(self.store_url, workspace.id).count()

    # -- lifecycle -----------------------------------------------------------------

    def create(self, user, request: dict) -> Workspace:
        """Create a workspace owned by `user` (who needs the `create_workspace` permission)."""
        if user is None or not self.auth.allowed(user, 'create_workspace'):
            raise Forbidden('you may not create workspaces (permission create_workspace)')
        workspace_id = request.get('id') or f'ws-{uuid.uuid4().hex[:12]}'
        quota = request.get('quotaBytes', self.default_quota)
        self._check_request(workspace_id, request.get('title'), quota, user)
        return self._insert(workspace_id, request.get('title'), user.name, quota, None)

    def _check_request(self, workspace_id, title, quota, user) -> None:
        if not isinstance(workspace_id, str) or not ID_PATTERN.match(workspace_id):
            raise WorkspaceError('id: 1 to 63 characters a-z, 0-9, "-" or "_", starting '
                                 'with a letter or digit')
        if title is not None and not isinstance(title, str):
            raise WorkspaceError('title: a string is required')
        if not isinstance(quota, int) or isinstance(quota, bool) or quota < 0:
            raise WorkspaceError('quotaBytes: a non-negative integer is required')
        if quota > self.default_quota and not self.auth.is_admin(user):
            raise Forbidden(f'quotaBytes: at most {self.default_quota} unless you are an '
                            'admin', limit=self.default_quota)

    def _insert(self, workspace_id, title, owner, quota, personal) -> Workspace:
        from sqlalchemy.exc import IntegrityError
        try:
            with self.store.write() as session:
                session.execute(insert(WORKSPACE).values(
                    id=workspace_id, title=title, owner=owner, quota_bytes=quota,
                    personal=personal, created=utcnow()))
        except IntegrityError:
            raise Conflict(f'workspace {workspace_id!r} exists already') from None
        self.storage.create(workspace_id)
        return self.get_internal(workspace_id)

    def get_internal(self, workspace_id: str) -> Workspace:
        with self.store.read() as session:
            return self._load(session, workspace_id)

    def ensure_personal(self, user) -> None:
        """The user's personal workspace, created on first use if the deployer allows it."""
        if not self.personal or user is None or not user.name or user.name == 'anonymous':
            return
        with self.store.read() as session:
            if session.execute(select(WORKSPACE.c.id).where(
                    WORKSPACE.c.personal == user.name)).first() is not None:
                return
        try:
            self._insert(f'user-{uuid.uuid4().hex[:12]}', f'{user.name} (personal)',
                         user.name, self.default_quota, user.name)
        except Conflict:  # another request created it meanwhile
            pass

    def personal_of(self, user) -> Workspace | None:
        """The personal workspace of `user` (created first if the deployer allows it)."""
        self.ensure_personal(user)
        with self.store.read() as session:
            found = session.execute(select(WORKSPACE.c.id).where(
                WORKSPACE.c.personal == user.name)).scalar_one_or_none()
            return self._load(session, found) if found is not None else None

    def delete(self, user, workspace_id: str, force: bool = False) -> None:
        """Delete a workspace: refused while it holds files unless `force`."""
        workspace = self._manageable(user, workspace_id)
        stored = list(self.storage.objects(workspace.id))
        records = WorkspaceRecords(self.store_url, workspace.id)
        registered = records.count()
        if (stored or registered) and not force:
            raise Conflict(f'workspace {workspace_id!r} holds {len(stored)} files and '
                           f'{registered} records; delete them first or ask again with '
                           'force=true', files=len(stored), records=registered)
        self.storage.destroy(workspace.id)
        records.clear()
        with self.store.write() as session:
            session.execute(delete(MEMBER).where(MEMBER.c.workspace == workspace.id))
            session.execute(delete(WORKSPACE).where(WORKSPACE.c.id == workspace.id))
        bookings.forget_workspace(self.store_url, workspace.id)
        # a second pass for writes under way meanwhile (later ones see it gone: `_lost`)
        self.storage.destroy(workspace.id)
        records.clear()

    def _lost(self, workspace_id: str) -> bool:
        """The workspace was deleted meanwhile: what was just written there is removed."""
        with self.store.read() as session:
            if session.execute(select(WORKSPACE.c.id).where(
                    WORKSPACE.c.id == workspace_id)).first() is not None:
                return False
        self.storage.destroy(workspace_id)
        WorkspaceRecords(self.store_url, workspace_id).clear()
        bookings.forget_workspace(self.store_url, workspace_id)
        return True

    def _manageable(self, user, workspace_id: str) -> Workspace:
        workspace = self.get(user, workspace_id)
        if not self.may_manage(user, workspace):
            raise Forbidden(f'only the owner of workspace {workspace_id!r} or an admin may '
                            'do this')
        return workspace

    # -- members -------------------------------------------------------------------

    def add_member(self, user, workspace_id: str, member: object) -> Workspace:
        workspace = self._manageable(user, workspace_id)
        if not isinstance(member, str) or not member.strip() or len(member) > 255:
            raise WorkspaceError('user: a user name is required')
        if member not in workspace.members and member != workspace.owner:
            with self.store.write() as session:
                session.execute(insert(MEMBER).values(workspace=workspace.id, user=member))
        return self.get_internal(workspace.id)

    def remove_member(self, user, workspace_id: str, member: str) -> None:
        workspace = self._manageable(user, workspace_id)
        if member not in workspace.members:
            raise WorkspaceNotFound(f'{member!r} is not a member of {workspace_id!r}')
        with self.store.write() as session:
            session.execute(delete(MEMBER).where(MEMBER.c.workspace == workspace.id,
                                                 MEMBER.c.user == member))

    # -- files ---------------------------------------------------------------------

    def reserve(self, workspace: Workspace, size: int, session=None) -> None:
        """Book `size` bytes of the quota, or refuse (QuotaExceeded) naming the limit and
        the usage. The caller releases what it does not store (`release`). In `session`
        when given: the booking commits with the caller's writes (`counter.counted` of the
        workspace first, outside it)."""
        used = self.counter.book(workspace.id, size, session)
        if used is not None:
            raise QuotaExceeded(
                f'workspace {workspace.id!r}: storage quota {workspace.quota_bytes} bytes, '
                f'{used} bytes used; {size} more bytes do not fit',
                limit=workspace.quota_bytes, usage=used, requested=size)

    def release(self, workspace_id: str, size: int) -> None:
        self.counter.release(workspace_id, size)

    def book(self, workspace: Workspace, purpose: str, subject: str, size: int,
             replaced: int = 0, booking_id: str | None = None) -> bookings.Booking:
        """Reserve `size` bytes (`reserve`) and record the open booking in the same
        transaction (`bookings`): settle it when the write ends (`settle`)."""
        self.counter.counted(workspace.id)
        with self.store.write() as session:
            self.reserve(workspace, size, session)
            return bookings.record(session, workspace.id, purpose, subject, size, replaced,
                                   booking_id)

    def _writing(self, booking_id: str):
        """The lock an upload holds while it runs (`uploads`), if this server has one."""
        return contextlib.nullcontext() if self.upload_locks is None \
            else self.upload_locks.holding(booking_id)

    def settle(self, booking: bookings.Booking, kept: int) -> bool:
        """The write of `booking` ended having kept `kept` bytes (0: nothing); False if
        its booking had been given back meanwhile (`bookings.settle`)."""
        return bookings.settle(self.store_url, booking, kept)

    def upload(self, user, workspace_id: str, key: str, stream: BinaryIO,
               size: int) -> StoredObject:
        """Store `size` bytes under `key` if they fit in the quota (booked first; a
        replaced file frees its bytes). The upload holds its booking's lock while it runs:
        a crash leaves the booking open and its lock free, and a job engine sweep gives
        it back (`uploads.sweep_uploads`). A body that ends before `size` bytes is
        refused (WorkspaceError): nothing stored, a file it would replace kept."""
        workspace = self.get(user, workspace_id)
        key = client_key(key)
        replaced = self.storage.size(workspace.id, key) or 0
        booking_id = uuid.uuid4().hex
        with self._writing(booking_id):  # its lock is held before it is booked
            booking = self.book(workspace, bookings.UPLOAD, key, size - replaced, replaced,
                                booking_id)
            stored = None
            try:
                stored = self.storage.put(workspace.id, key, ExactBody(stream, size))
            except IncompleteBody as err:
                raise WorkspaceError(str(err)) from None
            finally:  # the booking was the announced size: what was stored stays
                self.settle(booking, 0 if stored is None else stored - replaced)
        if self._lost(workspace.id):
            raise WorkspaceNotFound(f'workspace {workspace_id!r} was deleted during the '
                                    'upload; nothing was kept')
        return StoredObject(key, stored)

    def files(self, user, workspace_id: str) -> list[StoredObject]:
        return list(self.storage.objects(self.get(user, workspace_id).id))

    def open(self, user, workspace_id: str, key: str) -> BinaryIO:
        workspace = self.get(user, workspace_id)
        return self.storage.open(workspace.id, client_key(key))

    def remove_file(self, user, workspace_id: str, key: str) -> bool:
        workspace = self.get(user, workspace_id)
        key = client_key(key)
        size = self.storage.size(workspace.id, key)
        removed = self.storage.delete(workspace.id, key)
        if removed:
            self.release(workspace.id, size or 0)
        return removed

    # -- records -------------------------------------------------------------------

    def records(self, user, workspace_id: str) -> WorkspaceRecords:
        """The records of a workspace `user` may see (else WorkspaceNotFound)."""
        return WorkspaceRecords(self.store_url, self.get(user, workspace_id).id)

    def register(self, user, workspace_id: str, url: object, fetch: Fetcher,
                 max_records: int) -> dict:
        """Harvest the STAC catalog, collection or API at `url` into the workspace's
        collection (`fetch` reads it under the server's egress rules)."""
        records = self.records(user, workspace_id)
        if not isinstance(url, str) or not url.startswith(('http://', 'https://')):
            raise WorkspaceError('url: an http(s) URL of a STAC catalog, collection or API '
                                 'is required')
        batches = list(fetch(url, max_records))
        size = sum(len(json.dumps(d)) for batch in batches for d in batch)
        before = records.stored_bytes()
        self.reserve(self.get(user, workspace_id), size)  # records count in the quota
        try:
            counts = records.register(batches)
            if self._lost(records.workspace_id):
                raise WorkspaceNotFound(f'workspace {workspace_id!r} was deleted during the '
                                        'registration; nothing was kept')
            return counts
        finally:  # book what the documents really take
            self.release(records.workspace_id, size - (records.stored_bytes() - before))

    def deregister(self, user, workspace_id: str, identifier: str) -> bool:
        """Remove one registered record (its bytes leave the usage)."""
        records = self.records(user, workspace_id)
        before = records.stored_bytes()
        removed = records.deregister(identifier)
        self.release(records.workspace_id, before - records.stored_bytes())
        return removed

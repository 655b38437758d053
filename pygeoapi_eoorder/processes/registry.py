"""Deployed processes in the shared store, visible to every server and worker process.

A row's key is the process id, but for a user's private process, kept per owner
(`<owner>/<id>`; ids hold no `/`): two users may each own a private `echo`, and neither
learns of the other's. Workspace processes (`<workspace>:<id>`) are unique already.
"""

from __future__ import annotations

from typing import Callable

from sqlalchemy import delete, func, select

from ..auth.service import workspace_of_owner
from ..store import DeployedProcess, Store, utcnow

SCOPE_KEY = '_eoorder_processes'
RequestScope = Callable[[], 'dict | None']


def store_key(process_id: str, owner: str | None, visibility: str) -> str:
    """The key of a process's row (see the module's docstring)."""
    if visibility == 'private' and workspace_of_owner(owner) is None:
        return f'{owner or ""}/{process_id}'
    return process_id


def process_id_of(key: str) -> str:
    """The process id of a row's key."""
    return key.rpartition('/')[2]


class ProcessRegistry:
    """Process resources (pygeoapi `type: process` definitions) kept in the store.

    `request_scope`, set by the web layer, returns a dict that lives as long as the
    current request (None outside one): the store is then asked once per request.
    """

    def __init__(self, store: Store, request_scope: RequestScope | None = None):
        self.store = store
        self.request_scope = request_scope
        self._cache: dict[str, dict] = {}
        self._version: tuple | None = None

    def _scope(self) -> dict | None:
        return self.request_scope() if self.request_scope is not None else None

    def version(self) -> tuple:
        """Changes whenever a process is added, replaced or removed."""
        with self.store.read_engine.connect() as connection:  # asked once per request
            count, latest = connection.execute(
                select(func.count(), func.max(DeployedProcess.updated))).one()
        return (int(count or 0), latest)

    def all(self) -> dict[str, dict]:
        """Every deployed process resource by row key, as the store has it now.

        The store is asked once per HTTP request (a cheap version check), so a process
        deployed through one server process is visible in every other at once.
        """
        scope = self._scope()
        if scope is not None and SCOPE_KEY in scope:
            return scope[SCOPE_KEY]
        version = self.version()
        if version != self._version:
            with self.store.read() as session:
                rows = session.scalars(select(DeployedProcess).order_by(DeployedProcess.id))
                self._cache = {row.id: dict(row.definition) for row in rows}
            self._version = version
        if scope is not None:
            scope[SCOPE_KEY] = self._cache
        return self._cache

    def get(self, process_id: str) -> DeployedProcess | None:
        with self.store.read() as session:
            return session.get(DeployedProcess, process_id)

    def put(self, process_id: str, definition: dict, *, package: str | None = None,
            media_type: str | None = None, owner: str | None = None,
            only_new: bool = False) -> bool:
        """Add or replace a process; True if it was new (`only_new`: never replace)."""
        now = utcnow()
        with self.store.write() as session:
            row = session.get(DeployedProcess, process_id)
            created = row is None
            if only_new and not created:
                return False
            if created:
                row = DeployedProcess(id=process_id, created=now)
                session.add(row)
            row.definition = definition
            row.package = package
            row.package_media_type = media_type
            row.owner = owner
            row.updated = now
        self._forget()
        return created

    def remove(self, process_id: str) -> bool:
        with self.store.write() as session:
            result = session.execute(delete(DeployedProcess)
                                     .where(DeployedProcess.id == process_id))
        self._forget()
        return result.rowcount == 1

    def _forget(self) -> None:
        self._version = None
        scope = self._scope()
        if scope is not None:
            scope.pop(SCOPE_KEY, None)

"""Deployed processes in the shared store, visible to every server and worker process."""

from __future__ import annotations

import time

from sqlalchemy import delete, func, select

from ..store import DeployedProcess, Store, utcnow


class ProcessRegistry:
    """Process resources (pygeoapi `type: process` definitions) kept in the store."""

    def __init__(self, store: Store, ttl: float = 0.5):
        self.store = store
        self.ttl = ttl
        self._cache: dict[str, dict] = {}
        self._version: tuple | None = None
        self._checked = 0.0

    def version(self) -> tuple:
        """Changes whenever a process is added, replaced or removed."""
        with self.store.read() as session:
            count, latest = session.execute(
                select(func.count(), func.max(DeployedProcess.updated))).one()
        return (int(count or 0), latest)

    def all(self) -> dict[str, dict]:
        """Every deployed process resource by id (re-read when the store changed)."""
        now = time.monotonic()
        if now - self._checked >= self.ttl:
            self._checked = now
            version = self.version()
            if version != self._version:
                with self.store.read() as session:
                    rows = session.scalars(select(DeployedProcess).order_by(DeployedProcess.id))
                    self._cache = {row.id: dict(row.definition) for row in rows}
                self._version = version
        return self._cache

    def get(self, process_id: str) -> DeployedProcess | None:
        with self.store.read() as session:
            return session.get(DeployedProcess, process_id)

    def put(self, process_id: str, definition: dict, *, package: str | None = None,
            media_type: str | None = None, owner: str | None = None) -> bool:
        """Add or replace a process; True if it was new."""
        now = utcnow()
        with self.store.write() as session:
            row = session.get(DeployedProcess, process_id)
            created = row is None
            if created:
                row = DeployedProcess(id=process_id, created=now)
                session.add(row)
            row.definition = definition
            row.package = package
            row.package_media_type = media_type
            row.owner = owner
            row.updated = now
        self._checked = 0.0
        return created

    def remove(self, process_id: str) -> bool:
        with self.store.write() as session:
            result = session.execute(delete(DeployedProcess)
                                     .where(DeployedProcess.id == process_id))
        self._checked = 0.0
        return result.rowcount == 1

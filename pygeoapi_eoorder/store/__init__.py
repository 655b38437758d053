"""The shared store: one SQL database (SQLAlchemy) for jobs, orders, processes, records."""

from __future__ import annotations

import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from .hot import on_cursor
from .models import DeployedProcess, Job, JobFile

__all__ = ['Store', 'Job', 'JobFile', 'DeployedProcess', 'get_store', 'utcnow', 'isoformat']


def utcnow() -> datetime:
    """Naive UTC now: the store keeps UTC without zone (SQLite has none)."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def isoformat(value: datetime | None) -> str | None:
    return None if value is None else value.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    """An SQLite engine in WAL mode; `immediate` engines take the write lock at BEGIN.

    Taking the lock up front lets SQLite's busy timeout serialise writers instead of
    failing a transaction that read first and then tried to write.
    """
    engine = create_engine(url, connect_args={'timeout': 30, 'check_same_thread': False})

    @event.listens_for(engine, 'connect')
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute('PRAGMA journal_mode=WAL')
        cursor.execute('PRAGMA synchronous=NORMAL')
        cursor.execute('PRAGMA busy_timeout=30000')
        cursor.execute('PRAGMA foreign_keys=ON')
        cursor.close()

    begin = 'BEGIN IMMEDIATE' if immediate else 'BEGIN'

    @event.listens_for(engine, 'begin')
    def _begin(conn):
        on_cursor(conn, begin)  # (`exec_driver_sql` cost 0.2 ms of every transaction)

    return engine


class Store:
    """Engines and sessions of the shared store; creates the schema on first use."""

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith('sqlite')
        if self.is_sqlite:
            path = url.split(':///', 1)[-1]
            if path and path != ':memory:':
                Path(path).parent.mkdir(parents=True, exist_ok=True)
            self.write_engine = _sqlite_engine(url, immediate=True)
            self.read_engine = _sqlite_engine(url, immediate=False)
        else:
            self.write_engine = self.read_engine = create_engine(
                url, pool_pre_ping=True, pool_size=5, max_overflow=10)
        self._writer = sessionmaker(self.write_engine, expire_on_commit=False)
        self._reader = sessionmaker(self.read_engine, expire_on_commit=False)
        self.create_schema()

    def create_schema(self) -> None:
        """Create or upgrade the schema (Alembic); concurrent first starts may race, so retry."""
        from . import migrate
        for attempt in range(5):
            try:
                migrate.upgrade(self.write_engine)
                return
            except OperationalError:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A session whose transaction is committed on exit (rolled back on error)."""
        with self._writer() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session:
            yield session

    def dispose(self) -> None:
        """Drop pooled connections (after fork: never share them across processes)."""
        self.write_engine.dispose(close=False)
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose(close=False)


_STORES: dict[tuple[str, int], Store] = {}


def adopt_after_fork(store: Store) -> Store:
    """In a forked child: keep `store` (its schema is known) without its parent's
    connections, and make `get_store` return it in this process."""
    import os

    store.dispose()
    _STORES[(store.url, os.getpid())] = store
    return store


def get_store(url: str) -> Store:
    """The store for `url` in this process (a forked child gets its own connections)."""
    import os

    key = (url, os.getpid())
    store = _STORES.get(key)
    if store is None:
        store = _STORES[key] = Store(url)
    return store

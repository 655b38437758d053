"""Reading and writing the records of one collection in the shared store."""

from __future__ import annotations

import functools
import gc
import itertools
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Callable, Iterable

from sqlalchemy import (ARRAY, String, and_, any_, bindparam, delete, func, select, text,
                        update)

from ..store import Store, get_store, utcnow
from ..store.hot import HotStatement
from ..store.record_tables import Record
from . import records, sql, sql_bulk, sql_rows, visibility
from .cql import CQLError
from .query import QueryError
from .queryables import SORT_COLUMNS


@dataclass
class UpsertResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0  # records of another owner, left as they were

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged

    def add(self, other: 'UpsertResult') -> None:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.refused += other.refused


@functools.lru_cache(maxsize=16)
def has_postgis(url: str) -> bool:
    """Does the store's record table have the PostGIS geometry column?"""
    store = get_store(url)
    if store.is_sqlite:
        return False
    with store.read() as session:
        return bool(session.execute(text(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'eoorder_record' "
            "AND column_name = 'geom'")).first())


LOGGER = logging.getLogger('eoorder.catalogue')
# store URL -> {name: callable told `(store URL, collection)` of new records once they are
# committed}; the component registry adds its `record_listeners` (e.g. ordering's
# subscriptions) with `listen`
_LISTENERS: dict[str, dict[str, Callable[[str, str], object]]] = {}


def listen(store_url: str, name: str, listener: Callable[[str, str], object]) -> None:
    """Have `listener(store_url, collection)` called after records are inserted there.

    A second listener of the same `name` replaces the first (a forked process that
    rebuilds its registry keeps one listener, its own)."""
    _LISTENERS.setdefault(store_url, {})[name] = listener


def announce_inserted(store_url: str, collection: str) -> None:
    """Tell the listeners of this store of new records; log (never raise) what fails."""
    for listener in list(_LISTENERS.get(store_url, {}).values()):
        try:
            listener(store_url, collection)
        except Exception:  # a listener must never fail the insert that was committed
            LOGGER.exception('record listener %r failed', listener)


_iso = functools.lru_cache(maxsize=64)(records.iso)  # mostly the one `now` of a batch


def _stamp(row: dict) -> None:
    """Served records say when they were created and updated (the store's times if absent)."""
    props = row['document'].setdefault('properties', {})
    for key in ('created', 'updated'):
        if key not in props:
            props[key] = _iso(row[key])


_ANALYZED: set[str] = set()
SQLITE_MMAP = 1 << 30  # bytes of an SQLite store a reader maps
_SQLITE_PREPARED = 'eoorder_catalogue_functions'  # (a pooled connection's mark: they are set)


def refresh_statistics(url: str, force: bool = False) -> None:
    """Give the query planner table statistics (without them SQLite scans the time index
    instead of starting from the R*Tree). Once per process and store, and after bulk loads."""
    if url in _ANALYZED and not force:
        return
    _ANALYZED.add(url)
    store = get_store(url)
    with store.write() as session:
        connection = session.connection()
        if store.is_sqlite and not force:
            known = connection.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first()
            if known and connection.exec_driver_sql(
                    "SELECT 1 FROM sqlite_stat1 WHERE tbl = 'eoorder_record'").first():
                return
        if store.is_sqlite or force:
            connection.exec_driver_sql('ANALYZE eoorder_record')


MIN_GROWTH = 1000  # new rows before statistics are refreshed again, at least
# store URL -> (rows analysed, highest record key) at this process's last refresh there
_REFRESHED: dict[str, tuple[int, int]] = {}


_HAS_STAT_TABLE: set[str] = set()  # SQLite stores seen with a `sqlite_stat1` table
_SIZES = {  # rows the planner's statistics were taken at; the highest record key now
    'sqlite': "SELECT (SELECT stat FROM sqlite_stat1 WHERE tbl = 'eoorder_record' LIMIT 1), "
              "(SELECT max(pk) FROM eoorder_record)",
    'postgresql': "SELECT (SELECT reltuples FROM pg_class WHERE oid = "
                  "to_regclass('eoorder_record')), (SELECT max(pk) FROM eoorder_record)"}


def _sizes(store) -> tuple[int, int]:
    """The record count the store's planner statistics were taken at (0: never taken;
    SQLite's `sqlite_stat1`, its first figure, PostgreSQL's `pg_class.reltuples`) and the
    highest record key: one statement (it runs after every job's registration)."""
    with store.read() as session:
        connection = session.connection()
        if store.is_sqlite and store.url not in _HAS_STAT_TABLE:  # until the first ANALYZE
            if not connection.exec_driver_sql(
                    "SELECT 1 FROM sqlite_master WHERE name = 'sqlite_stat1'").first():
                return 0, connection.exec_driver_sql(
                    'SELECT max(pk) FROM eoorder_record').scalar() or 0
            _HAS_STAT_TABLE.add(store.url)  # (ANALYZE creates it; nothing drops it)
        analysed, highest = connection.exec_driver_sql(
            _SIZES['sqlite' if store.is_sqlite else 'postgresql']).first()
    if isinstance(analysed, str):
        analysed = int(analysed.split()[0])
    return max(int(analysed or 0), 0), highest or 0  # reltuples -1: never analysed


CHECK_EVERY_ROWS, CHECK_EVERY_SECONDS = 100, 60.0
# store URL -> (rows this process inserted since it last checked, when it checked)
_SINCE_CHECK: dict[str, tuple[int, float]] = {}


def after_insert(url: str, collection: str, inserted: int) -> None:
    """Committed new records: the listeners are told, the statistics looked at."""
    if inserted:
        announce_inserted(url, collection)
        check_statistics(url, inserted)


def check_statistics(url: str, inserted: int) -> None:
    """Refresh the planner's statistics if the table grew a lot, looked at once this
    process inserted `CHECK_EVERY_ROWS` rows or `CHECK_EVERY_SECONDS` passed: a job's
    few result records do not cost a statistics query each."""
    if not inserted:
        return
    rows, checked = _SINCE_CHECK.get(url, (0, float('-inf')))
    rows += inserted
    now = time.monotonic()
    if rows < CHECK_EVERY_ROWS and now - checked < CHECK_EVERY_SECONDS:
        _SINCE_CHECK[url] = rows, checked
        return
    _SINCE_CHECK[url] = 0, now
    refresh_statistics_if_grown(url)


def refresh_statistics_if_grown(url: str) -> bool:
    """Refresh the planner's statistics when the record table doubled since they were
    taken (the bulk loader's rule), at least `MIN_GROWTH` rows on: small ingests (a
    job's results) do not analyse the whole table each time. The rows analysed are the
    store's own figure (whichever process analysed); the rows now are read from the
    highest key (one index lookup, no count). Keys of deleted records never come back:
    after its own refresh a process counts growth from the highest key it saw then
    (while the store's figure is still the one it took), so a table that lost many
    records is not analysed again at every ingest. True if refreshed."""
    store = get_store(url)
    analysed, highest = _sizes(store)
    rows_then, key_then = _REFRESHED.get(url, (None, None))
    base = key_then if rows_then == analysed else analysed
    if highest - base < max(analysed, MIN_GROWTH):
        return False
    refresh_statistics(url, force=True)
    _REFRESHED[url] = (_sizes(store)[0], highest)
    return True


# a stored record replaced by a changed one (every column but its key; executemany)
_REPLACE = update(Record).where(Record.pk == bindparam('stored_pk')).values(
    {name: bindparam(f'new_{name}', type_=Record.__table__.c[name].type)
     for name in sql_bulk.COLUMNS})


_COMPARED = (Record.pk, Record.identifier, Record.owner, Record.content_hash,
             Record.visibility, Record.created)  # what an upsert compares of stored records


@functools.lru_cache(maxsize=2)
def _stored(sqlite: bool):
    """The stored records among `ids` of `collection` (both bound; built once: it runs
    for every registration)."""
    ids = Record.identifier.in_(bindparam('ids', expanding=True)) if sqlite else \
        Record.identifier == any_(bindparam('ids', type_=ARRAY(String)))
    return select(*_COMPARED).where(Record.collection == bindparam('collection'), ids)


# the stored record `identifier` of `collection`: what a job's result registers, one item
# (an expanding `IN` through SQLAlchemy took 0.35 ms of its 1.3 ms transaction, cold)
_STORED_ONE = HotStatement(select(*_COMPARED).where(
    Record.collection == bindparam('collection'), Record.identifier == bindparam('identifier')))


def _stored_rows(connection, collection: str, ids: list[str]) -> list[dict]:
    """What an upsert compares of the stored records among `ids` of `collection`."""
    if len(ids) == 1:
        return _STORED_ONE.execute(connection, {'collection': collection,
                                                'identifier': ids[0]})[0]
    sqlite = connection.dialect.name == 'sqlite'
    return [dict(row) for row in connection.execute(
        _stored(sqlite), {'collection': collection, 'ids': ids}).mappings()]


class RecordRepository:
    """The records of `collection` in the store at `url`."""

    def __init__(self, url: str, collection: str):
        self.url, self.collection = url, collection
        self.store: Store = get_store(url)
        refresh_statistics(url)

    @property
    def dialect(self) -> str:
        return 'sqlite' if self.store.is_sqlite else 'postgresql'

    def where(self, node):
        return sql.to_sql(node, self.dialect, has_postgis(self.url), self.collection)

    def _mine(self, viewer: visibility.Viewer | None = None) -> list:
        """Conditions selecting this collection's records that `viewer` (default: the
        current caller, see `visibility.current_viewer`) may see."""
        conditions = [Record.collection == self.collection]
        shown = visibility.condition(viewer or visibility.current_viewer())
        if shown is not None:
            conditions.append(shown)
        return conditions

    def _prepare(self, session) -> None:
        if self.store.is_sqlite:
            pooled = session.connection().connection  # (its `info` lives as long as it)
            if not pooled.info.get(_SQLITE_PREPARED):
                sql.register_sqlite_functions(pooled.driver_connection)
                # records read through memory mapping: no read() call per page of a big table
                pooled.driver_connection.execute(f'PRAGMA mmap_size={SQLITE_MMAP}')
                pooled.info[_SQLITE_PREPARED] = True
        else:  # counting thousands of matches crosses jit_above_cost: compiling the query
            # costs more than it saves (150 of 450 ms at 1M records); this transaction only
            session.execute(text('SET LOCAL jit = off'))

    def search(self, node, sortby: list[dict] | None = None, offset: int = 0,
               limit: int = 10, count: bool = True,
               viewer: visibility.Viewer | None = None) -> tuple[list[dict], int | None]:
        """Documents matching the query model AST that `viewer` may see, and how many
        match in all."""
        try:
            return self._search(node, sortby, offset, limit, count, viewer)
        except OverflowError:
            raise QueryError('a number in the query (offset, page or a value) is too large') \
                from None
        except CQLError as err:
            raise QueryError(str(err)) from None

    def _search(self, node, sortby, offset, limit, count, viewer):
        condition = and_(*self._mine(viewer), self.where(node))
        order = []
        for sort in sortby or []:
            col = getattr(Record, SORT_COLUMNS[sort['property']])
            order.append(col.desc() if sort.get('order') == '-' else col.asc())
        order.append(Record.pk.asc())
        with self.store.read() as session:
            self._prepare(session)
            rows = session.execute(select(Record.document).where(condition).order_by(*order)
                                   .offset(offset).limit(limit)).scalars().all()
            matched = None
            if count:
                if offset == 0 and len(rows) < limit:
                    matched = len(rows)
                else:
                    matched = session.execute(select(func.count()).select_from(Record)
                                              .where(condition)).scalar_one()
        return list(rows), matched

    def get(self, identifier: str, viewer: visibility.Viewer | None = None) -> dict | None:
        """The record, if it exists and `viewer` may see it."""
        with self.store.read() as session:
            return session.execute(select(Record.document).where(
                *self._mine(viewer), Record.identifier == identifier)).scalar_one_or_none()

    def exists(self, identifier: str) -> bool:
        """Is the identifier taken, by a record anyone may see or not?"""
        return self.get(identifier, visibility.INTERNAL) is not None

    def upsert(self, documents: list[dict],
               ownership: visibility.Ownership = visibility.CURATED,
               owned: bool = False, unless: Callable | None = None) -> UpsertResult:
        """Insert new records, replace changed ones, skip unchanged ones (by content hash).

        The records get `ownership`; a record stored with another owner is never
        replaced (counted as `refused`). New records are inserted in one bulk statement
        (`sql_bulk`); `owned`: the documents are fresh JSON values given up by the
        caller (see `sql_rows.rows`). `unless(connection)`: a reason, read in the same
        transaction, to write nothing (e.g. the job writing them was dismissed)."""
        result = self._write(self._rows(documents, ownership, owned), ownership, unless)
        check_statistics(self.url, result.inserted)
        return result

    def _rows(self, documents, ownership: visibility.Ownership, owned: bool) -> dict:
        """The table rows of `documents` by identifier (the last of a repeated one)."""
        rows = {}
        for row in sql_rows.rows(self.collection, documents, owned):
            row.update(owner=ownership.owner, visibility=ownership.visibility)
            rows[row['identifier']] = row
        return rows

    def upsert_on(self, connection, documents: list[dict],
                  ownership: visibility.Ownership = visibility.CURATED,
                  owned: bool = False) -> UpsertResult:
        """`upsert` inside the caller's transaction on `connection` (the caller commits,
        then calls `after_insert` with what was inserted)."""
        return self._apply(connection, self._rows(documents, ownership, owned), ownership)

    def _write(self, rows: dict, ownership: visibility.Ownership,
               unless: Callable | None = None) -> UpsertResult:
        if not rows:
            return UpsertResult()
        with self.store.write_engine.begin() as connection:
            if unless is not None and unless(connection):
                return UpsertResult()
            result = self._apply(connection, rows, ownership)
        if result.inserted:
            announce_inserted(self.url, self.collection)
        return result

    def _apply(self, connection, rows: dict, ownership: visibility.Ownership) -> UpsertResult:
        """Insert, replace or keep each row in the connection's transaction."""
        result, now = UpsertResult(), utcnow()
        if not rows:
            return result
        existing = {r['identifier']: r for r in _stored_rows(connection, self.collection,
                                                              list(rows))}
        fresh: list[dict] = []
        changed: list[dict] = []
        for identifier, row in rows.items():
            current = existing.get(identifier)
            if current is not None and not ownership.may_replace(current['owner']):
                result.refused += 1
            elif current is None:
                row['created'] = row['created'] or now
                row['updated'] = row['updated'] or now
                _stamp(row)
                fresh.append(row)
                result.inserted += 1
            elif current['content_hash'] == row['content_hash'] and \
                    current['visibility'] == row['visibility']:
                result.unchanged += 1
            else:
                row['created'] = row['created'] or current['created']
                row['updated'] = row['updated'] or now
                _stamp(row)
                changed.append({'stored_pk': current['pk'],
                                **{f'new_{name}': row.get(name) for name in sql_bulk.COLUMNS}})
                result.updated += 1
        if changed:
            connection.execute(_REPLACE, changed)
        sql_bulk.insert_rows(connection, fresh)
        return result

    def load(self, documents: Iterable[dict],
             ownership: visibility.Ownership = visibility.CURATED, batch: int = 5000,
             owned: bool = False) -> UpsertResult:
        """Upsert many documents, `batch` per transaction (a bulk load), then refresh the
        planner's statistics. The rows of the next batch are made while the database
        stores the last one (one writer thread: batches are written in order). The
        cyclic garbage collector pauses meanwhile (JSON values make no cycles; scanning
        the batches' millions of objects again and again costs a third of the time)."""
        result, documents = UpsertResult(), iter(documents)
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._load(documents, ownership, batch, owned, result)
        finally:
            if collecting:
                gc.enable()
        refresh_statistics(self.url, force=True)
        return result

    def _load(self, documents, ownership, batch: int, owned: bool,
              result: UpsertResult) -> None:
        analysed_at = 10 * batch  # statistics again each time the load doubled: the
        # planner of a grown table keeps looking existing rows up by index
        with ThreadPoolExecutor(1, thread_name_prefix='eoorder-load') as writer:
            pending = None
            while chunk := list(itertools.islice(documents, batch)):
                rows = self._rows(chunk, ownership, owned)
                if pending is not None:
                    result.add(pending.result())
                    if result.inserted >= analysed_at:
                        refresh_statistics(self.url, force=True)
                        analysed_at *= 2
                pending = writer.submit(self._write, rows, ownership)
            if pending is not None:
                result.add(pending.result())

    def delete(self, identifier: str, viewer: visibility.Viewer | None = None) -> bool:
        """Delete the record if `viewer` may see it; True if it was deleted."""
        with self.store.write() as session:
            return session.execute(delete(Record).where(
                *self._mine(viewer), Record.identifier == identifier)).rowcount > 0

    def clear(self) -> int:
        with self.store.write() as session:
            return session.execute(delete(Record).where(
                Record.collection == self.collection)).rowcount

    def count(self, viewer: visibility.Viewer | None = None) -> int:
        with self.store.read() as session:
            return session.execute(select(func.count()).select_from(Record).where(
                *self._mine(viewer))).scalar_one()

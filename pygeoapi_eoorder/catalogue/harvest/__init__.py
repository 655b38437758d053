"""Harvesting records into a SQL collection: incremental, resumable, with progress.

Unchanged records are skipped (content hash), the position is stored after every batch in
`eoorder_harvest_state`, and a run that was interrupted resumes there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from sqlalchemy import select

from pygeoapi_eoorder.store import get_store, utcnow

from ...egress import EgressPolicy
from ...store.record_tables import HarvestState
from ..records import RecordError
from ..repository import RecordRepository, UpsertResult, refresh_statistics
from .sources import HarvestError, detect

KINDS = ('auto', 'stac-api', 'stac-static', 'opensearch', 'records')


@dataclass
class HarvestResult:
    kind: str
    total: int | None
    resumed_at: int
    counts: UpsertResult = field(default_factory=UpsertResult)
    complete: bool = False


def _state(store, source: str, collection: str) -> HarvestState | None:
    with store.read() as session:
        return session.execute(select(HarvestState).where(
            HarvestState.source == source, HarvestState.collection == collection)
        ).scalar_one_or_none()


def _save(store, source: str, collection: str, cursor: str | None, harvested: int,
          complete: bool) -> None:
    with store.write() as session:
        state = session.get(HarvestState, (source, collection))
        if state is None:
            state = HarvestState(source=source, collection=collection, harvested=0)
            session.add(state)
        state.cursor = cursor
        state.harvested = harvested
        state.updated = utcnow()
        if complete:
            state.last_complete = state.updated


def harvest(store_url: str, source: str, collection: str, **options) -> HarvestResult:
    """Harvest SOURCE into COLLECTION (options: those of `_harvest`). A record the catalogue
    refuses (e.g. a geometry outside GeoJSON) stops the run with a HarvestError naming it;
    the batches before it are kept and the position saved."""
    try:
        return _harvest(store_url, source, collection, **options)
    except RecordError as err:
        raise HarvestError(f'a record of {source} is refused: {err}') from None


def _harvest(store_url: str, source: str, collection: str, *, kind: str = 'auto',
            remote_collections: list[str] | tuple = (), page_size: int = 100,
            timeout: float = 30, restart: bool = False, max_records: int | None = None,
            progress: Callable[[int, int | None], None] | None = None,
            policy: EgressPolicy | None = None) -> HarvestResult:
    """Harvest SOURCE into COLLECTION; `progress(done, total)` is called after each batch.
    Every request goes through the egress `policy` (strict if none)."""
    if kind not in KINDS:
        raise HarvestError(f'--type {kind}: use one of {", ".join(KINDS)}')
    store = get_store(store_url)
    repository = RecordRepository(store_url, collection)
    origin = detect(source, kind, list(remote_collections), page_size, timeout, policy)
    state = _state(store, source, collection)
    cursor = None if restart or state is None else state.cursor
    first = origin.index_offset if origin.kind == 'opensearch' else 0
    position = int(cursor) if cursor else first   # every cursor is an advancing position
    result = HarvestResult(origin.kind, origin.total, position - first)
    done = position - first
    if progress:
        progress(done, origin.total)
    for records, cursor in origin.batches(cursor):
        if max_records is not None and done - result.resumed_at + len(records) >= max_records:
            records = records[:max_records - (done - result.resumed_at)]
            result.counts.add(repository.upsert(records))
            done += len(records)
            _save(store, source, collection, str(done + first), done, False)
            if progress:
                progress(done, origin.total)
            return result
        result.counts.add(repository.upsert(records))
        done += len(records)
        _save(store, source, collection, cursor, done, False)
        if progress:
            progress(done, origin.total)
    _save(store, source, collection, None, done, True)
    refresh_statistics(store_url, force=True)
    result.complete = True
    return result


__all__ = ['harvest', 'HarvestError', 'HarvestResult', 'KINDS']

"""Which record collections the STAC API serves, and searches over them.

Every collection of the configuration served by the SQL record provider is a STAC
collection (same id). Searches go to the catalogue service, per store; the visibility
rules of the catalogue apply to every read.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..catalogue import SQL_PROVIDER, runtime
from ..catalogue.repository import RecordRepository
from ..catalogue.search import COLLECTION, CollectionsSearch
from .params import Search



@dataclass(frozen=True)
class Served:
    """A STAC collection: its resource, the store and the record set behind it."""

    id: str
    resource: dict
    store_url: str
    records: str      # the collection name in the store
    editable: bool

    def repository(self) -> RecordRepository:
        return RecordRepository(self.store_url, self.records)


def served_collections(resources: dict) -> dict[str, Served]:
    found = {}
    for cid, resource in resources.items():
        for provider in (resource or {}).get('providers') or []:
            if provider.get('type') == 'record' and provider.get('name') == SQL_PROVIDER:
                found[cid] = Served(cid, resource, runtime.store_url(provider.get('data')),
                                    provider.get('collection') or cid,
                                    bool(provider.get('editable')))
                break
    return found


@dataclass
class Page:
    """Items of one page as (STAC collection id, record document), and the total."""

    rows: list[tuple[str, dict]]
    matched: int


def _by_store(chosen: list[Served]) -> dict[str, list[Served]]:
    groups: dict[str, list[Served]] = {}
    for served in chosen:
        groups.setdefault(served.store_url, []).append(served)
    return groups


def search(collections: dict[str, Served], search: Search) -> Page:
    """One page of `search` over the collections it names (default: all of them).

    Collections in one store are searched (and sorted) together; when they live in
    several stores, pages follow the stores one after the other."""
    wanted = search.collections
    chosen = [s for cid, s in collections.items() if wanted is None or cid in wanted]
    offset, rows, matched = search.offset, [], 0
    for url, group in _by_store(chosen).items():
        names = {s.records: s.id for s in group}
        service = CollectionsSearch(url, list(names))
        room = search.limit - len(rows)
        found = service.search(search.node, search.sortby, offset, max(room, 1))
        total = found.matched or 0
        matched += total
        if room > 0:
            rows += [(names[c], d) for c, d in found.rows[:room]]
        offset = max(0, offset - total)
    return Page(rows, matched)


__all__ = ['COLLECTION', 'Page', 'Served', 'search', 'served_collections']

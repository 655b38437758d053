"""The records of a workspace: a collection of its own in the shared catalogue store
(`workspace-<id>`), owned by the workspace and private, so that the system-wide Records,
OpenSearch and STAC API searches show them to its members and admins only (see
`catalogue.visibility` and `catalogue.workspace_collections`). Members register and
deregister them through the workspace API, which checks membership first."""

from __future__ import annotations

from typing import Callable, Iterable

from ..catalogue import visibility
from ..catalogue.repository import RecordRepository
from ..catalogue.workspace_collections import collection_of

# fetch(url, max_records) -> record documents; given by the adapter (it owns harvesting)
Fetcher = Callable[[str, int], Iterable[list[dict]]]


def ownership(workspace_id: str) -> visibility.Ownership:
    return visibility.Ownership(owner=f'workspace:{workspace_id}',
                                visibility=visibility.PRIVATE)


class WorkspaceRecords:
    """Register, list and deregister the records of one workspace."""

    def __init__(self, store_url: str, workspace_id: str):
        self.workspace_id = workspace_id
        self.repository = RecordRepository(store_url, collection_of(workspace_id))

    def register(self, batches: Iterable[list[dict]]) -> dict:
        counts = {'inserted': 0, 'updated': 0, 'unchanged': 0, 'refused': 0}
        for batch in batches:
            result = self.repository.upsert(batch, ownership(self.workspace_id))
            for key in counts:
                counts[key] += getattr(result, key)
        return counts

    def listing(self, offset: int, limit: int) -> tuple[list[dict], int | None]:
        return self.repository.search(None, offset=offset, limit=limit,
                                      viewer=visibility.INTERNAL)

    def count(self) -> int:
        return self.repository.count(visibility.INTERNAL)

    def stored_bytes(self, identifier: str | None = None,
                     excluding: tuple[str, ...] = ()) -> int:
        """Bytes of the registered record documents (they count in the storage quota);
        of one record only when `identifier` is given; without the records whose ids
        start with one of `excluding`."""
        from sqlalchemy import Text, cast, func, select

        from ..store import get_store
        from ..store.record_tables import Record
        query = select(func.coalesce(func.sum(func.length(cast(Record.document, Text))), 0)
                       ).where(Record.collection == self.repository.collection)
        if identifier is not None:
            query = query.where(Record.identifier == identifier)
        for prefix in excluding:
            query = query.where(~Record.identifier.startswith(prefix, autoescape=True))
        with get_store(self.repository.url).read() as session:
            return int(session.execute(query).scalar_one())

    def get(self, identifier: str) -> dict | None:
        return self.repository.get(identifier, visibility.INTERNAL)

    def deregister(self, identifier: str) -> bool:
        return self.repository.delete(identifier, visibility.INTERNAL)

    def clear(self) -> int:
        return self.repository.clear()

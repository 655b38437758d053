"""The records of a workspace: a collection of its own in the shared catalogue store
(`workspace-<id>`), owned by the workspace and private, so that the system-wide Records,
OpenSearch and STAC API searches show them to nobody but admins until the catalogue
learns workspace membership (see the module docstring of `catalogue.visibility`).
Members read and edit them through the workspace API, which checks membership first."""

from __future__ import annotations

from typing import Callable, Iterable

from ..catalogue import visibility
from ..catalogue.repository import RecordRepository

# fetch(url, max_records) -> record documents; given by the adapter (it owns harvesting)
Fetcher = Callable[[str, int], Iterable[list[dict]]]


def collection_of(workspace_id: str) -> str:
    return f'workspace-{workspace_id}'


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

    def get(self, identifier: str) -> dict | None:
        return self.repository.get(identifier, visibility.INTERNAL)

    def deregister(self, identifier: str) -> bool:
        return self.repository.delete(identifier, visibility.INTERNAL)

    def clear(self) -> int:
        return self.repository.clear()

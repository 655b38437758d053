"""The records collections of workspaces (`workspace-<id>`), as pygeoapi collection
resources declared at run time: each caller sees those of the workspaces it belongs to
(admins: all), beside the configured ones, in every protocol that lists or searches the
catalogue's collections; to anyone else they do not exist."""

from __future__ import annotations

from . import SQL_PROVIDER
from ..store import get_store
from ..store import workspace_tables
from .visibility import Viewer

PREFIX = 'workspace-'


def collection_of(workspace_id: str) -> str:
    """The records collection of a workspace."""
    return f'{PREFIX}{workspace_id}'


def resource(workspace_id: str, title: str | None) -> dict:
    """A pygeoapi collection resource of the workspace's records (read-only here: members
    register and deregister through the workspace API)."""
    return {
        'type': 'collection',
        'title': f'Workspace {title or workspace_id}',
        'description': f'Records registered in workspace {workspace_id} (members only)',
        'keywords': ['workspace'], 'links': [],
        'extents': {'spatial': {'bbox': [-180, -90, 180, 90]}},
        'providers': [{'type': 'record', 'name': SQL_PROVIDER, 'data': 'eoorder',
                       'collection': collection_of(workspace_id)}],
    }


def resources(store_url: str, viewer: Viewer) -> dict[str, dict]:
    """{collection id: resource} of the workspaces `viewer` may see."""
    ids = None if viewer.sees_all else viewer.workspaces
    found = workspace_tables.titles(get_store(store_url), ids)
    return {collection_of(wid): resource(wid, title) for wid, title in found.items()}

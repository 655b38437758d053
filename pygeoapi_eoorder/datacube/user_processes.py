"""User-defined processes (openEO `/process_graphs`): each user's own, kept as JSON files
under `<data_dir>/openeo/process_graphs/<user key>/<id>.json`; nobody else sees them."""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from .errors import GraphError

ID_PATTERN = re.compile(r'^\w{1,100}$', re.ASCII)
KEPT = ('id', 'summary', 'description', 'categories', 'parameters', 'returns', 'deprecated',
        'experimental', 'exceptions', 'examples', 'links', 'process_graph', 'public')


def _folder(settings, user: str) -> Path:
    key = hashlib.sha256(user.encode()).hexdigest()[:32]
    return Path(settings.data_dir) / 'openeo' / 'process_graphs' / key


def valid_id(process_id: str) -> bool:
    return bool(ID_PATTERN.match(process_id or ''))


def _path(settings, user: str, process_id: str) -> Path:
    if not valid_id(process_id):
        raise GraphError(f'process graph id {process_id!r}: use letters, digits and _',
                         'ProcessGraphNotFound', 404)
    return _folder(settings, user) / f'{process_id}.json'


def listing(settings, user: str) -> list[dict]:
    folder = _folder(settings, user)
    if not folder.is_dir():
        return []
    return [json.loads(p.read_text()) for p in sorted(folder.glob('*.json'))]


def get(settings, user: str, process_id: str) -> dict | None:
    path = _path(settings, user, process_id)
    return json.loads(path.read_text()) if path.is_file() else None


def put(settings, user: str, process_id: str, definition: dict) -> bool:
    """Store (create or replace) a process; True if it is new."""
    if not isinstance(definition, dict) or not isinstance(
            definition.get('process_graph'), dict) or not definition['process_graph']:
        raise GraphError('a user-defined process needs a non-empty process_graph object')
    path = _path(settings, user, process_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    kept = {k: v for k, v in definition.items() if k in KEPT}
    kept['id'] = process_id
    new = not path.exists()
    tmp = path.with_name(f'.{path.name}.{os.getpid()}.tmp')
    tmp.write_text(json.dumps(kept))
    os.replace(tmp, path)
    return new


def delete(settings, user: str, process_id: str) -> bool:
    path = _path(settings, user, process_id)
    if not path.is_file():
        return False
    path.unlink()
    return True


def process_ids(graph: dict) -> set[str]:
    """Every process id a flat graph uses, its callbacks' included."""
    return {node['process_id'] for node in graph_nodes(graph)
            if isinstance(node.get('process_id'), str)}


def graph_nodes(graph):
    """The nodes of a flat graph and of the child graphs among their arguments."""
    for node in (graph.values() if isinstance(graph, dict) else ()):
        if isinstance(node, dict):
            yield node
            yield from _child_nodes(node.get('arguments'))


def _child_nodes(value):
    if isinstance(value, dict):
        if isinstance(value.get('process_graph'), dict):
            yield from graph_nodes(value['process_graph'])
        else:
            for item in value.values():
                yield from _child_nodes(item)
    elif isinstance(value, list):
        for item in value:
            yield from _child_nodes(item)


def used_by(settings, user: str, graph: dict, is_predefined) -> dict[str, dict]:
    """The user's processes that `graph` uses, directly or through each other."""
    found: dict[str, dict] = {}
    waiting = [pid for pid in process_ids(graph) if not is_predefined(pid)]
    while waiting:
        pid = waiting.pop()
        if pid in found or not valid_id(pid):
            continue
        definition = get(settings, user, pid)
        if definition is not None:
            found[pid] = definition
            waiting += [p for p in process_ids(definition['process_graph'])
                        if not is_predefined(p)]
    return found

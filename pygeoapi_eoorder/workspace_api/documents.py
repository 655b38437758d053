"""JSON documents of the workspace API (never holding storage credentials)."""

from __future__ import annotations


def workspace_document(workspace, service, base: str) -> dict:
    """A workspace: owner, members, storage location, usage against the quota, links."""
    href = f'{base}/{workspace.id}'
    return {
        'id': workspace.id, 'title': workspace.title, 'owner': workspace.owner,
        'members': workspace.members, 'personal': workspace.personal is not None,
        'created': workspace.created, 'storage': service.location(workspace),
        'usage': service.usage(workspace), 'records': service.record_count(workspace),
        'links': [
            {'rel': 'self', 'href': href, 'type': 'application/json'},
            {'rel': 'alternate', 'href': f'{href}?f=html', 'type': 'text/html'},
            {'rel': 'items', 'href': f'{href}/files', 'type': 'application/json',
             'title': 'files'},
            {'rel': 'items', 'href': f'{href}/records', 'type': 'application/geo+json',
             'title': 'registered records'},
        ],
    }


def file_list(stored, base: str) -> dict:
    return {'files': [{'key': o.key, 'size': o.size, 'href': f'{base}/{o.key}'}
                      for o in stored],
            'links': [{'rel': 'self', 'href': base, 'type': 'application/json'}]}

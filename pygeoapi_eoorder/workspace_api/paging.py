"""The query parameters of a workspace's records listing (`GET /workspaces/{id}/records`):
`offset` and `limit` (and `f=json`) only. Anything else is refused with 400 naming it,
never ignored: searches (bbox, datetime, q, filter...) are answered by the workspace's
collection, `/collections/workspace-<id>/items`."""

from __future__ import annotations

from typing import Mapping

from ..workspaces import WorkspaceError

MAX_OFFSET = 2 ** 63 - 1  # the SQL OFFSET's 64-bit range
MAX_LIMIT, DEFAULT_LIMIT = 1000, 100
KNOWN = ('offset', 'limit', 'f')


def _integer(args: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = args.get(name)
    if text is None:
        return default
    if not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        raise WorkspaceError(f'{name}: an integer from {low} to {high} is required, not '
                             f'{text[:40]!r}')
    return int(text)


def paging(args: Mapping[str, str], search_href: str) -> tuple[int, int]:
    """(offset, limit) of a records listing's query `args`; WorkspaceError (400) for a
    value out of range or a parameter the listing does not take."""
    for name in args:
        if name not in KNOWN:
            raise WorkspaceError(f'{name[:40]}: unknown query parameter of this listing '
                                 f'(offset, limit); search the records at {search_href}')
    if args.get('f', 'json') != 'json':
        raise WorkspaceError('f: this listing is JSON only (f=json)')
    return (_integer(args, 'offset', 0, 0, MAX_OFFSET),
            _integer(args, 'limit', DEFAULT_LIMIT, 1, MAX_LIMIT))

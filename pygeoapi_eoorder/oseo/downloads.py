"""Download of delivered order items (recorded: the item becomes Downloaded)."""

from __future__ import annotations

from pathlib import Path

from flask import Response, send_file

from ..ordering.item_job import withdrawn
from ..ordering.notify import notify_change
from ..store import utcnow
from ..web.problem import problem


def download(service, token: str, name: str, may_see) -> Response:
    """A delivered file, for callers who `may_see` the order's owner's resources; anyone
    else gets the same 404 as for an unknown token (nothing tells the download exists)."""
    item = service.repo.item_by_token(token)
    order = service.repo.get(item['order_id'], with_request=False) if item else None
    if item is None or name not in (item['files'] or []) or order is None \
            or not may_see(order['owner']):
        return problem(404, 'not-found', 'no such download')
    if withdrawn(item, utcnow()):
        return problem(410, 'gone', 'this download has expired')
    path = (service.conf.downloads_dir / token / name).resolve()
    root = (service.conf.downloads_dir / token).resolve()
    if root not in path.parents or not path.is_file():
        return problem(404, 'not-found', 'no such download')
    change = service.repo.count_download(item['id'])
    notify_change(service, change)
    return send_file(path, as_attachment=True, download_name=Path(name).name)

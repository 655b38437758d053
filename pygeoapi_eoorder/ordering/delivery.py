"""Download of delivered items (recorded: Downloaded status) and removal of expired ones."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from flask import Response, send_file

from ..errors import problem
from ..store import utcnow
from .item_job import load_item_processor, withdrawn
from .notify import notify_change
from .processors import ItemProcessor

LOGGER = logging.getLogger(__name__)


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


def clean_expired(service) -> int:
    """Withdraw every delivery past its expiration date; return how many."""
    count = 0
    for item in service.repo.expired_items(utcnow()):
        collection = service.conf.collections.get(item['collection_id'])
        dotted = (collection.conf.get('processor') if collection else None) or \
            service.conf.processor
        try:
            processor = load_item_processor(dotted, {'ordering': service.conf.block,
                                                     'collection': collection.conf
                                                     if collection else None})
        except Exception:  # a broken plugin still lets the files go
            processor = ItemProcessor({})
        processor.clean(service.conf.downloads_dir / item['token'])
        service.repo.update_item(item['id'], files_removed=True)
        count += 1
    return count


class Sweeper:
    """Runs `clean_expired` at most every `interval` seconds, on request traffic."""

    def __init__(self, service, interval: float):
        self.service = service
        self.interval = interval
        self.last = 0.0

    def maybe_run(self) -> None:
        now = time.monotonic()
        if now - self.last < self.interval:
            return
        self.last = now
        try:
            removed = clean_expired(self.service)
            if removed:
                LOGGER.info('removed %s expired deliveries', removed)
        except Exception:
            LOGGER.exception('cleaning expired deliveries failed')

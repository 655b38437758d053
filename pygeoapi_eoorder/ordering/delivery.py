"""Removal of expired deliveries (the download itself is `oseo.downloads`)."""

from __future__ import annotations

import logging
import time

from ..store import utcnow
from .item_job import load_item_processor
from .processors import ItemProcessor

LOGGER = logging.getLogger(__name__)


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

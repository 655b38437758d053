"""Links added to every served record: ordering (OSEO) and processes that accept it."""

from __future__ import annotations

from urllib.parse import quote

from .. import urls
from . import demo, runtime
from .records import EXECUTE_REL


def ordering_enabled_for(collection: str) -> bool:
    found = runtime.settings()
    ordering = (found.block.get('ordering') or {}) if found else {}
    if not ordering.get('enabled'):
        return False
    allowed = [c['id'] if isinstance(c, dict) else c for c in ordering.get('collections') or []]
    return not allowed or collection in allowed


def decorate(record: dict, collection: str, processes: list[str]) -> dict:
    """The record with its `order` and execute links (computed, never stored) and its
    demo files named by their URLs (`demo.published`)."""
    base = urls.of_request() or runtime.base_url()
    record = demo.published(record)
    links = [link for link in record.get('links', [])
             if link.get('rel') not in ('order', EXECUTE_REL)]
    if ordering_enabled_for(collection):  # the order form, pre-filled (it sends OSEO Submit)
        links.append({'rel': 'order', 'type': 'text/html', 'title': 'Order this product',
                      'href': f'{base}/ui/order?collection={quote(collection, safe="")}'
                              f'&identifier={quote(record["id"], safe="")}'})
    for process_id in processes:
        links.append({'rel': EXECUTE_REL, 'type': 'application/json',
                      'title': f'Process with {process_id}',
                      'href': f'{base}/processes/{quote(process_id)}/execution'})
    return {**record, 'links': links}

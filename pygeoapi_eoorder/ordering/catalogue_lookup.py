"""Product look-up: a product identifier to its collection and its file (enclosure href).

The catalogue is asked first (`catalogue.lookup.find_product`, a dict with `collection`
and `href`); otherwise the collection's `enclosure` URL template is used, and an
identifier that is itself a URL is taken as the product's location.
"""

from __future__ import annotations

import logging
from urllib.parse import quote, urlparse

from ..catalogue.lookup import find_product

LOGGER = logging.getLogger(__name__)


def _catalogue(settings, identifier: str, collection_id: str | None) -> dict | None:
    try:
        return find_product(settings, identifier, collection_id)
    except Exception:  # a broken catalogue must not break ordering
        LOGGER.exception('catalogue look-up of %s failed', identifier)
        return None


def collection_of(settings, identifier: str) -> str | None:
    found = _catalogue(settings, identifier, None)
    return found.get('collection') if found else None


def product_href(settings, identifier: str, collection) -> str | None:
    """Where the product's file is, or None when nobody knows."""
    found = _catalogue(settings, identifier, collection.id if collection else None)
    if found and found.get('href'):
        return found['href']
    template = collection.conf.get('enclosure') if collection else None
    if template:
        return template.replace('{identifier}', quote(identifier, safe=''))
    if urlparse(identifier).scheme in ('http', 'https', 'file'):
        return identifier
    return None

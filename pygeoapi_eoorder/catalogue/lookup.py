"""Product look-up for ordering: an identifier to its catalogue record's collection and file.

Called by `ordering.catalogue_lookup`: the order item names a product, the record says
where its data is (its `enclosure` link, else a STAC `data` asset, else its first asset).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from ..store import get_store
from ..store.record_tables import Record

_DATA_ROLES = ('data', 'product')


def data_href(document: dict) -> str | None:
    """Where a record's product file is: enclosure link, data asset, or first asset."""
    for link in document.get('links') or ():
        if link.get('rel') == 'enclosure' and link.get('href'):
            return link['href']
    assets = document.get('assets') or {}
    for asset in assets.values():
        if set(asset.get('roles') or ()) & set(_DATA_ROLES) and asset.get('href'):
            return asset['href']
    return next((a['href'] for a in assets.values() if a.get('href')), None)


def find_product(settings, identifier: str, collection_id: str | None) -> dict | None:
    """{'collection', 'href'} of the record `identifier` (in `collection_id` if given)."""
    from .visibility import condition, current_viewer
    query = select(Record.collection, Record.document).where(Record.identifier == identifier)
    shown = condition(current_viewer())  # another user's private result is no product
    if shown is not None:
        query = query.where(shown)
    if collection_id:
        query = query.where(Record.collection == collection_id)
    try:
        with get_store(settings.store_url).read() as session:
            row = session.execute(query.order_by(Record.collection).limit(1)).first()
    except SQLAlchemyError:  # no catalogue table in this store
        return None
    if row is None:
        return None
    return {'collection': row.collection, 'href': data_href(row.document or {})}

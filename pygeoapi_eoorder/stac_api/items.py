"""Catalogue records as STAC Items, and STAC Items as records (transactions).

A record harvested from (or created as) a STAC Item keeps that item's properties, assets,
version and extensions (see `catalogue.records.from_stac_item`): it is served as that
same item. Any other record gets a STAC rendering of its own: EO properties under their
STAC names, acquisition time as `datetime` / `start_datetime` + `end_datetime`, its
enclosure links as data assets and preview links as thumbnails (or the record's own
`assets`, when it has some).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from shapely.geometry import shape

from ..catalogue import demo
from ..catalogue.queryables import QUERYABLES
from ..catalogue.records import EXECUTE_REL, from_stac_item

STAC_VERSION = '1.1.0'
# record property -> STAC item property (parentIdentifier keeps its name: an item's
# `collection` is the catalogue collection serving it)
RECORD_TO_STAC = {name: q.stac for name, q in QUERYABLES.items()
                  if q.stac and q.column and name not in (
                      'id', 'title', 'description', 'parentIdentifier', 'start_datetime',
                      'end_datetime', 'created', 'updated')}
LOWER_CASE = {'orbitDirection'}  # STAC's sat:orbit_state values are lower case
STRUCTURAL_RELS = {'self', 'root', 'parent', 'collection', 'order', EXECUTE_REL}
ASSET_RELS = {'enclosure': ['data'], 'preview': ['thumbnail'], 'icon': ['thumbnail']}
TIME_PROPERTIES = ('datetime', 'start_datetime', 'end_datetime')


def is_stac(document: dict) -> bool:
    """Was the record stored from a STAC Item (and so keeps that item's members)?"""
    stac_props = (document.get('properties') or {}).get('stac') or {}
    return 'stac_version' in document and any(k in stac_props for k in TIME_PROPERTIES)


def _times(document: dict) -> dict:
    time = document.get('time') or {}
    if time.get('interval'):
        start, end = time['interval']
        if start in (None, '..') or end in (None, '..'):  # open: the known end only
            return {'datetime': start if start not in (None, '..') else end}
        if start == end:
            return {'datetime': start}
        # datetime: the start (what searches sort by), as STAC allows beside the range
        return {'datetime': start, 'start_datetime': start, 'end_datetime': end}
    instant = time.get('timestamp') or time.get('date')
    if instant and len(instant) == 10:
        instant += 'T00:00:00Z'
    return {'datetime': instant}


def _properties(document: dict) -> dict:
    """A non-STAC record's properties under STAC names."""
    props = dict(document.get('properties') or {})
    stac_props = props.pop('stac', None) or {}
    for name in TIME_PROPERTIES:
        props.pop(name, None)
    out: dict[str, Any] = _times(document)
    for name, value in props.items():
        stac_name = RECORD_TO_STAC.get(name)
        if stac_name is None:
            out[name] = value
        elif name == 'instrument':
            out[stac_name] = value if isinstance(value, list) else [value]
        elif name in LOWER_CASE and isinstance(value, str):
            out[stac_name] = value.lower()
        else:
            out[stac_name] = value
    out.update(stac_props)
    return out


def _assets(document: dict) -> dict:
    assets, counts = {}, {}
    for link in document.get('links') or []:
        roles = ASSET_RELS.get(link.get('rel'))
        if not roles or not link.get('href'):
            continue
        name = 'data' if roles == ['data'] else 'thumbnail'
        counts[name] = counts.get(name, 0) + 1
        key = name if counts[name] == 1 else f'{name}-{counts[name]}'
        asset = {'href': link['href'], 'roles': list(roles)}
        for member in ('type', 'title'):
            if link.get(member):
                asset[member] = link[member]
        assets[key] = asset
    return assets


def _bbox(document: dict) -> list[float] | None:
    if document.get('bbox'):
        return list(document['bbox'])
    if document.get('geometry'):
        return list(shape(document['geometry']).bounds)
    return None


def _other_links(document: dict, assets: dict) -> list[dict]:
    """The record's links that are neither structural nor one of its assets."""
    hrefs = {asset.get('href') for asset in assets.values()}
    made_assets = not is_stac(document) and not document.get('assets')
    return [link for link in document.get('links') or []
            if link.get('rel') not in STRUCTURAL_RELS
            and not (link.get('rel') in ASSET_RELS and (link.get('href') in hrefs
                                                       or made_assets))]


def to_item(document: dict, collection: str, base: str) -> dict:
    """The STAC Item of a record of `collection`; `base` is the STAC API's root URL."""
    document = demo.published(document)  # (no path of the server's disk)
    stac = is_stac(document)
    assets = dict(document.get('assets') or {}) if stac or document.get('assets') \
        else _assets(document)  # a record's own assets, else its enclosure links
    item_url = f'{base}/collections/{quote(collection, safe="")}/items/' \
               f'{quote(document["id"], safe="")}'
    collection_url = f'{base}/collections/{quote(collection, safe="")}'
    item = {
        'type': 'Feature',
        'stac_version': document.get('stac_version') if stac else STAC_VERSION,
        'stac_extensions': list(document.get('stac_extensions') or []) if stac else [],
        'id': document['id'],
        'geometry': document.get('geometry'),
        'properties': dict(document['properties']['stac']) if stac
        else _properties(document),
        'links': [
            {'rel': 'self', 'type': 'application/geo+json', 'href': item_url},
            {'rel': 'parent', 'type': 'application/json', 'href': collection_url},
            {'rel': 'collection', 'type': 'application/json', 'href': collection_url},
            {'rel': 'root', 'type': 'application/json', 'href': base},
            *_other_links(document, assets)],
        'assets': assets,
        'collection': collection,
    }
    bbox = _bbox(document)
    if bbox is not None and item['geometry'] is not None:
        item['bbox'] = bbox
    return item


def to_record(item: dict) -> dict:
    """The record stored for a STAC Item sent to the API (raises ValueError)."""
    if not isinstance(item, dict) or item.get('type') != 'Feature':
        raise ValueError('a STAC Item ("type": "Feature") is required')
    if not item.get('id'):
        raise ValueError('id: missing')
    if not isinstance(item.get('properties'), dict):
        raise ValueError('properties: an object is required')
    props = item['properties']
    if not props.get('datetime') and not (props.get('start_datetime')
                                          and props.get('end_datetime')):
        raise ValueError('properties.datetime: required (or start_datetime and '
                         'end_datetime)')
    if not isinstance(item.get('assets', {}), dict):
        raise ValueError('assets: an object is required')
    item = {**item, 'stac_version': item.get('stac_version') or STAC_VERSION,
            'links': [link for link in item.get('links') or []
                      if isinstance(link, dict) and link.get('rel') not in STRUCTURAL_RELS]}
    record = from_stac_item(item)
    record['properties'].pop('parentIdentifier', None)  # `collection` is where it is stored
    return record

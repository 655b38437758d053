"""Record documents (OGC API - Records GeoJSON) to table rows and back; STAC items to records."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timezone
from typing import Any, NamedTuple

import shapely
from shapely.geometry import shape

from .queryables import QUERYABLES

RECORD_CONFORMANCE = 'http://www.opengis.net/spec/ogcapi-records-1/1.0/req/record-core'
EXECUTE_REL = 'http://www.opengis.net/def/rel/ogc/1.0/execute'
EO_PROPERTIES = ('platform', 'instrument', 'productType', 'processingLevel', 'sensorType',
                 'cloudCover', 'orbitNumber', 'orbitDirection', 'parentIdentifier')
# STAC item property -> record property (values converted by _from_stac_value)
STAC_TO_RECORD = {q.stac: name for name, q in QUERYABLES.items()
                  if q.stac and name in EO_PROPERTIES}


# an open end ('..') of a record's interval is stored as the earliest/latest time the
# columns hold, so every temporal comparison treats it as -infinity/+infinity
OPEN_START = datetime.min
OPEN_END = datetime.max
INSTRUMENTS_MAX = 128  # the instrument column holds every instrument, '|'-joined


class RecordError(ValueError):
    """A record document that cannot be stored; the message names the member."""


def parse_time(value: Any, member: str) -> datetime | None:
    """An RFC 3339 date or date-time as naive UTC (the store's convention)."""
    if value in (None, '', '..'):
        return None
    if isinstance(value, datetime):
        parsed = value
    else:
        text = str(value).strip()
        try:
            parsed = datetime.fromisoformat(text.replace('Z', '+00:00').replace('z', '+00:00'))
        except ValueError:
            raise RecordError(f'{member}: not an RFC 3339 date-time: {text!r}') from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.strftime('%Y-%m-%dT%H:%M:%S') + (
        f'.{value.microsecond:06d}'.rstrip('0') if value.microsecond else '') + 'Z'


def _time_bounds(record: dict) -> tuple[datetime | None, datetime | None]:
    props = record.get('properties') or {}
    time = record.get('time')
    if isinstance(time, dict):
        if time.get('interval'):
            interval = time['interval']
            if not isinstance(interval, list) or len(interval) != 2:
                raise RecordError('time.interval: needs two values')
            start = parse_time(interval[0], 'time.interval')
            end = parse_time(interval[1], 'time.interval')
            if start is None and end is None:
                return None, None
            return start or OPEN_START, end or OPEN_END
        for key in ('timestamp', 'date'):
            if time.get(key):
                instant = parse_time(time[key], f'time.{key}')
                return instant, instant
    start = parse_time(props.get('start_datetime'), 'properties.start_datetime')
    end = parse_time(props.get('end_datetime'), 'properties.end_datetime')
    instant = parse_time(props.get('datetime'), 'properties.datetime')
    return start or instant, end or instant or start


def _number(value: Any, member: str, kind=float):
    if value is None or value == '':
        return None
    try:
        number = kind(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(Infinity)
        raise RecordError(f'properties.{member}: not a finite number: {value!r}') from None
    if not math.isfinite(number):
        raise RecordError(f'properties.{member}: not a finite number: {value!r}')
    return number


def values_of(value: Any) -> list[str]:
    """Every value of a (possibly multi-valued) property, as strings."""
    if value in (None, ''):
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value if v not in (None, '')]
    return [str(value)]


def _keywords(props: dict) -> list[str]:
    return values_of(props.get('keywords'))


def _external_ids(props: dict) -> list[str]:
    tokens = []
    for item in props.get('externalIds') or props.get('externalId') or []:
        if isinstance(item, dict):
            value, scheme = item.get('value'), item.get('scheme')
            if value:
                tokens.append(str(value))
                if scheme:
                    tokens.append(f'{scheme}:{value}')
        elif item:
            tokens.append(str(item))
    return tokens


def content_hash(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


GEOJSON_TYPES = ('Point', 'MultiPoint', 'LineString', 'MultiLineString', 'Polygon',
                 'MultiPolygon', 'GeometryCollection')


def _rings(geometry: dict):
    kind, coordinates = geometry.get('type'), geometry.get('coordinates')
    if kind == 'Polygon':
        yield from coordinates or []
    elif kind == 'MultiPolygon':
        for polygon in coordinates or []:
            yield from polygon or []
    elif kind == 'GeometryCollection':
        for member in geometry.get('geometries') or []:
            yield from _rings(member) if isinstance(member, dict) else ()


def _types_of(geometry: dict):
    yield geometry.get('type')
    if geometry.get('type') == 'GeometryCollection':
        for member in geometry.get('geometries') or []:
            yield from _types_of(member) if isinstance(member, dict) else [None]


def check_geometry(geometry):
    """The shapely geometry of a GeoJSON geometry as RFC 7946 defines it (case-sensitive
    type names, closed linear rings of four or more positions; a third coordinate, the
    altitude, is allowed), else RecordError. Shapely alone accepts lower-case types and
    closes open rings, which the stored GeoJSON then does not match."""
    if not isinstance(geometry, dict):
        raise RecordError('geometry: not a GeoJSON geometry object')
    for kind in _types_of(geometry):
        if kind not in GEOJSON_TYPES:
            raise RecordError(f'geometry: unknown GeoJSON type {kind!r} (RFC 7946 names '
                              'are case-sensitive: ' + ', '.join(GEOJSON_TYPES) + ')')
    try:
        for ring in _rings(geometry):
            if len(ring) < 4 or list(ring[0]) != list(ring[-1]):
                raise RecordError('geometry: a polygon ring must be closed (first and last '
                                  'positions equal) with at least 4 positions (RFC 7946 3.1.6)')
        geom = shape(geometry)
        shapely.from_geojson(json.dumps(geometry))  # as SQLite's spatial test reads it
    except RecordError:
        raise
    except Exception:
        raise RecordError('geometry: not a valid GeoJSON geometry') from None
    return geom


def normalise(record: dict, identifier: str | None = None) -> dict:
    """Check a record document and give it the members every served record has."""
    if not isinstance(record, dict):
        raise RecordError('record: a JSON object is required')
    record = json.loads(json.dumps(record, default=str))
    if identifier is not None:
        record['id'] = identifier
    if not record.get('id'):
        raise RecordError('id: missing')
    record['id'] = str(record['id'])
    record['type'] = 'Feature'
    props = record.setdefault('properties', {})
    if not isinstance(props, dict):
        raise RecordError('properties: must be an object')
    props.setdefault('type', 'dataset')
    record.setdefault('conformsTo', [RECORD_CONFORMANCE])
    record.setdefault('links', [])
    if not isinstance(record['links'], list):
        raise RecordError('links: must be an array')
    geometry = record.get('geometry')
    if geometry is not None:
        if check_geometry(geometry).is_empty:
            record['geometry'] = None
    start, end = _time_bounds(record)
    if start and end and end < start:
        raise RecordError('time: end is before start')
    if start and 'time' not in record:
        record['time'] = ({'timestamp': iso(start)} if start == end
                          else {'interval': [iso(start), iso(end)]})
    return record


class Facts(NamedTuple):
    """What a row takes from a record after parsing and checks (each path, the row path
    below and the bulk path `sql_rows`, works these out its own way)."""

    start: datetime | None
    end: datetime | None
    bounds: tuple | list          # minx, miny, maxx, maxy (None each without geometry)
    cloud_cover: float | None
    orbit_number: int | None
    created: datetime | None
    updated: datetime | None
    instruments: list[str]
    geometry: str | None          # the geometry's GeoJSON text
    content_hash: str


def search_text(identifier: str, props: dict, keywords: list[str]) -> str:
    """The lower-cased words `q` searches: id, title, description, keywords, EO values."""
    words = [identifier, props.get('title'), props.get('description'), *keywords]
    for name in EO_PROPERTIES:
        value = props.get(name)
        if isinstance(value, (list, tuple)):
            words.extend(values_of(value))
        elif value is not None:
            words.append(str(value))
    return ' '.join(str(v) for v in words if v).lower()


def columns(collection: str, record: dict, props: dict, facts: Facts) -> dict:
    """The column table: every column of a record's row and how it is computed."""
    keywords = _keywords(props)
    external = _external_ids(props)
    return {
        'collection': collection, 'identifier': record['id'],
        'type': props.get('type'), 'title': props.get('title'),
        'description': props.get('description'),
        'keywords': '|'.join(keywords) or None,
        'external_ids': ('|' + '|'.join(external) + '|') if external else None,
        'search_text': search_text(record['id'], props, keywords),
        'parent_identifier': props.get('parentIdentifier'),
        'platform': props.get('platform'), 'instrument': '|'.join(facts.instruments) or None,
        'product_type': props.get('productType'),
        'processing_level': props.get('processingLevel'),
        'sensor_type': props.get('sensorType'),
        'cloud_cover': facts.cloud_cover, 'orbit_number': facts.orbit_number,
        'orbit_direction': (str(props['orbitDirection']).upper()
                            if props.get('orbitDirection') else None),
        'time_start': facts.start, 'time_end': facts.end,
        'created': facts.created, 'updated': facts.updated,
        'minx': facts.bounds[0], 'miny': facts.bounds[1],
        'maxx': facts.bounds[2], 'maxy': facts.bounds[3],
        'geometry': facts.geometry, 'content_hash': facts.content_hash,
        'document': record,
    }


def to_row(collection: str, record: dict) -> dict:
    """Column values of a (normalised) record."""
    props = record.get('properties') or {}
    start, end = _time_bounds(record)
    geometry = record.get('geometry')
    bounds = shape(geometry).bounds if geometry else (None,) * 4
    instruments = values_of(props.get('instrument'))
    if len('|'.join(instruments)) > INSTRUMENTS_MAX:
        raise RecordError(f'properties.instrument: more than {INSTRUMENTS_MAX} characters '
                          'of instrument names')
    facts = Facts(start, end, bounds,
                  _number(props.get('cloudCover'), 'cloudCover'),
                  _number(props.get('orbitNumber'), 'orbitNumber', int),
                  parse_time(props.get('created'), 'properties.created'),
                  parse_time(props.get('updated'), 'properties.updated'),
                  instruments, json.dumps(geometry) if geometry else None,
                  content_hash(record))
    return columns(collection, record, props, facts)


def _from_stac_value(name: str, value: Any) -> Any:
    if name == 'instrument' and isinstance(value, list):  # every instrument is kept
        return value[0] if len(value) == 1 else (value or None)
    if name == 'orbitDirection' and isinstance(value, str):
        return value.upper()
    return value


def from_stac_item(item: dict, asset_href=None) -> dict:
    """A STAC item as a record: EO properties mapped, assets as enclosure links; the
    item's properties, assets, version and extensions are kept too, so that the STAC API
    serves the same item again.

    `asset_href(href) -> href` rewrites asset locations (e.g. to a public base URL); when
    it answers None the asset is dropped, and so are links that are not http(s).
    """
    props = dict(item.get('properties') or {})
    record_props: dict[str, Any] = {
        'type': 'product',
        'title': props.get('title') or item.get('id'),
    }
    if props.get('description'):
        record_props['description'] = props['description']
    for key in ('datetime', 'start_datetime', 'end_datetime', 'created', 'updated'):
        if props.get(key):
            record_props[key] = props[key]
    for stac_name, name in STAC_TO_RECORD.items():
        if props.get(stac_name) not in (None, ''):
            record_props[name] = _from_stac_value(name, props[stac_name])
    if item.get('collection') and 'parentIdentifier' not in record_props:
        record_props['parentIdentifier'] = item['collection']
    if props.get('keywords'):
        record_props['keywords'] = props['keywords']
    record_props['stac'] = props  # the item's own properties, served again as they were
    links, assets = [], {}
    for key, asset in (item.get('assets') or {}).items():
        href = asset.get('href')
        if href and asset_href:
            href = asset_href(href)
        if not href:
            continue
        assets[key] = {**asset, 'href': href}
        link = {'rel': 'enclosure' if 'thumbnail' not in (asset.get('roles') or [])
                else 'preview',
                'href': href, 'title': asset.get('title') or key}
        if asset.get('type'):
            link['type'] = asset['type']
        links.append(link)
    for link in item.get('links') or []:
        if link.get('rel') in ('license', 'cite-as', 'via', 'describedby') and not (
                asset_href and not str(link.get('href', '')).lower().startswith(
                    ('http://', 'https://'))):
            links.append(link)
    record = {'id': item['id'], 'type': 'Feature', 'geometry': item.get('geometry'),
              'properties': record_props, 'links': links}
    if item.get('bbox'):
        record['bbox'] = item['bbox']
    record.update(stac_version=item.get('stac_version') or '1.0.0',
                  stac_extensions=list(item.get('stac_extensions') or []), assets=assets)
    return normalise(record)

"""Table rows of many record documents at once, for bulk loads, harvests and ingests.

The rows are exactly those of `records.to_row(collection, records.normalise(document))`
(the row path), built by the same column table (`records.columns`), with less work per
record: the time bounds are parsed once, the bounds of
plain GeoJSON geometries are read from their coordinates instead of building a shapely
geometry twice, and documents the caller hands over (`owned`: fresh values parsed from
JSON) are not copied first. Anything outside that plain case (a geometry collection, an
unclosed ring, a value that is not a finite number, a document the row path refuses...)
takes the row path itself, which gives the same row or the same `RecordError`.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from typing import Iterable

from . import records
from .records import (INSTRUMENTS_MAX, RECORD_CONFORMANCE, content_hash, iso, parse_time,
                      values_of)

_LIMIT = 2.0 ** 53  # integers shapely turns into the same float as float() does
# coordinates are formatted once and put in place of this marker (a NUL and a secret:
# no document holds it) in the geometry column, the content hash and the document text
_MARK = '\x00' + secrets.token_hex(16)
_MARK_JSON = json.dumps(_MARK)
_SORTED = json.JSONEncoder(sort_keys=True, default=str)  # records.content_hash's encoder


def _spliced(encode, value, text: str) -> str:
    return encode(value).replace(_MARK_JSON, text, 1)


def document_text(row: dict) -> str:
    """`json.dumps(row['document'])`, with the geometry's text taken from its column."""
    document = row['document']
    geometry = document.get('geometry')
    if geometry is None or row.get('geometry') is None:
        return json.dumps(document)
    document['geometry'] = _MARK
    try:
        return _spliced(json.dumps, document, row['geometry'])
    finally:
        document['geometry'] = geometry


def _geometry_and_hash(record: dict) -> tuple[str | None, str]:
    """(`json.dumps(geometry)`, `records.content_hash(record)`), coordinates formatted once."""
    geometry = record.get('geometry')
    if not geometry:
        return None, content_hash(record)
    coordinates = geometry['coordinates']
    text = json.dumps(coordinates)
    geometry['coordinates'] = _MARK
    try:
        geometry_text = _spliced(json.dumps, geometry, text)
        hashed = _spliced(_SORTED.encode, record, text)
    finally:
        geometry['coordinates'] = coordinates
    return geometry_text, hashlib.sha256(hashed.encode()).hexdigest()


def _xy(position) -> tuple[float, float] | None:
    """(x, y) of a plain 2D position of finite numbers (no booleans, no strings)."""
    if type(position) is not list or len(position) != 2:
        return None
    x, y = position
    for value in (x, y):
        kind = type(value)
        if kind is float:
            if value != value or value in (float('inf'), float('-inf')):
                return None
        elif kind is not int or not -_LIMIT <= value <= _LIMIT:
            return None
    return float(x), float(y)


def _envelope(positions, minimum: int, closed: bool = False) -> list[float] | None:
    """[minx, miny, maxx, maxy] of a list of at least `minimum` positions."""
    if type(positions) is not list or len(positions) < minimum:
        return None
    points = [_xy(p) for p in positions]
    if None in points or (closed and points[0] != points[-1]):
        return None
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [min(xs), min(ys), max(xs), max(ys)]


def _union(boxes) -> list[float] | None:
    boxes = list(boxes)
    if not boxes or None in boxes:
        return None
    return [min(b[0] for b in boxes), min(b[1] for b in boxes),
            max(b[2] for b in boxes), max(b[3] for b in boxes)]


def _polygon(rings) -> list[float] | None:
    """A polygon's envelope is its shell's (GEOS); every ring must still be valid."""
    if type(rings) is not list or not rings:
        return None
    boxes = [_envelope(ring, 4, closed=True) for ring in rings]
    return None if None in boxes else boxes[0]


def plain_bounds(geometry) -> list[float] | None:
    """Bounds of a plain, non-empty 2D GeoJSON geometry as shapely gives them; None for
    anything else (left to shapely by the row path)."""
    if type(geometry) is not dict:
        return None
    kind, coordinates = geometry.get('type'), geometry.get('coordinates')
    if kind == 'Point':
        point = _xy(coordinates)
        return None if point is None else [point[0], point[1], point[0], point[1]]
    if kind == 'LineString':
        return _envelope(coordinates, 2)
    if kind == 'Polygon':
        return _polygon(coordinates)
    if type(coordinates) is not list or not coordinates:
        return None
    if kind == 'MultiPoint':
        return _envelope(coordinates, 1)
    if kind == 'MultiLineString':
        return _union(_envelope(line, 2) for line in coordinates)
    if kind == 'MultiPolygon':
        return _union(_polygon(polygon) for polygon in coordinates)
    return None


def _checked(record: dict):
    """What the row path would compute before changing anything, or None when the
    record is not plain (the row path then decides, and names what is wrong)."""
    if not record.get('id'):
        return None
    props = record.get('properties', {})
    if type(props) is not dict or type(record.get('links', [])) is not list:
        return None
    geometry = record.get('geometry')
    bounds = (None,) * 4 if geometry is None else plain_bounds(geometry)
    if bounds is None:
        return None
    try:
        start, end = records._time_bounds(record)
        numbers = (records._number(props.get('cloudCover'), 'cloudCover'),
                   records._number(props.get('orbitNumber'), 'orbitNumber', int))
        stamps = (parse_time(props.get('created'), 'properties.created'),
                  parse_time(props.get('updated'), 'properties.updated'))
    except Exception:  # RecordError, or what the row path raises in its own order
        return None
    if start and end and end < start:
        return None
    instruments = values_of(props.get('instrument'))
    if len('|'.join(instruments)) > INSTRUMENTS_MAX:
        return None
    return bounds, start, end, numbers, stamps, instruments


def _normalise(record: dict, start, end) -> dict:
    """`records.normalise` on a checked plain record, in place, in the same order."""
    record['id'] = str(record['id'])
    record['type'] = 'Feature'
    props = record.setdefault('properties', {})
    props.setdefault('type', 'dataset')
    record.setdefault('conformsTo', [RECORD_CONFORMANCE])
    record.setdefault('links', [])
    if start and 'time' not in record:
        record['time'] = ({'timestamp': iso(start)} if start == end
                          else {'interval': [iso(start), iso(end)]})
    return props


def _fast_row(collection: str, document, owned: bool) -> dict | None:
    if type(document) is not dict:
        return None
    record = document if owned else json.loads(json.dumps(document, default=str))
    checked = _checked(record)
    if checked is None:
        return None
    bounds, start, end, numbers, stamps, instruments = checked
    props = _normalise(record, start, end)
    geometry_text, hashed = _geometry_and_hash(record)
    return records.columns(collection, record, props, records.Facts(
        start, end, bounds, *numbers, *stamps, instruments, geometry_text, hashed))


def row(collection: str, document, owned: bool = False) -> dict:
    """The row of one document (RecordError as the row path raises it)."""
    found = _fast_row(collection, document, owned)
    if found is None:
        found = records.to_row(collection, records.normalise(document))
    return found


def rows(collection: str, documents: Iterable, owned: bool = False) -> list[dict]:
    """The rows of `documents`; `owned`: they are fresh JSON values the caller gives up
    (parsed from a file or a response), used in place instead of copied."""
    return [row(collection, document, owned) for document in documents]

"""OpenSearch answers: Atom entries (with GeoRSS, Dublin Core, EO) and GeoJSON links."""

from __future__ import annotations

import re
from urllib.parse import quote

from lxml import etree
from shapely.geometry import shape

from ..catalogue.records import values_of

NS = {
    None: 'http://a9.com/-/spec/opensearch/1.1/',
    'os': 'http://a9.com/-/spec/opensearch/1.1/',
    'param': 'http://a9.com/-/spec/opensearch/extensions/parameters/1.0/',
    'geo': 'http://a9.com/-/opensearch/extensions/geo/1.0/',
    'time': 'http://a9.com/-/opensearch/extensions/time/1.0/',
    'eo': 'http://a9.com/-/opensearch/extensions/eo/1.0/',
    'atom': 'http://www.w3.org/2005/Atom',
    'georss': 'http://www.georss.org/georss',
    'dc': 'http://purl.org/dc/elements/1.1/',
}
OSDD_TYPE = 'application/opensearchdescription+xml'
ATOM = 'application/atom+xml'
GEOJSON = 'application/geo+json'


_NOT_XML = re.compile('[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd'
                      '\U00010000-\U0010ffff]')


def _xml(value) -> str:
    """Text XML 1.0 can carry (control characters in queries or records are dropped)."""
    return _NOT_XML.sub('', str(value))


def _now() -> str:
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _geojson_links(links: list[dict]) -> dict:
    groups = {'enclosure': 'data', 'alternate': 'alternates', 'preview': 'previews',
              'search': 'search', 'order': 'order'}
    found: dict = {}
    for link in links:
        key = groups.get(link.get('rel'), 'related')
        found.setdefault(key, []).append({k: v for k, v in link.items() if k != 'rel'})
    return found


def _georss(entry, geometry: dict | None) -> None:
    """GeoRSS of a footprint: a point, a polygon per polygon part (a product split at the
    antimeridian is two polygons, never one whole-globe box), else a box per part."""
    if not geometry:
        return
    geom = shape(geometry)
    parts = list(getattr(geom, 'geoms', [geom]))
    for part in parts:
        if part.is_empty:
            continue
        if part.geom_type == 'Point':
            etree.SubElement(entry, f'{{{NS["georss"]}}}point').text = f'{part.y} {part.x}'
        elif part.geom_type == 'Polygon':
            etree.SubElement(entry, f'{{{NS["georss"]}}}polygon').text = ' '.join(
                f'{y} {x}' for x, y, *_ in part.exterior.coords)
        else:
            west, south, east, north = part.bounds
            etree.SubElement(entry, f'{{{NS["georss"]}}}box').text = \
                f'{south} {west} {north} {east}'


def atom_id(record: dict) -> str:
    """atom:id is an IRI: the record's own URL (its alternate or self link), the record id
    when it already is an absolute IRI, else a URN made of it."""
    for rel in ('self', 'alternate'):
        for link in record.get('links', []):
            if link.get('rel') == rel and str(link.get('href', '')).startswith(
                    ('http://', 'https://')):
                return link['href']
    identifier = str(record['id'])
    if re.match(r'^[A-Za-z][A-Za-z0-9+.-]*:\S+$', identifier):
        return identifier
    return f'urn:eoorder:record:{quote(identifier, safe="")}'


def _atom_entry(record: dict):
    atom = NS['atom']
    props = record.get('properties', {})
    entry = etree.Element(f'{{{atom}}}entry')
    etree.SubElement(entry, f'{{{atom}}}id').text = _xml(atom_id(record))
    etree.SubElement(entry, f'{{{atom}}}title').text = _xml(props.get('title') or record['id'])
    etree.SubElement(entry, f'{{{atom}}}updated').text = _xml(props.get('updated') or _now())
    if props.get('description'):
        etree.SubElement(entry, f'{{{atom}}}summary').text = _xml(props['description'])
    etree.SubElement(entry, f'{{{NS["dc"]}}}identifier').text = _xml(record['id'])
    time = record.get('time') or {}
    if time.get('interval') or time.get('timestamp'):
        interval = time.get('interval') or [time['timestamp'], time['timestamp']]
        etree.SubElement(entry, f'{{{NS["dc"]}}}date').text = _xml('/'.join(
            v for v in interval if v))
    for keyword in values_of(props.get('keywords')):
        etree.SubElement(entry, f'{{{atom}}}category', term=_xml(keyword))
    _georss(entry, record.get('geometry'))
    for name in ('parentIdentifier', 'platform', 'instrument', 'productType', 'processingLevel',
                 'cloudCover', 'orbitNumber', 'orbitDirection'):
        for value in values_of(props.get(name)):  # one element per value
            etree.SubElement(entry, f'{{{NS["eo"]}}}{name}').text = _xml(value)
    for link in record.get('links', []):
        attributes = {'rel': _xml(link.get('rel', 'related')),
                      'href': _xml(link.get('href', ''))}
        for key in ('type', 'title'):
            if link.get(key):
                attributes[key] = _xml(link[key])
        etree.SubElement(entry, f'{{{atom}}}link', **attributes)
    return entry

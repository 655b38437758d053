"""Harvest sources: each yields batches of record documents and a cursor to resume after.

A cursor is a string the source understands (an item count or a page start); it is stored
after every batch, so an interrupted harvest resumes where it stopped.
"""

from __future__ import annotations

import pathlib
from typing import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pystac
import requests
from shapely.geometry import box, mapping

from ... import egress, xmlsafe
from ...egress import EgressPolicy, EgressRefused
from ..records import from_stac_item, normalise, values_of

Batch = tuple[list[dict], str]  # (records, cursor after them)


class HarvestError(Exception):
    """A source that cannot be harvested; the message says why and what to do."""


def _get(url: str, timeout: float, policy: EgressPolicy, **params) -> requests.Response:
    try:
        reply = egress.get(url, policy=policy, params=params or None, timeout=timeout)
    except EgressRefused as err:
        raise HarvestError(f'{url}: refused: {err}') from None
    except requests.Timeout:
        raise HarvestError(f'{url}: no answer within {timeout:g} s') from None
    except requests.RequestException as err:
        raise HarvestError(f'{url}: cannot connect ({type(err).__name__})') from None
    if reply.status_code != 200:
        raise HarvestError(f'{url}: HTTP {reply.status_code}')
    return reply


class Source:
    kind = 'source'
    total: int | None = None

    def batches(self, cursor: str | None) -> Iterator[Batch]:
        raise NotImplementedError


class StacApiSource(Source):
    """A STAC API item search (pystac-client), optionally restricted to some collections."""

    kind = 'stac-api'

    def __init__(self, url: str, collections: list[str] | None, page_size: int,
                 timeout: float, policy: EgressPolicy):
        from pystac_client import Client

        from ..stac_io import EgressStacApiIO
        try:
            self.client = Client.open(url, stac_io=EgressStacApiIO(policy, timeout=timeout))
        except EgressRefused as err:
            raise HarvestError(f'{url}: refused: {err}') from None
        except Exception as err:  # noqa: BLE001 - pystac-client wraps many kinds
            raise HarvestError(f'{url}: not a usable STAC API ({str(err)[:120]})') from None
        self.collections = list(collections) or None
        self.page_size = page_size
        search = self.client.search(collections=self.collections, limit=1, max_items=1)
        try:
            self.total = search.matched()
        except Exception:  # noqa: BLE001 - counts are optional
            self.total = None

    def batches(self, cursor):
        done = int(cursor or 0)
        from pystac_client.conformance import ConformanceClasses
        order = ({'sortby': [{'field': 'id', 'direction': 'asc'}]}
                 if self.client.conforms_to(ConformanceClasses.SORT) else {})
        search = self.client.search(collections=self.collections, limit=self.page_size,
                                    **order)  # otherwise the server's own, stable order
        seen, batch = 0, []
        for item in search.items_as_dicts():
            seen += 1
            if seen <= done:
                continue
            batch.append(from_stac_item(item))
            if len(batch) >= self.page_size:
                yield batch, str(seen)
                batch = []
        if batch:
            yield batch, str(seen)


class StaticStacSource(Source):
    """A static STAC catalog or collection (local path or URL), walked recursively."""

    kind = 'stac-static'

    def __init__(self, location: str, page_size: int, policy: EgressPolicy,
                 timeout: float = 30):
        from ..stac_io import EgressStacIO
        path = pathlib.Path(location)
        if path.is_dir():
            location = str(path / 'catalog.json')
        local = not urlsplit(location).scheme
        stac_io = EgressStacIO(policy, timeout, pathlib.Path(location).parent if local else None)
        try:
            self.root = pystac.read_file(location, stac_io=stac_io)
        except EgressRefused as err:
            raise HarvestError(f'{location}: refused: {err}') from None
        except Exception as err:  # noqa: BLE001 - pystac raises many kinds
            raise HarvestError(f'{location}: not a readable STAC catalog ({str(err)[:120]})') \
                from None
        if not isinstance(self.root, pystac.Catalog):
            raise HarvestError(f'{location}: not a STAC catalog or collection')
        self.page_size = page_size

    def batches(self, cursor):
        done = int(cursor or 0)
        seen, batch = 0, []
        try:
            for item in self.root.get_items(recursive=True):
                seen += 1
                if seen <= done:
                    continue
                batch.append(from_stac_item(item.to_dict(transform_hrefs=True)))
                if len(batch) >= self.page_size:
                    yield batch, str(seen)
                    batch = []
        except EgressRefused as err:
            raise HarvestError(f'a link of the catalog was refused: {err}') from None
        if batch:
            yield batch, str(seen)


class StacItemSource(Source):
    """One bare STAC Item (a URL serving its JSON): one record, its asset hrefs made
    absolute against the item's own URL."""

    kind = 'stac-item'
    total = 1

    def __init__(self, location: str, document: dict):
        try:
            item = pystac.Item.from_dict(document, href=location, preserve_dict=False)
            item.set_self_href(location)
            item.make_asset_hrefs_absolute()
            self.record = from_stac_item(item.to_dict(transform_hrefs=False))
        except Exception as err:  # noqa: BLE001 - pystac raises many kinds
            raise HarvestError(f'{location}: not a readable STAC Item ({str(err)[:120]})') \
                from None

    def batches(self, cursor):
        if not cursor:
            yield [self.record], '1'


class RecordsSource(Source):
    """An OGC API - Records collection's items, paged with limit/offset."""

    kind = 'records'

    def __init__(self, url: str, page_size: int, timeout: float, policy: EgressPolicy):
        self.url = url.rstrip('/')
        self.policy = policy
        if not self.url.endswith('/items'):
            self.url += '/items'
        self.page_size, self.timeout = page_size, timeout
        first = _get(self.url, timeout, policy, limit=1, f='json').json()
        if not isinstance(first, dict) or 'features' not in first:
            raise HarvestError(f'{self.url}: not an OGC API - Records items endpoint')
        self.total = first.get('numberMatched')

    def batches(self, cursor):
        offset = int(cursor or 0)
        while True:
            body = _get(self.url, self.timeout, self.policy, limit=self.page_size,
                        offset=offset, f='json').json()
            features = body.get('features') or []
            if not features:
                return
            offset += len(features)
            yield [_strip_served_links(f) for f in features], str(offset)
            if len(features) < self.page_size:
                return


def _strip_served_links(record: dict) -> dict:
    record = dict(record)
    record['links'] = [link for link in record.get('links', [])
                       if link.get('rel') not in ('self', 'collection', 'root', 'order')
                       and not str(link.get('rel', '')).endswith('/execute')]
    return record


# -- OpenSearch ---------------------------------------------------------------------------------
OS = 'http://a9.com/-/spec/opensearch/1.1/'
ATOM = 'http://www.w3.org/2005/Atom'
GEORSS = 'http://www.georss.org/georss'
DC = 'http://purl.org/dc/elements/1.1/'
EO = 'http://a9.com/-/opensearch/extensions/eo/1.0/'
_EO_NUMBERS = {'cloudCover': float, 'orbitNumber': int}


class OpenSearchSource(Source):
    """An OpenSearch (EO) endpoint, from its description document; results read as Atom."""

    kind = 'opensearch'

    def __init__(self, osdd_url: str, page_size: int, timeout: float, policy: EgressPolicy,
                 osdd: bytes | None = None):
        self.page_size, self.timeout, self.policy = page_size, timeout, policy
        try:
            root = xmlsafe.parse(osdd or _get(osdd_url, timeout, policy).content)
        except xmlsafe.UnsafeXML as err:
            raise HarvestError(f'{osdd_url}: not an OpenSearch description document '
                               f'({err})') from None
        url = root.find(f'{{{OS}}}Url[@type="application/atom+xml"]')
        if url is None:
            raise HarvestError(f'{osdd_url}: the description has no Atom results template')
        self.template = url.get('template')
        self.index_offset = int(url.get('indexOffset', '1'))
        first = self._page(self.index_offset, 1)
        total = first.findtext(f'{{{OS}}}totalResults')
        self.total = int(total) if total and total.isdigit() else None

    def _url(self, start_index: int, count: int) -> str:
        import re
        values = {'count': str(count), 'startIndex': str(start_index)}

        def fill(match):
            name = match.group(1).rstrip('?')
            local = name.split(':')[-1]
            return values.get(local, '')
        url = re.sub(r'\{([^}]+)\}', fill, self.template)
        parts = urlsplit(url)  # drop the parameters left empty
        query = urlencode([(k, v) for k, v in parse_qsl(parts.query) if v])
        return urlunsplit(parts._replace(query=query))

    def _page(self, start_index: int, count: int):
        reply = _get(self._url(start_index, count), self.timeout, self.policy)
        try:
            return xmlsafe.parse(reply.content)
        except xmlsafe.UnsafeXML as err:
            raise HarvestError(f'{self.template}: results are not Atom XML ({err})') from None

    def batches(self, cursor):
        index = int(cursor or self.index_offset)
        while True:
            feed = self._page(index, self.page_size)
            entries = feed.findall(f'{{{ATOM}}}entry')
            if not entries:
                return
            index += len(entries)
            yield [atom_entry_to_record(e) for e in entries], str(index)
            if len(entries) < self.page_size:
                return


def _georss_geometry(entry) -> dict | None:
    polygons = []
    for polygon in entry.findall(f'{{{GEORSS}}}polygon'):
        numbers = [float(v) for v in (polygon.text or '').split()]
        polygons.append([[[numbers[i + 1], numbers[i]]
                          for i in range(0, len(numbers) - 1, 2)]])
    if len(polygons) > 1:  # e.g. a footprint split at the antimeridian
        return {'type': 'MultiPolygon', 'coordinates': polygons}
    if polygons:
        return {'type': 'Polygon', 'coordinates': polygons[0]}
    point = entry.findtext(f'{{{GEORSS}}}point')
    if point:
        lat, lon = (float(v) for v in point.split())
        return {'type': 'Point', 'coordinates': [lon, lat]}
    bounds = entry.findtext(f'{{{GEORSS}}}box')
    if bounds:
        south, west, north, east = (float(v) for v in bounds.split())
        return mapping(box(west, south, east, north))
    return None


def atom_entry_to_record(entry) -> dict:
    identifier = entry.findtext(f'{{{DC}}}identifier') or entry.findtext(f'{{{ATOM}}}id')
    props: dict = {'type': 'product', 'title': entry.findtext(f'{{{ATOM}}}title')}
    summary = entry.findtext(f'{{{ATOM}}}summary')
    if summary:
        props['description'] = summary
    updated = entry.findtext(f'{{{ATOM}}}updated')
    if updated:
        props['updated'] = updated
    for child in entry:
        if isinstance(child.tag, str) and child.tag.startswith(f'{{{EO}}}') and child.text:
            name = child.tag.split('}')[1]
            value = _EO_NUMBERS.get(name, str)(child.text)
            if name in props:  # a repeated element: every value is kept
                props[name] = [*values_of(props[name]), value]
            else:
                props[name] = value
    keywords = [c.get('term') for c in entry.findall(f'{{{ATOM}}}category') if c.get('term')]
    if keywords:
        props['keywords'] = keywords
    record = {'id': identifier, 'type': 'Feature', 'geometry': _georss_geometry(entry),
              'properties': props, 'links': []}
    date = entry.findtext(f'{{{DC}}}date')
    if date:
        start, _, end = date.partition('/')
        record['time'] = ({'interval': [start, end]} if end and end != start
                          else {'timestamp': start})
    for link in entry.findall(f'{{{ATOM}}}link'):
        rel = link.get('rel', 'alternate')
        if rel in ('alternate', 'self', 'order') or rel.endswith('/execute'):
            continue
        record['links'].append({k: v for k, v in (('rel', rel), ('href', link.get('href')),
                                                  ('type', link.get('type')),
                                                  ('title', link.get('title'))) if v})
    return normalise(record)


def detect(source: str, kind: str, collections: list[str], page_size: int,
           timeout: float, policy: EgressPolicy | None = None) -> Source:
    """The Source for SOURCE (kind `auto` looks at what the location serves); every
    request, page and link goes through the egress `policy` (strict if none)."""
    policy = policy or EgressPolicy()
    if kind == 'stac-static' or (kind == 'auto' and pathlib.Path(source).exists()):
        return StaticStacSource(source, page_size, policy, timeout)
    if kind == 'stac-api':
        return StacApiSource(source, collections, page_size, timeout, policy)
    if kind == 'opensearch':
        return OpenSearchSource(source, page_size, timeout, policy)
    if kind == 'records':
        return RecordsSource(source, page_size, timeout, policy)
    if not source.startswith(('http://', 'https://')):
        raise HarvestError(f'{source}: no such file, and not an http(s) URL')
    reply = _get(source, timeout, policy)
    if reply.content.lstrip()[:1] == b'<':
        return OpenSearchSource(source, page_size, timeout, policy, osdd=reply.content)
    try:
        body = reply.json()
    except ValueError:
        raise HarvestError(f'{source}: neither JSON nor an OpenSearch description') from None
    conforms = ' '.join(body.get('conformsTo') or []) if isinstance(body, dict) else ''
    if 'item-search' in conforms:
        return StacApiSource(source, collections, page_size, timeout, policy)
    if isinstance(body, dict) and body.get('stac_version') and body.get('type') in (
            'Catalog', 'Collection'):
        return StaticStacSource(source, page_size, policy, timeout)
    if isinstance(body, dict) and body.get('stac_version') and body.get('type') == 'Feature':
        return StacItemSource(source, body)
    if isinstance(body, dict) and (body.get('itemType') == 'record'
                                   or body.get('type') == 'FeatureCollection'):
        return RecordsSource(source, page_size, timeout, policy)
    raise HarvestError(f'{source}: cannot tell what kind of source this is; '
                       'give --type stac-api, stac-static, opensearch or records')


__all__ = ['HarvestError', 'Source', 'detect']

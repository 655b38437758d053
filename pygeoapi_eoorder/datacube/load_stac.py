"""`load_stac`: the items of a STAC Item, ItemCollection, Collection or Catalog (static, or
a STAC API collection's items) at a URL, in the extents and meeting the property
conditions, loaded like `load_collection` (odc-stac).

Every document and asset is read through the job's stage-in rules (http(s) under the
egress policy, s3:// of configured sources and of the owner's workspaces, this server's
workspace file URLs). This server's own openEO batch job results
(`<base>/openeo/1.2/jobs/<id>/results`) are read from the job's results as its owner may
read them through the API (`own_results`): another user's job does not exist.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode, urljoin

from . import netcdf_load
from .errors import GraphError, no_data

PROCESS = 'load_stac'
MAX_ITEMS = 500


def load_stac(env, url, spatial_extent=None, temporal_extent=None, bands=None,
              properties=None, **_):
    """The openEO process: the matching items at `url` as a cube."""
    from .load import (_interval, band_assets, by_date, cube, ends, extent_box, prepared,
                       within_shape)
    from .properties import matcher
    url = str(getattr(url, 'root', url))
    (box, shape), (start, end) = extent_box(spatial_extent, PROCESS), \
        ends(temporal_extent, PROCESS)
    if isinstance(properties, str):  # set aside before parsing (`properties.set_aside`)
        properties = env.conditions.get(properties, properties)
    meets = matcher(properties, PROCESS)
    own = env.own_results(url)
    found = own if own is not None else _read(env, url, box, _interval(temporal_extent))
    timed = [(span, part) for item in found for part in by_date(item)
             if (span := _span(part)) is not None]
    # (a netCDF file's own times are cut later: its item's may be when it was written)
    chosen = [item for span, item in sorted(timed, key=lambda pair: pair[0][0])
              if _overlaps(item, box) and (meets is None or meets(item))
              and (band_assets(item, unnamed=True) and _during(span, start, end)
                   or not band_assets(item, unnamed=True) and netcdf_load.assets(item))]
    if not chosen:
        raise no_data(f'load_stac: no data at {url} for this extent')
    env.log.info('load_stac %s: %d items', url, len(chosen))
    what = f'load_stac: {url}'
    if netcdf_load.only_netcdf(chosen, lambda item: band_assets(item, unnamed=True), what):
        return within_shape(netcdf_load.cube(env, chosen, bands, box, (start, end), what,
                                             local=own is not None), shape, what)
    loaded = [prepared(env, item, index, local=own is not None, theirs=True,
                       wanted=bands)
              for index, item in enumerate(chosen)]
    return within_shape(cube(env, loaded, bands, box, what), shape, what)


def _span(item: dict) -> tuple | None:
    """The first and last instants of an item's time as UTC datetimes (its datetime
    twice, else its start and end; an end missing or unreadable: the start twice); None:
    it has no readable time (it is not loaded)."""
    from .times import instant
    found = item.get('properties') or {}
    first = found.get('datetime') or found.get('start_datetime')
    last = None if found.get('datetime') else found.get('end_datetime')
    try:
        first = instant(first, 'datetime') if first else None
    except GraphError:
        return None
    try:
        return None if first is None else (first, instant(last, 'end_datetime') if last
                                           else first)
    except GraphError:
        return first, first


def _overlaps(item: dict, box) -> bool:
    if box is None:
        return True
    from shapely.geometry import box as rectangle, shape
    geometry, bbox = item.get('geometry'), item.get('bbox')
    try:
        if geometry:
            found = shape(geometry)
        elif bbox:  # 2D [w, s, e, n] or 3D [w, s, low, e, n, high]
            found = rectangle(*bbox[:2], *bbox[2:4]) if len(bbox) == 4 else \
                rectangle(bbox[0], bbox[1], bbox[3], bbox[4])
        else:
            found = None
    except (TypeError, ValueError, AttributeError, IndexError):
        return False
    return found is None or found.intersects(rectangle(*box))


def _during(span: tuple, start, end) -> bool:
    """Does an item's time (`_span`) meet [start, end)?"""
    first, last = span
    return (start is None or last >= start) and (end is None or first < end)


def _read(env, url: str, box, interval: str | None) -> list[dict]:
    """The items at `url` (at most MAX_ITEMS), asset hrefs absolute, read through the
    stager; a document that cannot be read fails the graph with the stage-in's reason."""
    from ..execution.errors import ExecutionError
    from ..execution.stac_stage import StagerStacIO
    stac_io = StagerStacIO(env.stager, env.inputs_dir / PROCESS, PROCESS)
    try:
        return _items_at(stac_io, url, box, interval)
    except ExecutionError as err:  # (InputRefused too): the URL is the caller's
        raise GraphError(err.user_msg, 'ProcessParameterInvalid') from None


def _document(stac_io, url: str) -> dict:
    from ..execution.errors import ExecutionError
    try:
        found = json.loads(stac_io.read_text_from_href(url))
    except (ValueError, UnicodeDecodeError):
        found = None
    if not isinstance(found, dict):
        raise ExecutionError(f'input {PROCESS}: {url} is no STAC document (not a JSON '
                             'object)')
    return found


def _items_at(stac_io, url: str, box, interval: str | None) -> list[dict]:
    from ..execution.errors import ExecutionError
    from ..execution.stac_stage import read_items
    document = _document(stac_io, url)
    kind = document.get('type')
    if kind == 'FeatureCollection':
        return _pages(stac_io, url, document)
    links = [link for link in document.get('links') or [] if isinstance(link, dict)]
    if kind == 'Collection' and not any(link.get('rel') in ('item', 'child')
                                        for link in links):
        search = next((link.get('href') for link in links if link.get('rel') == 'items'
                       and link.get('href')), None)
        if search:  # a STAC API collection: its items, narrowed by the server first
            page = _narrowed(urljoin(url, search), box, interval)
            return _pages(stac_io, page, _document(stac_io, page))
    if kind not in ('Feature', 'Collection', 'Catalog'):
        raise ExecutionError(f'input {PROCESS}: {url} is no STAC Item, ItemCollection, '
                             'Collection or Catalog')
    items = read_items(url, document, PROCESS, stac_io, limit=MAX_ITEMS)
    for item in items:
        item.make_asset_hrefs_absolute()
    return [item.to_dict(include_self_link=False, transform_hrefs=False) for item in items]


def _narrowed(url: str, box, interval: str | None) -> str:
    """A STAC API items URL asking for the extents (the server may narrow the pages);
    `interval`: the catalogue's, inclusive, as the API's `datetime`."""
    query = {'limit': min(MAX_ITEMS, 100)}
    if box is not None:
        query['bbox'] = ','.join(str(v) for v in box)
    if interval is not None:
        query['datetime'] = interval
    return f'{url}{"&" if "?" in url else "?"}{urlencode(query)}'


def _pages(stac_io, url: str, page: dict) -> list[dict]:
    """The features of an ItemCollection and of the pages after it (`next` links, GET),
    at most MAX_ITEMS, asset hrefs resolved against their page."""
    items, seen = [], {url}
    while True:
        for feature in page.get('features') or []:
            if isinstance(feature, dict) and len(items) < MAX_ITEMS:
                items.append(_absolute(feature, url))
        following = next((link.get('href') for link in page.get('links') or []
                          if isinstance(link, dict) and link.get('rel') == 'next'
                          and link.get('href') and link.get('method', 'GET') == 'GET'), None)
        if len(items) >= MAX_ITEMS or not following or urljoin(url, following) in seen:
            return items
        url = urljoin(url, following)
        seen.add(url)
        page = _document(stac_io, url)


def _absolute(item: dict, url: str) -> dict:
    """The item with its asset hrefs absolute (relative to its self link, else `url`)."""
    base = next((link.get('href') for link in item.get('links') or []
                 if isinstance(link, dict) and link.get('rel') == 'self'
                 and link.get('href')), url)
    assets = {key: {**asset, 'href': urljoin(urljoin(url, base), str(asset['href']))}
              for key, asset in (item.get('assets') or {}).items()
              if isinstance(asset, dict) and asset.get('href')}
    return {**item, 'assets': assets}

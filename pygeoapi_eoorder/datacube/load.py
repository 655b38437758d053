"""`load_collection`: a collection's records with band assets (in the extents, meeting the
property conditions), staged in and loaded with odc-stac into an openEO raster cube
(dimensions bands, t, y, x)."""

from __future__ import annotations

from pathlib import Path

from ..execution.paths import safe_name
from .collections import record_bands
from .errors import collection_not_found, no_data, GraphError

MAX_ITEMS = 500


def _box(extent) -> list[float] | None:
    """A spatial extent (pg-parser BoundingBox or dict) as lon/lat [w, s, e, n]."""
    if extent is None:
        return None
    get = (lambda k: extent.get(k)) if isinstance(extent, dict) else \
        (lambda k: getattr(extent, k, None))
    box = [float(get('west')), float(get('south')), float(get('east')), float(get('north'))]
    crs = get('crs')
    if crs not in (None, 4326, '4326', 'EPSG:4326') and 'WGS 84' not in str(crs):
        from pyproj import Transformer
        to_lonlat = Transformer.from_crs(crs, 4326, always_xy=True)
        (box[0], box[2]), (box[1], box[3]) = to_lonlat.transform(box[0::2], box[1::2])
    return box


def _instant(value, name: str):
    """An end of a temporal extent as an aware UTC datetime (a date: its midnight)."""
    from datetime import datetime, timezone
    text = str(value).strip().replace('Z', '+00:00').replace('z', '+00:00')
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise GraphError(f'load_collection: temporal_extent {name} {value!r} is not an '
                         'RFC 3339 date or date-time') from None
    return found.replace(tzinfo=timezone.utc) if found.tzinfo is None else \
        found.astimezone(timezone.utc)


def _interval(extent) -> str | None:
    """A temporal extent as a catalogue interval; openEO's end is exclusive, the
    catalogue's inclusive: the end moves back by one microsecond."""
    from datetime import timedelta
    if not extent:
        return None
    ends = [getattr(end, 'root', end) for end in extent]
    start = None if ends[0] is None else _instant(ends[0], 'start')
    end = None if ends[1] is None else _instant(ends[1], 'end')
    if start is not None and end is not None and end <= start:
        raise GraphError('load_collection: the temporal extent is empty (its end is '
                         'exclusive and must be later than its start)', 'TemporalExtentEmpty')
    text = [None if t is None else t.isoformat().replace('+00:00', 'Z') for t in (
        start, None if end is None else end - timedelta(microseconds=1))]
    return f'{text[0] or ".."}/{text[1] or ".."}'


def _records(env, collection_id: str, box, interval, properties=None) -> list[dict]:
    """The collection's records in the extents whose properties meet the conditions,
    oldest first (only those with band assets)."""
    from ..catalogue import query
    from ..catalogue.search import CollectionsSearch
    from .properties import query as property_query
    collection = env.collection(collection_id)
    if collection is None:
        raise collection_not_found(collection_id)
    try:
        node = query.combine([query.build(bbox=box, datetime_=interval),
                              property_query(properties)])
        found = CollectionsSearch(collection.store_url, [collection_id]).search(
            node, sortby=[{'property': 'datetime', 'order': '+'}], limit=MAX_ITEMS)
    except query.QueryError as err:
        raise GraphError(f'load_collection: {err}') from None
    return [document for _, document in found.rows if record_bands(document)]


def _stac_item(env, document: dict, index: int):
    """A pystac Item of a record, its band assets staged into the run's input area."""
    import pystac
    from shapely.geometry import shape
    interval = (document.get('time') or {}).get('interval') or \
        [(document.get('time') or {}).get('timestamp')]
    assets = {}
    for key, asset in (document.get('assets') or {}).items():
        bands = asset.get('bands') or asset.get('eo:bands')
        if not bands:
            continue
        name = safe_name(f'{index}_{key}', 'asset')
        local = env.stage(asset['href'], name)
        assets[key] = {**asset, 'href': str(local), 'eo:bands': bands, 'bands': [
            {'name': b.get('name')} for b in bands]}
        if not has_grid(asset):  # (a record without projection metadata: the file's)
            assets[key].update(grid_of(local))
    geometry = document.get('geometry')
    return pystac.Item.from_dict({
        'type': 'Feature', 'stac_version': '1.1.0', 'id': document['id'],
        'geometry': geometry, 'bbox': list(shape(geometry).bounds) if geometry else None,
        'properties': {'datetime': interval[0]}, 'assets': assets, 'links': [],
        'stac_extensions': ['https://stac-extensions.github.io/projection/v1.1.0/schema.json',
                            'https://stac-extensions.github.io/eo/v1.1.0/schema.json']})


def has_grid(asset: dict) -> bool:
    """Does the asset say its pixel grid (what odc-stac needs to place its pixels)?"""
    return 'proj:shape' in asset and 'proj:transform' in asset and any(
        key in asset for key in ('proj:epsg', 'proj:code', 'proj:wkt2', 'proj:projjson'))


def grid_of(path) -> dict:
    """The projection fields (projection extension 1.1) of a raster file's grid."""
    import rasterio
    from rasterio.errors import RasterioError
    try:
        with rasterio.open(path) as dataset:
            crs, transform, shape = dataset.crs, dataset.transform, dataset.shape
    except RasterioError as err:
        raise GraphError(f'load_collection: {Path(path).name} is no raster this back-end '
                         f'reads ({err})') from None
    epsg = crs.to_epsg() if crs is not None else None
    fields = {'proj:shape': list(shape), 'proj:transform': list(transform)[:6]}
    if epsg is not None:
        return {**fields, 'proj:epsg': epsg}
    return {**fields, 'proj:wkt2': crs.to_wkt()} if crs is not None else fields


def load_collection(env, id, spatial_extent=None, temporal_extent=None, bands=None,
                    properties=None, **_):
    """The openEO process: the collection's matching records as a cube."""
    import odc.stac
    box, interval = _box(spatial_extent), _interval(temporal_extent)
    if isinstance(properties, str):  # set aside before parsing (`properties.set_aside`)
        properties = env.conditions.get(properties, properties)
    documents = _records(env, str(id), box, interval, properties)
    if not documents:
        raise no_data(f'load_collection: no data in {id!r} for this extent')
    env.log.info('load_collection %s: %d records', id, len(documents))
    items = [_stac_item(env, document, index) for index, document in enumerate(documents)]
    wanted = list(bands) if bands else None
    try:
        loaded = odc.stac.load(items, bands=wanted, bbox=box, groupby='solar_day',
                               chunks={})
    except (KeyError, ValueError) as err:
        raise GraphError(f'load_collection: {id!r} cannot give these bands or this extent '
                         f'({err})') from None
    cube = loaded.to_array(dim='bands')
    env.loaded_bytes += int(cube.nbytes)  # (from its shape: nothing is read yet)
    names = {'time': 't', 'latitude': 'y', 'longitude': 'x'}
    return cube.rename({k: v for k, v in names.items() if k in cube.dims})

"""`load_collection`: a collection's records with band assets (in the extents, meeting the
property conditions), staged in and loaded with odc-stac into an openEO raster cube
(dimensions bands, t, y, x)."""

from __future__ import annotations

from pathlib import Path

from ..execution.paths import safe_name
from .collections import record_bands
from . import extent_shapes, netcdf_load
from .errors import collection_not_found, no_data, GraphError
from .times import instant

MAX_ITEMS = 500


def lonlat_box(extent, process: str = 'load_collection') -> list[float] | None:
    """A spatial extent (pg-parser BoundingBox or dict) as lon/lat [w, s, e, n]."""
    return extent_box(extent, process)[0]


def extent_box(extent, process: str = 'load_collection') -> tuple[list[float] | None, object]:
    """A spatial extent as lon/lat [w, s, e, n] and, if it is GeoJSON, its polygons (a
    shapely geometry, see `extent_shapes`; else None)."""
    if extent is None:
        return None, None
    shape = extent_shapes.shape_of(extent, process)
    if shape is not None:
        return extent_shapes.bounds(shape), shape
    get = (lambda k: extent.get(k)) if isinstance(extent, dict) else \
        (lambda k: getattr(extent, k, None))
    try:
        box = [float(get(side)) for side in ('west', 'south', 'east', 'north')]
    except (TypeError, ValueError):
        raise GraphError(f'{process}: spatial_extent must be a bounding box of numbers west, '
                         'south, east and north, or GeoJSON polygons',
                         'ProcessParameterInvalid') from None
    crs = get('crs')
    if crs not in (None, 4326, '4326', 'EPSG:4326') and 'WGS 84' not in str(crs):
        from pyproj import Transformer
        to_lonlat = Transformer.from_crs(crs, 4326, always_xy=True)
        (box[0], box[2]), (box[1], box[3]) = to_lonlat.transform(box[0::2], box[1::2])
    return box, None


def ends(extent, process: str = 'load_collection') -> tuple:
    """A temporal extent's start and (exclusive) end as UTC datetimes, None where open;
    (None, None) for no extent."""
    if not extent:
        return None, None
    given = [getattr(end, 'root', end) for end in extent]
    start, end = (None if value is None else instant(value, f'{process}: temporal_extent '
                                                     f'{name}')
                  for value, name in zip(given, ('start', 'end')))
    if start is not None and end is not None and end <= start:
        raise GraphError(f'{process}: the temporal extent is empty (its end is exclusive '
                         'and must be later than its start)', 'TemporalExtentEmpty')
    return start, end


def _interval(extent) -> str | None:
    """A temporal extent as a catalogue interval; openEO's end is exclusive, the
    catalogue's inclusive: the end moves back by one microsecond."""
    from datetime import timedelta
    if not extent:
        return None
    start, end = ends(extent)
    text = [None if t is None else t.isoformat().replace('+00:00', 'Z') for t in (
        start, None if end is None else end - timedelta(microseconds=1))]
    return f'{text[0] or ".."}/{text[1] or ".."}'


def _records(env, collection_id: str, box, interval, properties=None) -> list[dict]:
    """The collection's records in the extents whose properties meet the conditions,
    oldest first (only those with band assets or netCDF data assets)."""
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
    return [document for _, document in found.rows
            if record_bands(document) or netcdf_load.assets(document)]


def _record_item(document: dict) -> dict:
    """A catalogue record as a STAC item (what `prepared` reads of it)."""
    interval = (document.get('time') or {}).get('interval') or \
        [(document.get('time') or {}).get('timestamp')]
    return {'id': document['id'], 'geometry': document.get('geometry'),
            'properties': {'datetime': interval[0]}, 'assets': document.get('assets') or {}}


def by_date(item: dict) -> list[dict]:
    """An item whose assets each hold one date (their own `datetime`, as a time series a
    job wrote one file per date) as one item per date with those assets, keyed alike in
    every date (`data`, `data_1`, ... in the order of their keys: the keys of such files
    differ by date, and odc-stac finds a band in the asset of the same key); else the
    item."""
    dated: dict[str, dict] = {}
    for key, asset in (item.get('assets') or {}).items():
        if isinstance(asset, dict) and isinstance(asset.get('datetime'), str):
            dated.setdefault(asset['datetime'], {})[key] = asset
    if len(dated) < 2:
        return [item]
    properties = {k: v for k, v in (item.get('properties') or {}).items()
                  if k not in ('start_datetime', 'end_datetime')}
    return [{**item, 'id': f'{item.get("id")}/{when}', 'assets': {
                 f'data_{index}' if index else 'data': assets[key]
                 for index, key in enumerate(sorted(assets))},
             'properties': {**properties, 'datetime': when}}
            for when, assets in sorted(dated.items())]


def band_assets(item: dict, unnamed: bool = False) -> dict[str, list[dict]]:
    """An item's raster assets and their bands (STAC 1.1 `bands` or `eo:bands`; with
    `unnamed`, a GeoTIFF data asset that names none too: one band, named after it); not
    its netCDF assets (their bands are variables, see `netcdf_load`)."""
    found = {}
    for key, asset in netcdf_load.without_netcdf(item).get('assets', {}).items():
        if not isinstance(asset, dict) or not asset.get('href'):
            continue
        bands = asset.get('bands') or asset.get('eo:bands')
        if not bands and unnamed and str(asset.get('type', '')).startswith('image/tiff') and \
                'data' in (asset.get('roles') or ['data']):
            bands = [{'name': key}]
        if bands:
            found[key] = [b if isinstance(b, dict) else {} for b in bands]
    return found


def prepared(env, item: dict, index: int, local: bool = False, theirs: bool = False,
             wanted=None):
    """A pystac Item odc-stac loads: the item's raster assets staged in (`RunEnv.stage`;
    `local`: read where they are, this server's own files), each with its bands and its
    pixel grid (the file's where the item gives none); with `wanted` (the graph's band
    names), only the assets holding one of them. `theirs`: an item of a STAC source the
    caller named (`load_stac`), not of the catalogue: a GeoTIFF naming no bands is one
    band (`band_assets`), an asset that cannot be read the caller's fault."""
    import pystac
    from shapely.geometry import shape
    assets = {}
    for key, bands in needed(band_assets(item, unnamed=theirs), wanted).items():
        asset = item['assets'][key]
        path = asset['href'] if local else env.stage(
            asset['href'], safe_name(f'{index}_{key}', 'asset'), theirs)
        assets[key] = {**asset, 'href': str(path), 'eo:bands': bands, 'bands': [
            {'name': b.get('name') or key} for b in bands]}
        if not has_grid(asset):  # (a record without projection metadata: the file's)
            assets[key].update(grid_of(path))
    geometry, properties = item.get('geometry'), item.get('properties') or {}
    moment = properties.get('datetime') or properties.get('start_datetime')
    return pystac.Item.from_dict({
        'type': 'Feature', 'stac_version': '1.1.0', 'id': str(item.get('id') or index),
        'geometry': geometry, 'bbox': list(shape(geometry).bounds) if geometry else None,
        'properties': {'datetime': moment}, 'assets': assets, 'links': [],
        'stac_extensions': ['https://stac-extensions.github.io/projection/v1.1.0/schema.json',
                            'https://stac-extensions.github.io/eo/v1.1.0/schema.json']})


def needed(assets: dict[str, list[dict]], wanted) -> dict[str, list[dict]]:
    """The band assets (key: bands) holding one of the `wanted` band names (as odc-stac
    names bands: an asset's key, `<key>.<n>`, a band's name or common name); all of them
    without `wanted`, or if none holds one (odc-stac then says which band is missing)."""
    if not wanted:
        return assets
    wanted = {str(name) for name in wanted}
    kept = {key: bands for key, bands in assets.items() if not wanted.isdisjoint(
        {key, *(f'{key}.{n}' for n in range(1, len(bands) + 1)),
         *(band.get(field) for band in bands for field in ('name', 'common_name'))})}
    return kept or assets


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
        raise GraphError(f'{Path(path).name} is no raster this back-end reads ({err})'
                         ) from None
    epsg = crs.to_epsg() if crs is not None else None
    fields = {'proj:shape': list(shape), 'proj:transform': list(transform)[:6]}
    if epsg is not None:
        return {**fields, 'proj:epsg': epsg}
    return {**fields, 'proj:wkt2': crs.to_wkt()} if crs is not None else fields


def load_collection(env, id, spatial_extent=None, temporal_extent=None, bands=None,
                    properties=None, **_):
    """The openEO process: the collection's matching records as a cube."""
    (box, shape), interval = extent_box(spatial_extent), _interval(temporal_extent)
    if isinstance(properties, str):  # set aside before parsing (`properties.set_aside`)
        properties = env.conditions.get(properties, properties)
    documents = _records(env, str(id), box, interval, properties)
    if not documents:
        raise no_data(f'load_collection: no data in {id!r} for this extent')
    env.log.info('load_collection %s: %d records', id, len(documents))
    what = f'load_collection: {id!r}'
    # netCDF records: e.g. a job's results staged out into a workspace
    if netcdf_load.only_netcdf(documents, record_bands, what):
        loaded = netcdf_load.cube(env, [_record_item(d) for d in documents], bands, box,
                                  ends(temporal_extent), what, theirs=False)
    else:
        items = [prepared(env, item, index, wanted=bands) for index, item in enumerate(
            part for document in documents for part in by_date(_record_item(document)))]
        loaded = cube(env, items, bands, box, what)
    return within_shape(loaded, shape, what)


def within_shape(loaded, shape, what: str):
    """The cube masked to a GeoJSON extent's polygons (`shape`, see `extent_box`); else
    itself."""
    return loaded if shape is None else extent_shapes.masked(loaded, shape, what)


def cube(env, items: list, bands, box, what: str):
    """The prepared items loaded with odc-stac as an openEO raster cube (bands, t, y, x),
    one time step per day; `what` names the source in errors."""
    import odc.stac
    wanted = list(bands) if bands else None
    try:
        loaded = odc.stac.load(items, bands=wanted, bbox=box, groupby='solar_day',
                               chunks={})
    except (KeyError, ValueError) as err:
        raise GraphError(f'{what} cannot give these bands or this extent ({err})') from None
    result = loaded.to_array(dim='bands')
    env.loaded_bytes += int(result.nbytes)  # (from its shape: nothing is read yet)
    names = {'time': 't', 'latitude': 'y', 'longitude': 'x'}
    return result.rename({k: v for k, v in names.items() if k in result.dims})

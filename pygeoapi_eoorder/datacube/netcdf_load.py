"""netCDF assets loaded as a cube (`load_stac`, `load_collection`): a file `save_result`
wrote in netCDF (a variable per band, dimensions t, y, x, its grid in `spatial_ref`) or any
netCDF of that shape (CF names `time`, `lat`/`lon`, `latitude`/`longitude` understood),
read with xarray (odc-stac reads rasters through GDAL, one band per file, which a netCDF
of several variables is not). Files without a time dimension take their item's datetime.
"""

from __future__ import annotations

from .errors import GraphError, no_data
from .times import instant

MEDIA_TYPES = ('application/x-netcdf', 'application/netcdf')
NAMES = {'time': 't', 'lat': 'y', 'latitude': 'y', 'lon': 'x', 'longitude': 'x'}


def assets(item: dict) -> dict[str, dict]:
    """The item's netCDF data assets (by media type, else by the `.nc` suffix)."""
    found = {}
    for key, asset in (item.get('assets') or {}).items():
        if not isinstance(asset, dict) or not asset.get('href'):
            continue
        kind = str(asset.get('type') or '').split(';')[0].strip().lower()
        if (kind in MEDIA_TYPES or not kind and str(asset['href']).lower().endswith('.nc')) \
                and 'data' in (asset.get('roles') or ['data']):
            found[key] = asset
    return found


def without_netcdf(item: dict) -> dict:
    """The item without its netCDF assets (their bands are a netCDF file's variables)."""
    netcdf = assets(item)
    return {**item, 'assets': {key: asset for key, asset in (item.get('assets') or {}).items()
                               if key not in netcdf}} if netcdf else item


def only_netcdf(items: list[dict], rasters, what: str) -> bool:
    """Are the `items` netCDF ones (none has raster band assets: `rasters(item)`)?
    GraphError if some are and some are not (one cube is read one way)."""
    netcdf = sum(not rasters(without_netcdf(item)) for item in items)
    if netcdf and netcdf < len(items):
        raise GraphError(f'{what} holds netCDF and raster items here: load them apart (by '
                         'time or properties)')
    return bool(netcdf)


def cube(env, items: list[dict], bands, box, span: tuple, what: str, local: bool = False,
         theirs: bool = True):
    """The items' netCDF assets as one cube (bands, t, y, x), in time order, cut to the
    lon/lat `box`, the [start, end) `span` and the `bands` asked for; `local`: read where
    they are (this server's own files), else staged in (`theirs`: a source the caller
    named, as `RunEnv.stage` says)."""
    import xarray as xr
    from ..execution.paths import safe_name
    parts = []
    for index, item in enumerate(items):
        for key, asset in assets(item).items():
            path = asset['href'] if local else env.stage(
                asset['href'], safe_name(f'{index}_{key}', 'asset'), theirs)
            parts.append(_read(path, item, what))
    found = parts[0] if len(parts) == 1 else xr.concat(parts, dim='t', join='outer')
    found = found.sortby('t')
    start, end = span
    if start is not None or end is not None:
        first, last = (None if moment is None else _naive(moment) for moment in span)
        found = found.isel(t=[i for i, t in enumerate(found['t'].values)
                              if (first is None or t >= first) and (last is None or t < last)])
    if bands:
        missing = [b for b in bands if str(b) not in found['bands'].values]
        if missing:
            raise GraphError(f'{what} cannot give these bands ({missing}; it has '
                             f'{[str(b) for b in found["bands"].values]})')
        found = found.sel(bands=[str(b) for b in bands])
    if box is not None:
        found = _clip(found, box)
    if not found.sizes['t'] or not found.sizes['x'] or not found.sizes['y']:
        raise no_data(f'{what}: no data for this extent')
    env.loaded_bytes += int(found.nbytes)
    return found


def _naive(moment):
    """An aware datetime as numpy's naive UTC datetime64 (how netCDF times decode)."""
    import numpy as np
    return np.datetime64(moment.replace(tzinfo=None), 'ns')


def _read(path, item: dict, what: str):
    """One netCDF file as (bands, t, y, x), lazily (dask), its grid's CRS kept."""
    import rioxarray  # noqa: F401  (the .rio accessor)
    import xarray as xr
    try:
        dataset = xr.open_dataset(path, decode_coords='all', chunks={})
    except (OSError, ValueError) as err:
        raise GraphError(f'{what}: {item.get("id")} holds no netCDF this back-end reads '
                         f'({type(err).__name__})') from None
    dataset = dataset.rename({k: v for k, v in NAMES.items() if k in dataset.dims})
    variables = [name for name in dataset.data_vars if {'x', 'y'} <= set(dataset[name].dims)]
    if not variables:
        raise GraphError(f'{what}: {item.get("id")} holds no variable with x and y')
    crs = dataset.rio.crs
    found = dataset[variables].to_array(dim='bands')
    if 't' not in found.dims:
        moment = (item.get('properties') or {}).get('datetime') or \
            (item.get('properties') or {}).get('start_datetime')
        found = found.expand_dims(t=[_naive(instant(moment, f'{what}: datetime'))])
    found = found.transpose('bands', 't', 'y', 'x', *[d for d in found.dims if d not in (
        'bands', 't', 'y', 'x')])
    return found.rio.write_crs(crs or 'EPSG:4326')


def _clip(found, box):
    """The cube cut to the lon/lat box (pixels whose centre lies in it)."""
    from rasterio.warp import transform_bounds
    west, south, east, north = transform_bounds('EPSG:4326', found.rio.crs, *box)
    xs, ys = found['x'].values, found['y'].values
    return found.isel(x=[i for i, x in enumerate(xs) if west <= x <= east],
                      y=[i for i, y in enumerate(ys) if south <= y <= north])

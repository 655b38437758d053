"""`save_result`: a computed cube written as GeoTIFF (one file per date when the cube
still has a time dimension) or netCDF into the run's output directory."""

from __future__ import annotations

from .errors import GraphError

FORMATS = {'gtiff': ('GTiff', 'image/tiff; application=geotiff', '.tif'),
           'netcdf': ('netCDF', 'application/x-netcdf', '.nc')}


def file_format(name) -> tuple[str, str, str]:
    """(openEO name, media type, suffix) of a format name, in any letter case."""
    found = FORMATS.get(str(name or '').lower())
    if found is None:
        raise GraphError(f'save_result: format {name!r} is not supported (use GTiff or '
                         'netCDF)', 'FormatUnsupported')
    return found


def plain(cube):
    """The cube computed, with attributes that files can hold."""
    cube = cube.compute()
    cube.attrs = {k: v for k, v in cube.attrs.items() if isinstance(v, (str, int, float))}
    return cube


def band_names(cube) -> list[str]:
    """The names of a raster's bands as written: the cube's band labels, else `data` (as
    a netCDF file names the variable of a cube without bands)."""
    return [str(b) for b in cube['bands'].values] if 'bands' in cube.dims else ['data']


def write_gtiff(cube, target) -> None:
    import rioxarray  # noqa: F401  (the .rio accessor)
    order = [d for d in ('bands', 'y', 'x') if d in cube.dims]
    extra = [d for d in cube.dims if d not in order]
    if extra:
        raise GraphError(f'save_result: GTiff holds bands, y and x; reduce {extra} first')
    cube = cube.transpose(*order).rio.set_spatial_dims(x_dim='x', y_dim='y')
    if cube.rio.crs is None:
        cube = cube.rio.write_crs('EPSG:4326')
    cube.astype('float32').rio.to_raster(target)


def _write_netcdf(cube, target) -> None:
    for name in list(cube.coords):
        if name not in cube.dims and name != 'spatial_ref':
            cube = cube.drop_vars(name)
    if 'bands' in cube.dims:
        dataset = cube.to_dataset(dim='bands')
    else:
        dataset = cube.to_dataset(name='data')
    dataset.to_netcdf(target)


def save_result(env, data, format, options=None, **_):
    """The openEO process: write `data`; the written files are added to `env.outputs`."""
    name, media_type, suffix = file_format(format)
    if not hasattr(data, 'dims'):  # a value (e.g. the outputs of an OGC process step)
        save_value(env, data)
        return True
    cube = plain(data)
    env.output_dir.mkdir(parents=True, exist_ok=True)
    box = lonlat_bounds(cube)
    if box is not None:
        env.bounds.append(box)
    if name == 'GTiff' and 't' in cube.dims:
        for index, label in enumerate(cube['t'].values):
            day = str(label)[:10].replace('-', '')
            target = env.output_dir / f'result_{index:03d}_{day}{suffix}'
            write_gtiff(cube.isel(t=index), target)
            env.outputs.append((target, media_type))
            env.band_names[target] = band_names(cube)
            env.dates[target] = iso_date(label)
    else:
        target = env.output_dir / f'result{suffix}'
        (write_gtiff if name == 'GTiff' else _write_netcdf)(cube, target)
        env.outputs.append((target, media_type))
        env.band_names[target] = band_names(cube)  # (a netCDF file's variables)
    env.log.info('save_result: %s', ', '.join(p.name for p, _ in env.outputs))
    return True


def iso_date(label) -> str:
    """A time label of a cube as an RFC 3339 date-time (UTC)."""
    import pandas
    stamp = pandas.Timestamp(label)
    stamp = stamp.tz_localize('UTC') if stamp.tzinfo is None else stamp.tz_convert('UTC')
    return stamp.isoformat().replace('+00:00', 'Z')


def lonlat_bounds(cube) -> list[float] | None:
    """[west, south, east, north] in EPSG:4326 of a cube's x/y extent (pixel edges);
    None for a cube without both spatial dimensions."""
    if not {'x', 'y'} <= set(cube.dims) or not cube.sizes['x'] or not cube.sizes['y']:
        return None
    import rioxarray  # noqa: F401  (the .rio accessor)
    from rasterio.errors import CRSError
    from rasterio.warp import transform_bounds
    from rioxarray.exceptions import RioXarrayError
    try:
        spatial = cube.rio.set_spatial_dims(x_dim='x', y_dim='y')
        bounds = spatial.rio.bounds()
    except RioXarrayError:  # one pixel wide: no resolution, the coordinates only
        xs, ys = cube['x'].values, cube['y'].values
        bounds = (float(xs.min()), float(ys.min()), float(xs.max()), float(ys.max()))
        spatial = cube
    try:
        return [float(v) for v in transform_bounds(spatial.rio.crs or 'EPSG:4326',
                                                   'EPSG:4326', *bounds)]
    except (CRSError, ValueError, TypeError):  # coordinates that are no map: no footprint
        return None


def save_value(env, value) -> None:
    """A result that is no raster (a number, a list, a step's outputs) as `result.json`."""
    import json
    env.output_dir.mkdir(parents=True, exist_ok=True)
    target = env.output_dir / 'result.json'
    target.write_text(json.dumps(json_value(value), allow_nan=False))
    env.outputs.append((target, 'application/json'))


def json_value(value):
    """A graph's value as JSON: numpy, dask and xarray values as numbers and lists, NaN and
    the infinities as null (openEO's no-data: JSON has neither), dates as RFC 3339 text."""
    import datetime
    import math

    import numpy as np
    if hasattr(value, 'dims') or hasattr(value, 'dask'):  # xarray, dask: computed
        value = np.asarray(value)
    if isinstance(value, np.datetime64):
        return None if np.isnat(value) else f"{np.datetime_as_string(value, unit='s')}Z"
    if isinstance(value, np.ndarray):
        return json_value(value[()] if value.ndim == 0 else list(value))
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {str(key): json_value(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_value(item) for item in value]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    if hasattr(value, 'model_dump'):  # a parsed argument (pydantic) passed through
        return json_value(value.model_dump())
    return value if value is None or isinstance(value, (bool, int, str)) else str(value)

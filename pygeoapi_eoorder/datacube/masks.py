"""`mask_polygon` as openeo-processes 2.0 describes it: the pixels whose centre does not
intersect any of the polygons are replaced (`inside=true`: those whose centre does);
no-data pixels are left untouched.

Written here rather than taken from openeo-processes-dask, whose version builds one mask
per polygon and joins them with OR after inverting each (with `inside=true` and disjoint
polygons every pixel is outside one of them: nothing was replaced), reads only the outer
ring of each polygon (holes were ignored) and no MultiPolygon. Here the polygons are one
geometry, reprojected into the cube's CRS, and the centres are tested with shapely.
"""

from __future__ import annotations

from .errors import GraphError

POLYGONAL = ('Polygon', 'MultiPolygon')


def _invalid(message: str) -> GraphError:
    return GraphError(f'mask_polygon: {message}', 'ProcessParameterInvalid')


def _geojson_shapes(mask: dict) -> list:
    """The geometries of a GeoJSON geometry, Feature or FeatureCollection."""
    from shapely.geometry import shape
    kind = mask.get('type')
    if kind == 'FeatureCollection':
        return [g for f in mask.get('features') or [] for g in _geojson_shapes(f)]
    if kind == 'Feature':
        return _geojson_shapes(mask.get('geometry') or {})
    if kind not in POLYGONAL:
        raise _invalid(f'the mask holds a {kind or "non-GeoJSON"} geometry; Polygon or '
                       'MultiPolygon is required')
    try:
        return [shape(mask)]
    except (ValueError, TypeError, IndexError, AttributeError) as err:
        raise _invalid(f'the mask is no valid {kind} ({err})') from None


def polygons(mask):
    """(the mask's polygons as one shapely geometry, their CRS) of GeoJSON or a vector
    cube (geometries along a `geometry` dimension, e.g. from `load_geojson`)."""
    import shapely
    crs = 'EPSG:4326'
    if hasattr(mask, 'coords') and 'geometry' in mask.coords:
        shapes = list(mask['geometry'].values)
        crs = getattr(mask.xindexes.get('geometry'), 'crs', None) or crs
    elif isinstance(mask, dict):
        shapes = _geojson_shapes(mask)
    else:
        raise _invalid('the mask must be GeoJSON or a vector cube of polygons')
    if any(getattr(s, 'geom_type', None) not in POLYGONAL for s in shapes):
        raise _invalid('every mask geometry must be a Polygon or MultiPolygon')
    return shapely.union_all(shapes), crs


def _in_cube_crs(geometry, crs, data):
    """`geometry` (in `crs`) in the coordinates of the cube (EPSG:4326 if it has none)."""
    import numpy as np
    import shapely
    from pyproj import CRS, Transformer
    import rioxarray  # noqa: F401  (the .rio accessor)
    target = data.rio.crs or 'EPSG:4326'
    if CRS.from_user_input(crs) == CRS.from_user_input(target):
        return geometry
    move = Transformer.from_crs(crs, target, always_xy=True)
    return shapely.transform(geometry, lambda xy: np.column_stack(
        move.transform(xy[:, 0], xy[:, 1])))


def mask_polygon(data, mask, replacement=None, inside=False, **_):
    """The openEO process (see the module's docstring)."""
    import numpy as np
    import shapely
    import xarray
    geometry, crs = polygons(getattr(mask, 'root', mask))
    x_dim, y_dim = data.openeo.x_dim, data.openeo.y_dim
    geometry = _in_cube_crs(geometry, crs, data)
    shapely.prepare(geometry)
    xs, ys = data[x_dim].values, data[y_dim].values
    hit = shapely.intersects_xy(geometry, xs[np.newaxis, :], ys[:, np.newaxis])
    kept = xarray.DataArray(hit != bool(inside), dims=(y_dim, x_dim),
                            coords={y_dim: data[y_dim], x_dim: data[x_dim]})
    untouched = data.isnull()
    nodata = data.attrs.get('nodata')
    if nodata is not None:
        untouched = untouched | (data == nodata)
    return data.where(kept | untouched, np.nan if replacement is None else replacement)

"""A `spatial_extent` given as GeoJSON (`load_collection`, `load_stac`): the cube is limited
to the bounding box of its polygons, and a pixel whose centre intersects none of them is
no-data, as the process descriptions say. The GeoJSON is a Polygon or MultiPolygon, a
Feature of one, or a FeatureCollection of such Features, in lon/lat (RFC 7946); empty
geometries are ignored."""

from __future__ import annotations

from .errors import GraphError, no_data

POLYGONAL = ('Polygon', 'MultiPolygon')


def shape_of(extent, process: str = 'load_collection'):
    """The polygons of a GeoJSON spatial extent as one shapely geometry (lon/lat); None
    for anything else (a bounding box, null)."""
    if hasattr(extent, 'model_dump'):  # (a parser's model of the GeoJSON)
        extent = extent.model_dump(exclude_none=True)
    if not isinstance(extent, dict) or 'type' not in extent or 'west' in extent:
        return None
    kind = extent['type']
    if kind == 'FeatureCollection':
        features = extent.get('features')
        if not isinstance(features, list) or not all(isinstance(f, dict) for f in features):
            raise _invalid(process, 'a FeatureCollection needs a list of Features')
        geometries = [feature.get('geometry') for feature in features]
    elif kind == 'Feature':
        geometries = [extent.get('geometry')]
    elif kind in POLYGONAL:
        geometries = [extent]
    else:
        raise _invalid(process, f'GeoJSON {kind!s:.40} is not taken (a Polygon or '
                       'MultiPolygon, a Feature of one or a FeatureCollection of them)')
    return _union([_polygonal(geometry, process) for geometry in geometries], process)


def bounds(shape) -> list[float]:
    return [float(side) for side in shape.bounds]


def masked(cube, shape, what: str):
    """The cube with no-data where a pixel's centre intersects none of the polygons
    (`shape`, lon/lat); dimensions x and y in the cube's CRS."""
    import numpy as np
    import rioxarray  # noqa: F401  (the `rio` accessor: the cube's CRS)
    import shapely
    import xarray as xr
    crs = cube.rio.crs
    if crs is not None and crs.to_epsg() != 4326:
        from pyproj import Transformer
        to_cube = Transformer.from_crs(4326, crs, always_xy=True)
        shape = shapely.transform(shape, lambda xy: np.column_stack(
            to_cube.transform(xy[:, 0], xy[:, 1])))
    shapely.prepare(shape)
    xs, ys = np.meshgrid(cube['x'].values, cube['y'].values)
    inside = shapely.intersects_xy(shape, xs, ys)
    if not inside.any():
        raise no_data(f'{what}: no pixel centre lies in the polygons of spatial_extent')
    return cube.where(xr.DataArray(inside, dims=('y', 'x'),
                                   coords={'y': cube['y'], 'x': cube['x']}))


def _polygonal(geometry, process: str):
    import shapely.geometry
    if not isinstance(geometry, dict) or geometry.get('type') not in POLYGONAL:
        kind = geometry.get('type') if isinstance(geometry, dict) else geometry
        raise _invalid(process, f'the geometry {kind!s:.40} is no Polygon or MultiPolygon')
    if not geometry.get('coordinates'):
        return None  # (empty: ignored)
    try:
        shape = shapely.geometry.shape(geometry)
    except (TypeError, ValueError, AttributeError, IndexError,
            shapely.errors.ShapelyError) as err:
        raise _invalid(process, f'a {geometry["type"]} with invalid coordinates '
                       f'({str(err)[:120]})') from None
    return None if shape.is_empty else shapely.make_valid(shape)


def _union(shapes: list, process: str):
    import shapely
    kept = [shape for shape in shapes if shape is not None]
    if not kept:
        raise _invalid(process, 'the GeoJSON holds no polygon (empty geometries are '
                       'ignored)')
    union = shapely.union_all(kept)
    west, south, east, north = union.bounds
    if not (-180 <= west <= east <= 180 and -90 <= south <= north <= 90):
        raise _invalid(process, 'GeoJSON coordinates are longitude and latitude (RFC 7946)')
    return union


def _invalid(process: str, reason: str) -> GraphError:
    return GraphError(f'{process}: spatial_extent: {reason}', 'ProcessParameterInvalid')

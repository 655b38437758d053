"""Data-cube processing: openEO process graphs on the catalogue's raster assets.

Graphs are parsed with openeo-pg-parser-networkx and run with openeo-processes-dask
(xarray/dask); this package adds what a back-end must write itself: `load_collection`
(records of a catalogue collection, their assets staged in under the stage-in rules),
`save_result` (GTiff, netCDF), user-defined processes and the job that runs a graph in
the shared engine. The libraries are an optional extra (`pip install
pygeoapi-eoorder[openeo]`): without them `available()` is False and nothing here loads.
"""

from __future__ import annotations

import gc
import importlib.util

REQUIRED = ('openeo_pg_parser_networkx', 'openeo_processes_dask', 'odc.stac', 'rioxarray')


LIBRARIES = ('openeo_pg_parser_networkx', 'odc.stac', 'rioxarray', 'rasterio.warp', 'pystac',
             'pyproj', 'shapely.geometry')


def import_libraries() -> None:
    """Import now what the first graph would wait for (seconds of CPU): the process
    implementations and specs, the graph parser, the raster readers and writers."""
    import importlib
    from .processes import resolving_predefined
    resolving_predefined()
    for name in LIBRARIES:
        importlib.import_module(name)
    gc.freeze()  # the libraries' objects live as long as the process: keep them out of GC


def available() -> bool:
    """Are the data-cube libraries installed?"""
    try:
        return all(importlib.util.find_spec(name) is not None for name in REQUIRED)
    except ModuleNotFoundError:  # a parent package (odc) is missing
        return False

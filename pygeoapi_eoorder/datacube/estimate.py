"""Estimates of a batch job (openEO `GET /jobs/{id}/estimate`) from what is known, never
made-up numbers: the records, dates and pixels its graph's `load_collection` steps read
from the catalogue, and the durations and result sizes of the owner's past finished jobs
per pixel they read. What cannot be known is left out (the openEO API makes every field
of an estimate optional): no past job, no duration or size; no billing, no costs.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from types import SimpleNamespace

from .errors import GraphError

HISTORY = 20  # past jobs looked at


@dataclass
class Volume:
    """What a graph's `load_collection` steps read."""

    items: int = 0
    pixels: int = 0
    dates: set = field(default_factory=set)


def load_arguments(graph: dict) -> list[dict]:
    """The arguments of the graph's top-level `load_collection` nodes."""
    return [node.get('arguments') or {} for node in (graph or {}).values()
            if isinstance(node, dict) and node.get('process_id') == 'load_collection']


def _share(box, geometry) -> float:
    """The part of a record's footprint that the box covers (1 without either)."""
    if not box or not geometry:
        return 1.0
    from shapely.geometry import box as make_box, shape
    footprint = shape(geometry)
    if footprint.area == 0:
        return 1.0
    return footprint.intersection(make_box(*box)).area / footprint.area


def _pixels(document: dict, bands, box) -> int:
    """Pixels of the record's band assets (`proj:shape` x bands read) inside `box`."""
    total = 0
    for asset in (document.get('assets') or {}).values():
        names = [b.get('name') for b in asset.get('bands') or asset.get('eo:bands') or []]
        shape = asset.get('proj:shape')
        if not names or not isinstance(shape, list) or len(shape) != 2:
            continue
        wanted = [n for n in names if not bands or n in bands]
        total += int(shape[0]) * int(shape[1]) * len(wanted)
    return round(total * _share(box, document.get('geometry')))


def volume(collections: dict, graph: dict) -> Volume | None:
    """What the graph reads, or None when a step's extent is not literal (a parameter) or
    it reads what the catalogue does not describe (`load_stac`)."""
    from .load import _interval, _records, lonlat_box
    if any(isinstance(node, dict) and node.get('process_id') == 'load_stac'
           for node in (graph or {}).values()):
        return None
    found = Volume()
    env = SimpleNamespace(collection=collections.get)
    for arguments in load_arguments(graph):
        values = [arguments.get(k) for k in ('id', 'spatial_extent', 'temporal_extent',
                                             'bands')]
        if any(isinstance(v, dict) and 'from_parameter' in v or
               isinstance(v, dict) and 'from_node' in v for v in values):
            return None
        try:
            box = lonlat_box(values[1])
            rows = _records(env, str(values[0]), box, _interval(values[2]),
                            arguments.get('properties'))
        except (GraphError, TypeError, ValueError, AttributeError):
            return None
        for document in rows:
            found.items += 1
            found.pixels += _pixels(document, values[3], box)
            interval = (document.get('time') or {}).get('interval') or [None]
            if interval[0]:
                found.dates.add(str(interval[0])[:10])
    return found


UNCOMPRESSED = 8  # bytes per pixel read, the most a result keeps of it (a float64)


def iso_duration(seconds: float) -> str:
    seconds = max(seconds, 0.001)
    minutes, rest = divmod(seconds, 60)
    return f'PT{int(minutes)}M{rest:.3f}S' if minutes else f'PT{rest:.3f}S'


def estimate(now: Volume | None,
             past: list[tuple[Volume | None, float, int]]) -> dict | None:
    """The estimate of a job reading `now`, from `past` (volume, seconds, result bytes)
    of finished jobs; only what these support, at least the size (openEO requires one of
    costs, duration, size); None when the graph's reads are unknown."""
    if now is None:
        return None
    if now.pixels == 0:
        return {'size': 0}
    usable = [(seconds / v.pixels, size / v.pixels) for v, seconds, size in past
              if v is not None and v.pixels > 0 and seconds > 0]
    if not usable:  # no history: the pixels read, uncompressed, as at most one float64 each
        return {'size': UNCOMPRESSED * now.pixels}
    per_pixel = statistics.median(u[0] for u in usable)
    bytes_per_pixel = statistics.median(u[1] for u in usable)
    return {'duration': iso_duration(per_pixel * now.pixels),
            'size': int(bytes_per_pixel * now.pixels)}  # downloads: unlimited (the default)

"""Synthetic catalogue records for the STAC API tests, and the oracle that answers the
same searches in plain Python (shapely for space, interval arithmetic for time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from shapely.geometry import box, shape

PLATFORMS = ('SENTINEL-2A', 'SENTINEL-2B', 'LANDSAT-9')
INSTRUMENTS = {'SENTINEL-2A': ['MSI'], 'SENTINEL-2B': ['MSI'], 'LANDSAT-9': ['OLI', 'TIRS']}
START = datetime(2020, 1, 1, tzinfo=timezone.utc)
FAR_FUTURE = datetime(9999, 12, 31, tzinfo=timezone.utc)


def iso(value: datetime) -> str:
    return value.strftime('%Y-%m-%dT%H:%M:%SZ')


@dataclass(frozen=True)
class Truth:
    """What the oracle knows of record `index`."""

    index: int
    id: str
    collection: str
    footprint: object
    start: datetime
    end: datetime
    platform: str
    instruments: tuple[str, ...]
    cloud: float
    orbit: int
    private: bool = False


def _footprint(index: int):
    lon = -170 + (index * 7.3) % 339
    lat = -80 + (index * 3.7) % 159
    return box(lon, lat, lon + 1, lat + 1)


def truth(index: int, collection: str = 'products', private: bool = False) -> Truth:
    start = START + timedelta(hours=6 * index)
    if index % 97 == 3:
        end = FAR_FUTURE          # open-ended interval
    elif index % 5 == 0:
        end = start               # instant
    else:
        end = start + timedelta(minutes=30)
    platform = PLATFORMS[index % 3]
    return Truth(index, f'{collection}-{index:05d}', collection, _footprint(index), start, end,
                 platform, tuple(INSTRUMENTS[platform]), (index * 37) % 100 + 0.5,
                 1000 + index, private)


def record(fact: Truth, asset_href: str) -> dict:
    """The record document of a fact (the Records form the catalogue stores)."""
    if fact.end == FAR_FUTURE:
        time = {'interval': [iso(fact.start), '..']}
    elif fact.end == fact.start:
        time = {'timestamp': iso(fact.start)}
    else:
        time = {'interval': [iso(fact.start), iso(fact.end)]}
    instruments = list(fact.instruments)
    return {
        'id': fact.id, 'type': 'Feature',
        'geometry': {'type': 'Polygon',
                     'coordinates': [[list(xy) for xy in fact.footprint.exterior.coords]]},
        'time': time,
        'properties': {
            'type': 'product', 'title': f'Synthetic scene {fact.index}',
            'platform': fact.platform,
            'instrument': instruments if len(instruments) > 1 else instruments[0],
            'cloudCover': fact.cloud, 'orbitNumber': fact.orbit,
            'orbitDirection': 'ASCENDING' if fact.index % 2 else 'DESCENDING',
            'productType': 'L2A', 'keywords': ['synthetic', f'n{fact.index % 4}']},
        # an asset href the validators can open (they request every asset)
        'links': [{'rel': 'enclosure', 'href': asset_href, 'type': 'application/json',
                   'title': 'data'}],
    }


def intersects_time(fact: Truth, start: datetime | None, end: datetime | None) -> bool:
    return (end is None or fact.start <= end) and (start is None or fact.end >= start)


def matching(facts, *, bbox=None, geometry=None, start=None, end=None, ids=None,
             collections=None, where=None, viewer=None) -> list[Truth]:
    """The facts a search should return (insertion order)."""
    area = box(*bbox) if bbox else (shape(geometry) if geometry else None)
    found = []
    for fact in facts:
        if fact.private and viewer != 'alice' and viewer != 'root':
            continue
        if area is not None and not area.intersects(fact.footprint):
            continue
        if (start or end) and not intersects_time(fact, start, end):
            continue
        if ids is not None and fact.id not in ids:
            continue
        if collections is not None and fact.collection not in collections:
            continue
        if where is not None and not where(fact):
            continue
        found.append(fact)
    return found

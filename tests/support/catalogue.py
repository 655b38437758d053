"""Catalogue test helpers: synthetic EO records and resource definitions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pystac

PROVIDER = 'pygeoapi_eoorder.catalogue.sql_provider.SQLRecordProvider'


def records_resource(title: str, data: str = 'eoorder', editable: bool = True,
                     **extra) -> dict:
    return {'type': 'collection', 'title': title, 'description': f'{title} records',
            'keywords': ['eo'], 'extents': {'spatial': {'bbox': [-180, -90, 180, 90]}},
            'links': [],
            'providers': [{'type': 'record', 'name': PROVIDER, 'data': data,
                           'editable': editable, **extra}]}


def eo_record(index: int, **overrides) -> dict:
    """Record `index`: a 1x1 degree footprint at (index, index), day `index` of 2021-01."""
    start = datetime(2021, 1, 1) + timedelta(days=index)
    end = start + timedelta(hours=12)
    props = {
        'type': 'product', 'title': f'Scene {index} over area {index % 3}',
        'description': 'Sentinel-2 optical acquisition' if index % 2 else 'Sentinel-1 radar',
        'keywords': ['optical' if index % 2 else 'radar', f'tile-{index}'],
        'externalIds': [{'scheme': 'esa', 'value': f'ESA-{index}'}],
        'platform': 'SENTINEL-2A' if index % 2 else 'SENTINEL-1B',
        'instrument': 'MSI' if index % 2 else 'SAR-C',
        'productType': 'S2MSI1C' if index % 2 else 'GRD',
        'processingLevel': 'L1C' if index % 2 else 'L1',
        'cloudCover': float(index * 10 % 100),
        'orbitNumber': 1000 + index,
        'orbitDirection': 'ASCENDING' if index % 2 else 'DESCENDING',
        'parentIdentifier': 'S2' if index % 2 else 'S1',
    }
    props.update(overrides.pop('properties', {}))
    record = {
        'id': f'scene-{index}', 'type': 'Feature',
        'geometry': {'type': 'Polygon', 'coordinates': [[[index, index], [index + 1, index],
                                                         [index + 1, index + 1],
                                                         [index, index + 1], [index, index]]]},
        'time': {'interval': [start.isoformat() + 'Z', end.isoformat() + 'Z']},
        'properties': props,
        'links': [{'rel': 'enclosure', 'href': f'https://data.invalid/scene-{index}.zip',
                   'type': 'application/zip'}],
    }
    record.update(overrides)
    return record


def make_catalog(directory, count=3):
    """A self-contained STAC catalog of `count` items with one data asset each (a job output)."""
    catalog = pystac.Catalog(id='job-output', description='results')
    for index in range(count):
        item = pystac.Item(id=f'result-{index}', bbox=[index, 0, index + 1, 1],
                           geometry={'type': 'Polygon', 'coordinates': [[
                               [index, 0], [index + 1, 0], [index + 1, 1], [index, 1],
                               [index, 0]]]},
                           datetime=datetime(2023, 5, index + 1),
                           properties={'platform': 'sentinel-2b', 'eo:cloud_cover': 12.5,
                                       'instruments': ['msi'], 'sat:orbit_state': 'ascending'})
        item.add_asset('data', pystac.Asset(href=f'./result-{index}/ndvi.tif',
                                            media_type='image/tiff; application=geotiff',
                                            roles=['data']))
        catalog.add_item(item)
    catalog.normalize_hrefs(str(directory))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    return directory

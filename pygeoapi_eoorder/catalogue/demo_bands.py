"""Demo products with red and near-infrared bands over one place on a few dates: a tiny
time series that data-cube clients (openEO) can compute on offline, e.g. an NDVI.

Each product is a two-band GeoTIFF (band 1 red, band 2 nir; uint16 reflectance x 10000)
whose pixel values follow `reflectance` exactly, so a client can check what it computed.
Its record describes the file as a STAC-like asset with `eo:bands` and projection
metadata besides the usual enclosure link. Written by `demo.seed`, beside the other
demo products.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PLACE = 'Lyon'
BBOX = (4.75, 45.70, 4.95, 45.85)  # lon/lat box: away from the other demo products
SIZE = (20, 30)  # rows, columns: a few kB per date
DATES = ('2024-06-05', '2024-06-15', '2024-06-25')
BANDS = ({'name': 'red', 'common_name': 'red', 'center_wavelength': 0.665},
         {'name': 'nir', 'common_name': 'nir', 'center_wavelength': 0.842})
ASSET = 'bands'
GEOTIFF = 'image/tiff; application=geotiff'


@dataclass(frozen=True)
class BandProduct:
    identifier: str
    date: str
    index: int

    @property
    def start(self) -> str:
        return f'{self.date}T10:30:00Z'

    @property
    def end(self) -> str:
        return f'{self.date}T10:30:25Z'


PRODUCTS = tuple(BandProduct(f'DEMO_S2_BANDS_{date.replace("-", "")}_LYON', date, index)
                 for index, date in enumerate(DATES))


def reflectance(band: str, date_index: int, rows, cols):
    """The stored value (reflectance x 10000) of `band` at pixel (row, col) on date
    `date_index`: vegetation greening over time, varying across the scene."""
    if band == 'red':
        return 400 + 10 * cols + 5 * rows + 50 * date_index
    return 2500 + 20 * rows + 7 * cols + 300 * date_index


def transform():
    from rasterio.transform import from_bounds
    return from_bounds(*BBOX, SIZE[1], SIZE[0])


def write_geotiff(product: BandProduct, target: Path) -> None:
    """Write the product's two-band GeoTIFF atomically to `target`."""
    import numpy as np
    import rasterio
    rows, cols = np.mgrid[0:SIZE[0], 0:SIZE[1]]
    tmp = target.with_name(f'.{target.name}.{os.getpid()}.tmp')
    profile = {'driver': 'GTiff', 'width': SIZE[1], 'height': SIZE[0], 'count': len(BANDS),
               'dtype': 'uint16', 'crs': 'EPSG:4326', 'compress': 'deflate',
               'transform': transform(), 'nodata': 0}
    with rasterio.open(tmp, 'w', **profile) as dataset:
        for number, band in enumerate(BANDS, start=1):
            values = reflectance(band['name'], product.index, rows, cols)
            dataset.write(values.astype('uint16'), number)
            dataset.set_band_description(number, band['name'])
        dataset.update_tags(DEMO='sample data, not a real acquisition')
    os.replace(tmp, target)


def record(product: BandProduct, path: Path, keywords: list[str]) -> dict:
    """The catalogue record of a band product whose file is `path`."""
    minx, miny, maxx, maxy = BBOX
    href = path.resolve().as_uri()
    return {
        'id': product.identifier,
        'type': 'Feature',
        'geometry': {'type': 'Polygon', 'coordinates': [[[minx, miny], [maxx, miny],
                                                         [maxx, maxy], [minx, maxy],
                                                         [minx, miny]]]},
        'time': {'interval': [product.start, product.end]},
        'properties': {
            'type': 'dataset',
            'title': f'DEMO SENTINEL-2 red/nir bands over {PLACE} on {product.date}',
            'description': f'Demo product (sample data, not a real acquisition): red and '
                           f'near-infrared reflectance ({SIZE[1]}x{SIZE[0]} pixels) over '
                           f'{PLACE}, one date of a small time series for data-cube '
                           'processing (e.g. NDVI with openEO).',
            'keywords': keywords + ['SENTINEL-2', 'MSI', 'bands'],
            'platform': 'SENTINEL-2', 'instrument': 'MSI', 'productType': 'DEMO_BANDS',
            'processingLevel': 'LEVEL2A', 'sensorType': 'OPTICAL', 'cloudCover': 0.0,
            'eo:bands': list(BANDS),
        },
        'assets': {ASSET: {'href': href, 'type': GEOTIFF, 'roles': ['data'],
                           'title': 'Red and near-infrared reflectance x 10000',
                           'eo:bands': list(BANDS), 'proj:epsg': 4326,
                           'proj:shape': list(SIZE),
                           'proj:transform': list(transform())[:6]}},
        'links': [{'rel': 'enclosure', 'type': GEOTIFF,
                   'title': 'Product file (GeoTIFF, bands red and nir)', 'href': href}],
    }


def documents(folder: Path, keywords: list[str]) -> list[dict]:
    """Write the missing files under `folder`; the records of all band products."""
    found = []
    for product in PRODUCTS:
        path = folder / f'{product.identifier}.tif'
        if not path.is_file():
            write_geotiff(product, path)
        found.append(record(product, path, keywords))
    return found

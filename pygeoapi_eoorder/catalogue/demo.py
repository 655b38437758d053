"""Demo EO products: a few tiny real GeoTIFFs and their records, so that a fresh server has
something to discover, order and download (`eoorder.catalogue.demo`).

At start-up (app hook `install`) the products are written to `<data_dir>/demo/` and their
records upserted into the collection `catalogue.demo_collection`; both steps are
idempotent (same bytes, same records: nothing changes on a second start). Every record is
marked as demo data (title prefix, keyword `demo`). The demo directory is an allowed
stage-in root while the demo is on, so the default item processor can deliver the files.

The records keep the files' `file://` URLs (the server reads them in place); what the
catalogue serves names them by this server's URL instead, `<base>/demo/files/<name>`
(`published`: no path of the server's disk is shown), and stage-in reads those URLs from
the folder, not over the network (`DemoFileURLs`).
"""

from __future__ import annotations

import functools
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote, unquote, urlsplit

from .. import urls
from . import runtime

LOGGER = logging.getLogger('eoorder.catalogue.demo')
KEYWORDS = ['demo', 'sample data']
SIZE = 64  # pixels on each side: a few kB per product


@dataclass(frozen=True)
class DemoProduct:
    """One demo product: identifier, footprint (lon/lat box) and EO metadata."""

    identifier: str
    place: str
    bbox: tuple[float, float, float, float]
    start: str
    end: str
    platform: str
    instrument: str
    product_type: str
    processing_level: str
    cloud_cover: float
    orbit_number: int
    orbit_direction: str


PRODUCTS = (
    DemoProduct('DEMO_S2A_MSIL2A_20240601T104021_T31UDQ', 'Paris', (2.0, 48.6, 2.7, 49.1),
                '2024-06-01T10:40:21Z', '2024-06-01T10:40:45Z', 'SENTINEL-2A', 'MSI',
                'S2MSI2A', 'LEVEL2A', 12.5, 46712, 'DESCENDING'),
    DemoProduct('DEMO_S2B_MSIL1C_20240615T103629_T32TLR', 'the Alps', (6.6, 45.7, 7.3, 46.2),
                '2024-06-15T10:36:29Z', '2024-06-15T10:36:53Z', 'SENTINEL-2B', 'MSI',
                'S2MSI1C', 'LEVEL1C', 3.0, 37901, 'DESCENDING'),
    DemoProduct('DEMO_LC09_L2SP_20240703_199026', 'Brussels', (4.0, 50.6, 4.8, 51.1),
                '2024-07-03T10:31:02Z', '2024-07-03T10:31:34Z', 'LANDSAT-9', 'OLI',
                'L2SP', 'LEVEL2', 27.0, 199026, 'DESCENDING'),
    DemoProduct('DEMO_S1A_IW_GRDH_20240720T173512', 'Rome', (12.2, 41.7, 12.8, 42.1),
                '2024-07-20T17:35:12Z', '2024-07-20T17:35:37Z', 'SENTINEL-1A', 'SAR-C',
                'GRD', 'LEVEL1', 0.0, 54980, 'ASCENDING'),
)


FILES_PATH = '/demo/files'  # where the server serves the files (`records.demo_files`)


def demo_dir(data_dir: Path) -> Path:
    """Where the demo product files live."""
    return Path(data_dir) / 'demo'


def file_names() -> frozenset[str]:
    """The names of the demo files (no other file of the folder is served)."""
    from . import demo_bands
    return frozenset(f'{p.identifier}.tif' for p in (*PRODUCTS, *demo_bands.PRODUCTS))


def demo_on(settings) -> bool:
    """Whether the configuration has the demo products (`catalogue.demo`)."""
    return settings is not None and bool((settings.block.get('catalogue') or {}).get('demo'))


def demo_file(settings, name: str) -> Path | None:
    """The demo file called `name`, None if there is none (or the demo is off)."""
    if not demo_on(settings) or name not in file_names():
        return None
    path = demo_dir(settings.data_dir) / name
    return path if path.is_file() else None


@functools.lru_cache(maxsize=8)
def _file_prefix(data_dir: str) -> str:
    """How the records name the demo folder (the resolved `file://` URL, with a slash)."""
    return demo_dir(Path(data_dir)).resolve().as_uri() + '/'


def published(document: dict) -> dict:
    """The record with its demo files' `file://` hrefs (links and assets) named by this
    server's URL (the serving app's base); any other record as it is."""
    found = runtime.settings()
    if not demo_on(found):
        return document
    prefix = _file_prefix(str(found.data_dir))
    files = f'{urls.of_request() or runtime.base_url()}{FILES_PATH}/'
    return _with_hrefs(document, lambda href: files + quote(href[len(prefix):])
                       if href.startswith(prefix) else href)


def stored(document: dict) -> dict:
    """The record with this server's demo file URLs (as `published` names them, e.g. in
    an item a client read, changed and sent back) turned back into the files' `file://`
    URLs, so that what is stored reads them in place; any other record as it is."""
    found = runtime.settings()
    if not demo_on(found):
        return document
    reader = DemoFileURLs(found, {urls.of_request() or '', runtime.base_url() or '',
                                  found.public_url or ''})
    folder = _file_prefix(str(found.data_dir))

    def kept(href: str) -> str:
        name = reader.name(href)
        return href if name is None else folder + name

    return _with_hrefs(document, kept)


def _with_hrefs(document: dict, change) -> dict:
    """The document with `change(href) -> href` applied to its links' and assets' hrefs."""
    def changed(item):
        href = item.get('href') if isinstance(item, dict) else None
        return {**item, 'href': change(href)} if isinstance(href, str) else item

    copy = dict(document)
    if isinstance(document.get('links'), list):
        copy['links'] = [changed(link) for link in document['links']]
    if isinstance(document.get('assets'), dict):
        copy['assets'] = {key: changed(asset) for key, asset in document['assets'].items()}
    return copy


class DemoFileURLs:
    """This server's demo file URLs (`<base>/demo/files/<name>`, at the job's base URL or
    the configured public one), read by stage-in from the demo folder."""

    def __init__(self, settings, bases: set[str]):
        self.settings = settings
        self.prefixes = tuple(f'{base.rstrip("/")}{FILES_PATH}/' for base in bases if base)

    def name(self, href: str) -> str | None:
        """The demo file `href` names at one of the bases, None if none."""
        prefix = next((p for p in self.prefixes if href.startswith(p)), None)
        if prefix is None:
            return None
        name = unquote(urlsplit(href[len(prefix):]).path)
        return name if name in file_names() else None

    def serves(self, href: str) -> bool:
        return any(href.startswith(p) for p in self.prefixes)

    def open(self, href: str) -> BinaryIO:
        name = self.name(href)
        path = None if name is None else demo_file(self.settings, name)
        if path is None:
            raise FileNotFoundError(href)
        return open(path, 'rb')


def file_urls(settings, base_url: str) -> DemoFileURLs | None:
    """The reader of the demo file URLs for a job at `base_url` (None: the demo is off,
    or no settings)."""
    if not demo_on(settings):
        return None
    return DemoFileURLs(settings, {base_url, settings.public_url or ''})


def _pixels(index: int):
    """A small deterministic gradient image, different for each product."""
    import numpy as np
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    return ((x * (index + 2) + y * (4 - index)) % 256).astype('uint8')


def write_geotiff(product: DemoProduct, index: int, target: Path) -> None:
    """Write the product's GeoTIFF (EPSG:4326, its footprint) atomically to `target`."""
    import rasterio
    from rasterio.transform import from_bounds
    tmp = target.with_name(f'.{target.name}.{os.getpid()}.tmp')
    profile = {'driver': 'GTiff', 'width': SIZE, 'height': SIZE, 'count': 1,
               'dtype': 'uint8', 'crs': 'EPSG:4326', 'compress': 'deflate',
               'transform': from_bounds(*product.bbox, SIZE, SIZE)}
    with rasterio.open(tmp, 'w', **profile) as dataset:
        dataset.write(_pixels(index), 1)
        dataset.update_tags(DEMO='sample data, not a real acquisition',
                            PLATFORM=product.platform, INSTRUMENT=product.instrument)
    os.replace(tmp, target)


def record(product: DemoProduct, path: Path) -> dict:
    """The catalogue record of a demo product whose file is `path`."""
    minx, miny, maxx, maxy = product.bbox
    return {
        'id': product.identifier,
        'type': 'Feature',
        'geometry': {'type': 'Polygon', 'coordinates': [[[minx, miny], [maxx, miny],
                                                         [maxx, maxy], [minx, maxy],
                                                         [minx, miny]]]},
        'time': {'interval': [product.start, product.end]},
        'properties': {
            'type': 'dataset',
            'title': f'DEMO {product.platform} {product.product_type} over {product.place}',
            'description': f'Demo product (sample data, not a real acquisition): a '
                           f'{SIZE}x{SIZE} GeoTIFF over {product.place}, shipped with '
                           'pygeoapi-eoorder to try discovery, ordering and download.',
            'keywords': KEYWORDS + [product.platform, product.instrument],
            'platform': product.platform, 'instrument': product.instrument,
            'productType': product.product_type,
            'processingLevel': product.processing_level,
            'sensorType': 'RADAR' if product.instrument.startswith('SAR') else 'OPTICAL',
            'cloudCover': product.cloud_cover, 'orbitNumber': product.orbit_number,
            'orbitDirection': product.orbit_direction,
        },
        'links': [{'rel': 'enclosure', 'type': 'image/tiff; application=geotiff',
                   'title': 'Product file (GeoTIFF)', 'href': path.resolve().as_uri()}],
    }


def seed(settings, collection: str) -> int:
    """Write the demo files and upsert their records; return how many records changed."""
    from filelock import FileLock

    from . import demo_bands
    from .repository import RecordRepository
    folder = demo_dir(settings.data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    settings.run_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(settings.run_dir / 'demo.lock')):  # web workers start at once
        documents = []
        for index, product in enumerate(PRODUCTS):
            path = folder / f'{product.identifier}.tif'
            if not path.is_file():
                write_geotiff(product, index, path)
            documents.append(record(product, path))
        documents += demo_bands.documents(folder, KEYWORDS)
        result = RecordRepository(settings.store_url, collection).upsert(documents)
    return result.inserted + result.updated


def _check_collection(collection: str, resources: dict) -> None:
    if collection not in resources:
        from ..config import ConfigError
        raise ConfigError(f'eoorder.catalogue.demo_collection: {collection!r} is not a '
                          'resource of the configuration; fix: add that records collection '
                          '(see config/local.yml) or set eoorder.catalogue.demo: false')


def check(settings) -> None:
    """Component hook, before the web workers start: the demo collection must exist."""
    block = settings.block.get('catalogue') or {}
    if block.get('demo'):
        from ..config import read_yaml
        resources = read_yaml(settings.config_path).get('resources') or {}
        _check_collection(block['demo_collection'], resources)


def install(app, api, settings) -> None:
    """App hook: seed the demo products when `catalogue.demo` is on."""
    block = settings.block.get('catalogue') or {}
    if not block.get('demo'):
        return
    collection = block['demo_collection']
    _check_collection(collection, api.config.get('resources') or {})
    changed = seed(settings, collection)
    if changed:
        LOGGER.info('demo products: %d records written to %s', changed,
                    block['demo_collection'])


def openapi_paths() -> dict:
    """Component hook: the demo adds no routes (its records are served by `products`)."""
    return {}

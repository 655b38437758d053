"""How a graph reads the assets it loads: a catalogue record's `file://` asset under the
allowed roots is read where it lies (no copy in the job's folder); a link there that leads
out of the roots, or a directory, is not read; a STAC source's assets are fetched only for
the bands the graph asks for (an item of one file per band).

Real server, the real `openeo` client, a real HTTP file server on loopback (allowed, as a
deployer allows a data host) noting each request. Oracle: NDVI computed here with rasterio
and numpy from the files written."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import rasterio
import requests
import yaml

from pygeoapi_eoorder.catalogue import demo_bands
from pygeoapi_eoorder.catalogue.repository import RecordRepository

from .conftest import REPO, Server
from .support.auth import as_, openeo_as, write_users
from .support.catalogue import records_resource
from .support.egress import allow_loopback
from .support.workspaces import StaticFiles
from .test_openeo_load_stac import ndvi_graph as ndvi_process_graph

LOCAL = yaml.safe_load((REPO / 'config' / 'local.yml').read_text())
DATES = ['2024-06-01', '2024-07-01']
BAND_FILES = ('red', 'nir', 'swir')  # one file per band in the STAC source


def record(product, href: str) -> dict:
    """The catalogue record of a demo bands product whose asset is at `href`."""
    document = demo_bands.record(product, REPO, ['archive'])
    document['assets'][demo_bands.ASSET]['href'] = href
    document['links'] = []
    return document


def write_band(product, band: str, target) -> None:
    """One band of a demo product as a one-band GeoTIFF (`swir`: a constant)."""
    rows, cols = np.mgrid[0:demo_bands.SIZE[0], 0:demo_bands.SIZE[1]]
    values = np.full(rows.shape, 1234) if band == 'swir' else \
        demo_bands.reflectance(band, product.index, rows, cols)
    with rasterio.open(target, 'w', driver='GTiff', width=demo_bands.SIZE[1],
                       height=demo_bands.SIZE[0], count=1, dtype='uint16', crs='EPSG:4326',
                       transform=demo_bands.transform()) as dataset:
        dataset.write(values.astype('uint16'), 1)


def band_item(product) -> dict:
    """A STAC item of a demo product with one asset per band (files beside it)."""
    west, south, east, north = demo_bands.BBOX
    return {'type': 'Feature', 'stac_version': '1.1.0', 'id': product.identifier,
            'geometry': {'type': 'Polygon', 'coordinates': [[
                [west, south], [east, south], [east, north], [west, north], [west, south]]]},
            'bbox': list(demo_bands.BBOX), 'links': [],
            'properties': {'datetime': f'{product.date}T10:00:00Z'},
            'assets': {band: {'href': f'{product.identifier}_{band}.tif', 'roles': ['data'],
                              'type': demo_bands.GEOTIFF, 'bands': [{'name': band}]}
                       for band in BAND_FILES}}


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    directory = tmp_path_factory.mktemp('openeo-assets')
    archive, outside, www = (directory / name for name in ('archive', 'outside', 'www'))
    for folder in (archive, outside, www):
        folder.mkdir()
    files, documents, pages = [], [], []
    for product in demo_bands.PRODUCTS:
        path = archive / f'{product.identifier}.tif'
        demo_bands.write_geotiff(product, path)
        files.append(path)
        documents.append(record(product, path.as_uri()))
        for band in BAND_FILES:
            write_band(product, band, www / f'{product.identifier}_{band}.tif')
        pages.append(band_item(product))
    (www / 'items.json').write_text(json.dumps({'type': 'FeatureCollection',
                                                'features': pages, 'links': []}))
    demo_bands.write_geotiff(demo_bands.PRODUCTS[0], outside / 'secret.tif')
    (archive / 'link.tif').symlink_to(outside / 'secret.tif')
    (archive / 'folder.tif').mkdir()
    block = copy.deepcopy(LOCAL['eoorder'])
    block['data_dir'] = str(directory / 'data')
    block['store'] = {'url': f"sqlite:///{directory / 'catalogue.db'}"}
    block['execution'] = {'stage_in': {'allowed_file_roots': [str(archive)]}}
    users = write_users(directory / 'users.yml', {'alice': ['user']})
    block['auth'] = {'authenticators': [{'name': 'basic', 'users_file': str(users)}]}
    RecordRepository(block['store']['url'], 'archive').upsert(documents)
    for collection, name in (('linked', 'link.tif'), ('folder', 'folder.tif')):
        RecordRepository(block['store']['url'], collection).upsert(
            [record(demo_bands.PRODUCTS[0], (archive / name).as_uri())])
    resources = {**LOCAL['resources'], **{name: records_resource(name.title()) for name in (
        'archive', 'linked', 'folder')}}
    server = Server(directory, allow_loopback(block), resources).start()
    server.files, server.www, server.www_dir = files, StaticFiles(www), www
    yield server
    server.www.stop()
    server.stop()


def oracle(red_nir_pairs) -> np.ndarray:
    """NDVI of each date's (red, nir), averaged over time."""
    return np.mean([(nir - red) / (nir + red) for red, nir in red_nir_pairs], axis=0)


def read_bands(path, indexes=(1, 2)):
    with rasterio.open(path) as dataset:
        return [dataset.read(i).astype('float64') for i in indexes]


def ndvi_graph(loading: dict) -> dict:
    return {'process': ndvi_process_graph(loading)}


def load_collection(collection: str) -> dict:
    return {'process_id': 'load_collection', 'arguments': {
        'id': collection, 'spatial_extent': None, 'temporal_extent': DATES,
        'bands': ['red', 'nir']}}


def test_a_local_asset_is_read_where_it_lies_not_copied(site, tmp_path):
    connection = openeo_as(site, 'alice')
    cube = connection.load_collection('archive', temporal_extent=DATES, bands=['red', 'nir'])
    job = cube.ndvi(red='red', nir='nir').reduce_dimension(dimension='t', reducer='mean') \
        .save_result(format='GTiff').create_job()
    job.start_and_wait(max_poll_interval=0.5)
    target = job.get_results().download_files(tmp_path)
    result = next(path for path in target if path.suffix == '.tif')
    with rasterio.open(result) as dataset:
        np.testing.assert_allclose(dataset.read(1), oracle(read_bands(p) for p in site.files),
                                   rtol=1e-5)
    job_dir = site.data_dir / 'jobs' / job.job_id
    rasters = [p.relative_to(job_dir) for p in job_dir.rglob('*.tif')]
    assert rasters and all(p.parts[0] == 'results' for p in rasters), rasters


@pytest.mark.parametrize('collection, reason', [
    ('linked', 'is outside the allowed file roots'),
    ('folder', 'is not a file'),
])
def test_a_link_out_of_the_roots_or_a_folder_is_not_read(site, collection, reason):
    reply = requests.post(f'{site.url}/openeo/1.2/result',
                          json=ndvi_graph(load_collection(collection)), auth=as_('alice'),
                          timeout=120)
    assert reply.status_code == 500 and reply.json()['code'] == 'Internal', reply.text
    assert reason in reply.json()['message'], reply.text


def test_a_stac_source_s_assets_are_fetched_for_the_bands_asked_only(site, tmp_path):
    site.www.requested.clear()
    reply = requests.post(f'{site.url}/openeo/1.2/result', json=ndvi_graph({
        'process_id': 'load_stac', 'arguments': {
            'url': f'{site.www.url}/items.json', 'bands': ['red', 'nir']}}),
        auth=as_('alice'), timeout=120)
    assert reply.status_code == 200, reply.text
    (tmp_path / 'ndvi.tif').write_bytes(reply.content)
    pairs = [[read_bands(site.www_dir / f'{p.identifier}_{band}.tif', (1,))[0]
              for band in ('red', 'nir')] for p in demo_bands.PRODUCTS]
    with rasterio.open(tmp_path / 'ndvi.tif') as dataset:
        np.testing.assert_allclose(dataset.read(1), oracle(pairs), rtol=1e-5)
    fetched = sorted(path.rsplit('_', 1)[-1] for path in site.www.requested
                     if path.endswith('.tif'))
    assert fetched == ['nir.tif'] * 3 + ['red.tif'] * 3, site.www.requested

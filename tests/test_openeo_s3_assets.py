"""openEO `load_collection` on a catalogue collection whose assets are `s3://` objects of a
data provider's bucket (issue #19 item 2: assets "through the stage-in rules"): the bucket
is named in `execution.stage_in.s3_sources` with its endpoint and keys, and read with them;
an s3:// href of a bucket no source names is not read, and an object the bucket does not
hold fails the graph with that reason; a bad source is a one-line configuration error.

Real S3 server (`rclone serve s3`, its own keys), the real `openeo` client. Oracle: NDVI
computed here with rasterio and numpy from the files put into the bucket."""

from __future__ import annotations

import copy

import numpy as np
import openeo
import pytest
import rasterio
import requests
import yaml

from pygeoapi_eoorder import config as eoconfig
from pygeoapi_eoorder.catalogue import demo_bands
from pygeoapi_eoorder.catalogue.repository import RecordRepository

from .conftest import REPO, Server
from .support.auth import as_, write_users
from .support.catalogue import records_resource
from .support.s3 import ACCESS_KEY, SECRET_KEY
from .support.workspaces import s3, s3_client

__all__ = ['s3']
LOCAL = yaml.safe_load((REPO / 'config' / 'local.yml').read_text())
DATES = ['2024-06-01', '2024-07-01']
BUCKET = 'provider-eodata'


def scene(product, href: str) -> dict:
    """The record of a demo bands product whose asset is `href`."""
    document = demo_bands.record(product, REPO, ['scene'])
    document['assets'][demo_bands.ASSET]['href'] = href
    document['links'] = []
    return document


@pytest.fixture(scope='module')
def server(tmp_path_factory, s3):
    directory = tmp_path_factory.mktemp('openeo-s3')
    client = s3_client(s3)
    client.create_bucket(Bucket=BUCKET)
    files, documents = {}, []
    for product in demo_bands.PRODUCTS:
        path = directory / f'{product.identifier}.tif'
        demo_bands.write_geotiff(product, path)
        files[product.identifier] = path
        key = f'sentinel-2/{product.date}/{product.identifier}.tif'
        client.upload_file(str(path), BUCKET, key)
        documents.append(scene(product, f's3://{BUCKET}/{key}'))
    block = copy.deepcopy(LOCAL['eoorder'])
    block['data_dir'] = str(directory / 'data')
    block['store'] = {'url': f"sqlite:///{directory / 'catalogue.db'}"}
    block['execution'] = {'stage_in': {'s3_sources': [{
        'buckets': [BUCKET], 'endpoint_url': s3.endpoint, 'access_key_id': ACCESS_KEY,
        'secret_access_key_env': 'EOORDER_TEST_PROVIDER_SECRET'}]}}
    users = write_users(directory / 'users.yml', {'alice': ['user']})
    block['auth'] = {'authenticators': [{'name': 'basic', 'users_file': str(users)}]}
    repository = RecordRepository(block['store']['url'], 'scenes')
    repository.upsert(documents)
    elsewhere = scene(demo_bands.PRODUCTS[0], f's3://another-bucket/{BUCKET}.tif')
    missing = scene(demo_bands.PRODUCTS[0], f's3://{BUCKET}/sentinel-2/nothing.tif')
    for collection, document in (('elsewhere', elsewhere), ('missing', missing)):
        RecordRepository(block['store']['url'], collection).upsert([document])
    resources = {**LOCAL['resources'], **{name: records_resource(name.title()) for name in (
        'scenes', 'elsewhere', 'missing')}}
    running = Server(directory, block, resources)
    with pytest.MonkeyPatch.context() as patch:  # the secret from the environment
        patch.setenv('EOORDER_TEST_PROVIDER_SECRET', SECRET_KEY)
        running.start()
    running.files = files
    yield running
    running.stop()


def graph(collection: str) -> dict:
    return {'process': {'process_graph': {
        'load': {'process_id': 'load_collection', 'arguments': {
            'id': collection, 'spatial_extent': None, 'temporal_extent': DATES,
            'bands': ['red', 'nir']}},
        'ndvi': {'process_id': 'ndvi', 'arguments': {'data': {'from_node': 'load'}}},
        'save': {'process_id': 'save_result', 'arguments': {
            'data': {'from_node': 'ndvi'}, 'format': 'netCDF'}, 'result': True}}}}


def test_load_collection_reads_assets_from_a_configured_s3_source(server, tmp_path):
    connection = openeo.connect(f'{server.url}/openeo/1.2/')
    connection.authenticate_basic(*as_('alice'))
    cube = connection.load_collection('scenes', temporal_extent=DATES, bands=['red', 'nir'])
    target = tmp_path / 'ndvi.tif'
    cube.ndvi(red='red', nir='nir').reduce_dimension(dimension='t', reducer='mean') \
        .download(target, format='GTiff')
    ndvis = []
    for path in server.files.values():
        with rasterio.open(path) as dataset:
            red, nir = (dataset.read(i).astype('float64') for i in (1, 2))
        ndvis.append((nir - red) / (nir + red))
    with rasterio.open(target) as dataset:
        np.testing.assert_allclose(dataset.read(1), np.mean(ndvis, axis=0), rtol=1e-5)


@pytest.mark.parametrize('collection, reason', [
    ('elsewhere', f'input load_collection: s3://another-bucket/{BUCKET}.tif does not exist'),
    ('missing', f'input load_collection: s3://{BUCKET}/sentinel-2/nothing.tif does not exist'),
])
def test_an_object_that_cannot_be_read_fails_the_graph_with_the_reason(server, collection,
                                                                       reason):
    reply = requests.post(f'{server.url}/openeo/1.2/result', json=graph(collection),
                          auth=as_('alice'), timeout=120)
    assert reply.status_code == 500 and reply.json()['code'] == 'Internal', reply.text
    assert reply.json()['message'] == reason


def test_a_bad_source_is_a_one_line_error_naming_the_key():
    given = [{'buckets': ['b'], 'endpoint_url': 'http://s3.example',
              'secret_access_key_env': 'PROVIDER_SECRET'}]
    assert eoconfig.validate_block({'execution': {'stage_in': {'s3_sources': given}}})[
        'execution']['stage_in']['s3_sources'] == given
    for source, key in (({'endpoint_url': 'http://s3.example'}, 's3_sources.0'),
                        ({'buckets': []}, 's3_sources.0.buckets'),
                        ({'buckets': ['b'], 'secret': 'x'}, 's3_sources.0')):
        with pytest.raises(eoconfig.ConfigError) as err:
            eoconfig.validate_block({'execution': {'stage_in': {'s3_sources': [source]}}})
        message = str(err.value)
        assert message.startswith(f'eoorder.execution.stage_in.{key}') and 'fix:' in message \
            and '\n' not in message, message

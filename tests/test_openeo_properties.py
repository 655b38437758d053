"""openEO `load_collection` property filters (issue #19) with the `openeo` Python client: a
collection whose items differ in cloud cover, platform and a property that is no
queryable of the catalogue; only the items meeting every condition are loaded.

Oracle: the conditions evaluated here in Python on the items' properties (FACTS), and the
NDVI of each selected date computed from its GeoTIFF with rasterio and numpy."""

from __future__ import annotations

import copy

import numpy as np
import openeo
import openeo.processes as eo
import pytest
import rasterio
import requests
import xarray
import yaml

from pygeoapi_eoorder.catalogue import demo_bands
from pygeoapi_eoorder.catalogue.repository import RecordRepository

from .conftest import REPO, Server
from .support.auth import as_, write_users
from .support.catalogue import records_resource

LOCAL = yaml.safe_load((REPO / 'config' / 'local.yml').read_text())
LYON = dict(zip(('west', 'south', 'east', 'north'), demo_bands.BBOX))
DATES = ['2024-06-01', '2024-07-01']
FACTS = [  # per demo date: (eo:cloud_cover, platform, view:sun_elevation)
    (10.0, 'SENTINEL-2A', 35.0), (70.0, 'SENTINEL-2B', 48.0), (30.0, 'SENTINEL-2B', 52.0)]


def scene(product, path) -> dict:
    """A demo bands record with this test's properties (sun elevation: no queryable)."""
    document = demo_bands.record(product, path, ['scene'])
    cloud, platform, sun = FACTS[product.index]
    document['properties'].update({'cloudCover': cloud, 'platform': platform,
                                   'view:sun_elevation': sun})
    return document


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp('openeo-properties')
    files = directory / 'scenes'
    files.mkdir()
    block = copy.deepcopy(LOCAL['eoorder'])
    block['data_dir'] = str(directory / 'data')
    block['store'] = {**(block.get('store') or {}),
                      'url': f"sqlite:///{directory / 'catalogue.db'}"}
    block['execution'] = {**(block.get('execution') or {}),
                          'stage_in': {'allowed_file_roots': [str(files)]}}
    users = write_users(directory / 'users.yml', {'alice': ['user']})
    block['auth'] = {'authenticators': [{'name': 'basic', 'users_file': str(users)}]}
    documents = []
    for product in demo_bands.PRODUCTS:
        path = files / f'{product.identifier}.tif'
        demo_bands.write_geotiff(product, path)
        documents.append(scene(product, path))
    RecordRepository(block['store']['url'], 'scenes').upsert(documents)
    resources = {**LOCAL['resources'], 'scenes': records_resource('Scenes')}
    running = Server(directory, block, resources).start()
    running.files = files
    yield running
    running.stop()


def connect(server: Server) -> openeo.Connection:
    connection = openeo.connect(f'{server.url}/openeo/1.2/')
    connection.authenticate_basic(*as_('alice'))
    return connection


def expected_ndvi(server: Server, chosen: list[int]) -> dict[str, np.ndarray]:
    """date -> NDVI of the chosen demo products, from their files."""
    found = {}
    for index in chosen:
        product = demo_bands.PRODUCTS[index]
        with rasterio.open(server.files / f'{product.identifier}.tif') as dataset:
            red, nir = (dataset.read(i).astype('float64') for i in (1, 2))
        found[product.date] = (nir - red) / (nir + red)
    return found


def loaded_ndvi(connection: openeo.Connection, properties: dict, target) -> dict:
    """date -> NDVI as the back-end computes it for the items meeting `properties`."""
    cube = connection.load_collection('scenes', spatial_extent=LYON, temporal_extent=DATES,
                                      bands=['red', 'nir'], properties=properties)
    cube.ndvi(red='red', nir='nir').download(target, format='netCDF')
    with xarray.open_dataset(target) as dataset:
        return {str(t)[:10]: dataset['data'].sel(t=t).values for t in dataset['t'].values}


CASES = {
    'cloud cover at most 50': (
        {'eo:cloud_cover': lambda value: value <= 50},
        lambda cloud, platform, sun: cloud <= 50),
    'platform and cloud cover': (
        {'platform': lambda value: value == 'SENTINEL-2B',
         'eo:cloud_cover': lambda value: eo.and_(value > 20, value < 50)},
        lambda cloud, platform, sun: platform == 'SENTINEL-2B' and 20 < cloud < 50),
    'a list of platforms': (
        {'platform': lambda value: eo.array_contains(['SENTINEL-2C', 'SENTINEL-2B'], value)},
        lambda cloud, platform, sun: platform in ('SENTINEL-2C', 'SENTINEL-2B')),
    'a property that is no queryable': (
        {'view:sun_elevation': lambda value: eo.between(value, 40, 60)},
        lambda cloud, platform, sun: 40 <= sun <= 60),
    'either of two platforms': (
        {'platform': lambda value: eo.or_(value == 'SENTINEL-2A', value == 'SENTINEL-2C')},
        lambda cloud, platform, sun: platform in ('SENTINEL-2A', 'SENTINEL-2C')),
}


@pytest.mark.parametrize('case', sorted(CASES))
def test_load_collection_keeps_the_items_meeting_the_property_conditions(server, case,
                                                                           tmp_path):
    properties, oracle = CASES[case]
    chosen = [index for index, facts in enumerate(FACTS) if oracle(*facts)]
    assert 0 < len(chosen) < len(FACTS)
    expected = expected_ndvi(server, chosen)
    found = loaded_ndvi(connect(server), properties, tmp_path / 'ndvi.nc')
    assert sorted(found) == sorted(expected)
    for day, values in expected.items():
        np.testing.assert_allclose(found[day], values, rtol=1e-5)


def test_a_property_condition_that_cannot_select_items_is_an_openeo_error(server):
    graph = {'load': {'process_id': 'load_collection', 'arguments': {
        'id': 'scenes', 'spatial_extent': LYON, 'temporal_extent': DATES,
        'properties': {'eo:cloud_cover': {'process_graph': {'cc': {
            'process_id': 'is_nan', 'arguments': {'x': {'from_parameter': 'value'}},
            'result': True}}}}}, 'result': True}}
    reply = requests.post(f'{server.url}/openeo/1.2/result', auth=as_('alice'), timeout=120,
                          json={'process': {'process_graph': graph}})
    assert reply.status_code == 400
    assert reply.json()['code'] == 'ProcessParameterInvalid'
    assert 'is_nan' in reply.json()['message']
    none = {'eo:cloud_cover': {'process_graph': {'cc': {
        'process_id': 'gt', 'arguments': {'x': {'from_parameter': 'value'}, 'y': 90},
        'result': True}}}}
    graph['load']['arguments']['properties'] = none
    reply = requests.post(f'{server.url}/openeo/1.2/result', auth=as_('alice'), timeout=120,
                          json={'process': {'process_graph': graph}})
    assert reply.status_code == 400 and reply.json()['code'] == 'NoDataAvailable'

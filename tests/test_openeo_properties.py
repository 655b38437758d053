"""openEO `load_collection` property filters (issue #19) with the `openeo` Python client: a
collection whose items differ in cloud cover, platform, instruments, keywords and
properties that are no queryables of the catalogue; only the items meeting every condition
are loaded. Conditions may compare with parameters of the enclosing user-defined process.

Oracle: the conditions evaluated here in Python on the items' properties (FACTS), and the
NDVI of each selected date computed from its GeoTIFF with rasterio and numpy. The same
conditions select the same items in a SQLite and a PostgreSQL catalogue."""

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
from openeo.rest.datacube import DataCube

from pygeoapi_eoorder.catalogue import demo_bands
from pygeoapi_eoorder.catalogue.repository import RecordRepository
from pygeoapi_eoorder.catalogue.search import CollectionsSearch
from pygeoapi_eoorder.datacube.properties import query as property_query

from .conftest import REPO, Server
from .support.auth import as_, write_users
from .support.catalogue import records_resource
from .support.cluster import Database

LOCAL = yaml.safe_load((REPO / 'config' / 'local.yml').read_text())
LYON = dict(zip(('west', 'south', 'east', 'north'), demo_bands.BBOX))
DATES = ['2024-06-01', '2024-07-01']
FACTS = [  # per demo date: the item's properties (view: and s2: names are no queryables)
    {'eo:cloud_cover': 10.0, 'platform': 'SENTINEL-2A', 'view:sun_elevation': 35.0,
     'instruments': ['MSI'], 'keywords': ['scene', 'summer'], 's2:mgrs_tile': '31T_FL'},
    {'eo:cloud_cover': 70.0, 'platform': 'SENTINEL-2B', 'view:sun_elevation': 48.0,
     'instruments': ['MSI', 'SAR'], 'keywords': ['scene'], 's2:mgrs_tile': '31t_fl'},
    {'eo:cloud_cover': 30.0, 'platform': 'SENTINEL-2B', 'view:sun_elevation': 52.0,
     'instruments': ['OLCI', 'SLSTR'], 'keywords': ['scene', 'Summer'],
     's2:mgrs_tile': '31TXFL'}]


def scene(product, path) -> dict:
    """A demo bands record with this test's properties (in the catalogue's names)."""
    document = demo_bands.record(product, path, ['scene'])
    facts = FACTS[product.index]
    document['properties'].update({
        'cloudCover': facts['eo:cloud_cover'], 'platform': facts['platform'],
        'instrument': facts['instruments'], 'keywords': facts['keywords'],
        'view:sun_elevation': facts['view:sun_elevation'],
        's2:mgrs_tile': facts['s2:mgrs_tile']})
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


def read_ndvi(target) -> dict:
    """date -> NDVI of a downloaded netCDF result."""
    with xarray.open_dataset(target) as dataset:
        return {str(t)[:10]: dataset['data'].sel(t=t).values for t in dataset['t'].values}


def loaded_ndvi(connection: openeo.Connection, properties: dict, target) -> dict:
    """date -> NDVI as the back-end computes it for the items meeting `properties`."""
    cube = connection.load_collection('scenes', spatial_extent=LYON, temporal_extent=DATES,
                                      bands=['red', 'nir'], properties=properties)
    cube.ndvi(red='red', nir='nir').download(target, format='netCDF')
    return read_ndvi(target)


def assert_ndvi_of(server: Server, found: dict, oracle) -> None:
    """`found` is the NDVI of exactly the items `oracle` keeps (some, not all)."""
    chosen = [index for index, facts in enumerate(FACTS) if oracle(facts)]
    assert 0 < len(chosen) < len(FACTS)
    expected = expected_ndvi(server, chosen)
    assert sorted(found) == sorted(expected)
    for day, values in expected.items():
        np.testing.assert_allclose(found[day], values, rtol=1e-5)


CASES = {
    'cloud cover at most 50': (
        {'eo:cloud_cover': lambda value: value <= 50},
        lambda p: p['eo:cloud_cover'] <= 50),
    'platform and cloud cover': (
        {'platform': lambda value: value == 'SENTINEL-2B',
         'eo:cloud_cover': lambda value: eo.and_(value > 20, value < 50)},
        lambda p: p['platform'] == 'SENTINEL-2B' and 20 < p['eo:cloud_cover'] < 50),
    'a list of platforms': (
        {'platform': lambda value: eo.array_contains(['SENTINEL-2C', 'SENTINEL-2B'], value)},
        lambda p: p['platform'] in ('SENTINEL-2C', 'SENTINEL-2B')),
    'a property that is no queryable': (
        {'view:sun_elevation': lambda value: eo.between(value, 40, 60)},
        lambda p: 40 <= p['view:sun_elevation'] <= 60),
    'either of two platforms': (
        {'platform': lambda value: eo.or_(value == 'SENTINEL-2A', value == 'SENTINEL-2C')},
        lambda p: p['platform'] in ('SENTINEL-2A', 'SENTINEL-2C')),
    'cloud cover within a delta': (
        {'eo:cloud_cover': lambda value: eo.eq(value, 30, delta=25)},
        lambda p: abs(p['eo:cloud_cover'] - 30) <= 25),
    'a property that is no queryable outside a delta': (
        {'view:sun_elevation': lambda value: eo.neq(value, 50, delta=3)},
        lambda p: abs(p['view:sun_elevation'] - 50) > 3),
    'platform whatever the case': (
        {'platform': lambda value: eo.eq(value, 'sentinel-2b', case_sensitive=False)},
        lambda p: p['platform'].lower() == 'sentinel-2b'),
    'a name whatever the case, its _ no wildcard': (
        {'s2:mgrs_tile': lambda value: eo.eq(value, '31t_FL', case_sensitive=False)},
        lambda p: p['s2:mgrs_tile'].lower() == '31t_fl'),
    'another name whatever the case': (
        {'s2:mgrs_tile': lambda value: eo.neq(value, '31T_fl', case_sensitive=False)},
        lambda p: p['s2:mgrs_tile'].lower() != '31t_fl'),
    'instruments holding one': (
        {'instruments': lambda value: value == 'SAR'},
        lambda p: 'SAR' in p['instruments']),
    'instruments holding any of a list': (
        {'instruments': lambda value: eo.array_contains(['OLCI', 'SAR'], value)},
        lambda p: bool({'OLCI', 'SAR'} & set(p['instruments']))),
    'keywords holding one (case matters)': (
        {'keywords': lambda value: eo.eq(value, 'summer')},
        lambda p: 'summer' in p['keywords']),
    'keywords not holding one (case matters)': (
        {'keywords': lambda value: eo.neq(value, 'summer')},
        lambda p: 'summer' not in p['keywords']),
}
OVER_HTTP = sorted(set(CASES) - {'another name whatever the case'})


@pytest.mark.parametrize('case', OVER_HTTP)
def test_load_collection_keeps_the_items_meeting_the_property_conditions(server, case,
                                                                           tmp_path):
    properties, oracle = CASES[case]
    found = loaded_ndvi(connect(server), properties, tmp_path / 'ndvi.nc')
    assert_ndvi_of(server, found, oracle)


@pytest.fixture(scope='module', params=['sqlite', 'postgresql'])
def store(request, tmp_path_factory):
    """A catalogue of the same items (files not written: only their records are read)."""
    directory = tmp_path_factory.mktemp('properties-store')
    database = Database('eoorder_properties').create(postgis=True) \
        if request.param == 'postgresql' else None
    url = database.url if database else f"sqlite:///{directory / 'catalogue.db'}"
    RecordRepository(url, 'scenes').upsert([
        scene(product, directory / f'{product.identifier}.tif')
        for product in demo_bands.PRODUCTS])
    yield url
    if database:
        database.drop()


@pytest.mark.parametrize('case', sorted(CASES))
def test_the_conditions_select_the_same_items_in_each_store(store, case):
    properties, oracle = CASES[case]
    graph = DataCube.load_collection('scenes', connection=None,
                                     properties=properties).flat_graph()
    conditions = graph['loadcollection1']['arguments']['properties']
    found = CollectionsSearch(store, ['scenes']).search(property_query(conditions), limit=10)
    expected = [p.identifier for p, facts in zip(demo_bands.PRODUCTS, FACTS) if oracle(facts)]
    assert 0 < len(expected) < len(FACTS)
    assert sorted(document['id'] for _, document in found.rows) == expected


def put_process(server: Server, definition: dict) -> None:
    reply = requests.put(f"{server.url}/openeo/1.2/process_graphs/{definition['id']}",
                         json=definition, auth=as_('alice'), timeout=30)
    assert reply.status_code in (200, 201), reply.text


def load_node(properties: dict) -> dict:
    return {'process_id': 'load_collection', 'arguments': {
        'id': 'scenes', 'spatial_extent': LYON, 'temporal_extent': DATES,
        'bands': ['red', 'nir'], 'properties': properties}}


def condition(process_id: str, **arguments) -> dict:
    return {'process_graph': {'c': {'process_id': process_id, 'arguments': {
        **arguments}, 'result': True}}}


VALUE = {'from_parameter': 'value'}
SCENES_NDVI = {  # a user-defined process: NDVI of the scenes below a cloud cover
    'id': 'scenes_ndvi',
    'parameters': [
        {'name': 'max_cloud', 'description': 'most cloud cover', 'optional': True,
         'schema': {'type': 'number'}, 'default': 50},
        {'name': 'platforms', 'description': 'platforms kept', 'optional': True,
         'schema': {'type': 'array'}, 'default': ['SENTINEL-2A', 'SENTINEL-2B']}],
    'process_graph': {
        'load': load_node({
            'eo:cloud_cover': condition('lte', x=VALUE, y={'from_parameter': 'max_cloud'}),
            'platform': condition('array_contains', value=VALUE,
                                  data={'from_parameter': 'platforms'})}),
        'ndvi': {'process_id': 'ndvi', 'arguments': {'data': {'from_node': 'load'},
                                                     'red': 'red', 'nir': 'nir'},
                 'result': True}}}
B_NDVI = {  # calls the first with its own parameter and a constant
    'id': 'b_ndvi',
    'parameters': [{'name': 'limit', 'description': 'most cloud cover',
                    'schema': {'type': 'number'}}],
    'process_graph': {'run': {'process_id': 'scenes_ndvi', 'arguments': {
        'max_cloud': {'from_parameter': 'limit'}, 'platforms': ['SENTINEL-2B']},
        'result': True}}}


@pytest.mark.parametrize('arguments, oracle', [
    ({'max_cloud': 20}, lambda p: p['eo:cloud_cover'] <= 20),
    ({}, lambda p: p['eo:cloud_cover'] <= 50),
    ({'platforms': ['SENTINEL-2B'], 'max_cloud': 80},
     lambda p: p['platform'] == 'SENTINEL-2B')])
def test_a_condition_compares_with_a_parameter_of_the_user_defined_process(
        server, arguments, oracle, tmp_path):
    put_process(server, SCENES_NDVI)
    cube = connect(server).datacube_from_process('scenes_ndvi', **arguments)
    cube.download(tmp_path / 'ndvi.nc', format='netCDF')
    assert_ndvi_of(server, read_ndvi(tmp_path / 'ndvi.nc'), oracle)


def test_a_parameter_passes_through_user_defined_processes(server, tmp_path):
    put_process(server, SCENES_NDVI)
    put_process(server, B_NDVI)
    cube = connect(server).datacube_from_process('b_ndvi', limit=40)
    cube.download(tmp_path / 'ndvi.nc', format='netCDF')
    assert_ndvi_of(server, read_ndvi(tmp_path / 'ndvi.nc'),
                   lambda p: p['platform'] == 'SENTINEL-2B' and p['eo:cloud_cover'] <= 40)


def result_of(server: Server, graph: dict) -> requests.Response:
    return requests.post(f'{server.url}/openeo/1.2/result', auth=as_('alice'), timeout=120,
                         json={'process': {'process_graph': graph}})


def assert_refused(reply: requests.Response, *words: str) -> None:
    assert reply.status_code == 400, reply.text
    assert reply.json()['code'] == 'ProcessParameterInvalid'
    for word in words:
        assert word in reply.json()['message']


def test_a_parameter_without_a_value_is_an_openeo_error(server):
    unknown = {'eo:cloud_cover': condition('lte', x=VALUE, y={'from_parameter': 'nope'})}
    assert_refused(result_of(server, {'load': {**load_node(unknown), 'result': True}}),
                   'nope', 'eo:cloud_cover')
    put_process(server, {**SCENES_NDVI, 'id': 'unknown_ndvi', 'process_graph': {
        **SCENES_NDVI['process_graph'], 'load': load_node(unknown)}})
    call = {'run': {'process_id': 'unknown_ndvi', 'arguments': {}, 'result': True}}
    assert_refused(result_of(server, call), 'nope')
    call = {'run': {'process_id': 'b_ndvi', 'arguments': {}, 'result': True}}  # no limit
    put_process(server, SCENES_NDVI)
    put_process(server, B_NDVI)
    reply = result_of(server, call)
    assert reply.status_code == 400 and reply.json()['code'] == 'ProcessParameterMissing'
    assert 'limit' in reply.json()['message']


def test_a_property_condition_that_cannot_select_items_is_an_openeo_error(server):
    graph = {'load': {'process_id': 'load_collection', 'arguments': {
        'id': 'scenes', 'spatial_extent': LYON, 'temporal_extent': DATES,
        'properties': {'eo:cloud_cover': {'process_graph': {'cc': {
            'process_id': 'is_nan', 'arguments': {'x': {'from_parameter': 'value'}},
            'result': True}}}}}, 'result': True}}
    assert_refused(result_of(server, graph), 'is_nan')
    for properties, words in [
            ({'instruments': condition('lt', x=VALUE, y='SAR')}, ('lt', 'list')),
            ({'keywords': condition('between', x=VALUE, min='a', max='b')}, ('list',)),
            ({'instruments': condition('eq', x=VALUE, y='sar', case_sensitive=False)},
             ('case_sensitive', 'list')),
            ({'eo:cloud_cover': condition('eq', x=VALUE, y=30, delta='5')}, ('delta',))]:
        graph['load']['arguments']['properties'] = properties
        assert_refused(result_of(server, graph), *words)
    none = {'eo:cloud_cover': {'process_graph': {'cc': {
        'process_id': 'gt', 'arguments': {'x': {'from_parameter': 'value'}, 'y': 90},
        'result': True}}}}
    graph['load']['arguments']['properties'] = none
    reply = result_of(server, graph)
    assert reply.status_code == 400 and reply.json()['code'] == 'NoDataAvailable'


def test_a_dangling_parameter_is_found_before_anything_runs(server):
    """Validation and job creation read the conditions as the run would: a reference to a
    parameter the process does not declare is an error at once; a declared one is not."""
    dangling = {'eo:cloud_cover': condition('lte', x=VALUE, y={'from_parameter': 'nope'})}
    graph = {'load': {**load_node(dangling), 'result': True}}
    validate = f'{server.url}/openeo/1.2/validation'
    errors = requests.post(validate, auth=as_('alice'), timeout=30,
                           json={'process_graph': graph}).json()['errors']
    assert [e['code'] for e in errors] == ['ProcessParameterInvalid'], errors
    assert 'nope' in errors[0]['message']
    declared = {'process_graph': graph, 'parameters': [
        {'name': 'nope', 'description': 'a limit', 'schema': {'type': 'number'}}]}
    assert requests.post(validate, auth=as_('alice'), timeout=30,
                         json=declared).json()['errors'] == []
    jobs = f'{server.url}/openeo/1.2/jobs'

    def count() -> int:
        return len(requests.get(jobs, auth=as_('alice'), timeout=30).json()['jobs'])
    before = count()
    assert_refused(requests.post(jobs, auth=as_('alice'), timeout=30,
                                 json={'process': {'process_graph': graph}}), 'nope')
    assert count() == before  # no job was created

"""The openEO API (issue #19) with the real `openeo` Python client against a running
server: connect, basic auth, discovery, the NDVI graph on the demo bands synchronously
and as a batch job, user-defined processes. Expected values are computed here from the
demo products' files with rasterio and numpy (an oracle independent of the back-end)."""

from __future__ import annotations

import copy
import hashlib
import json
import time

import jwt
import numpy as np
import openeo
import pystac
import pytest
import rasterio
import requests
from rasterio.windows import from_bounds
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa

from pygeoapi_eoorder.catalogue.ingest import stac_records

from .conftest import REPO, Server
from .support.auth import as_, write_users

ISSUER = 'https://idp.example/realms/eo'
SIGNING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
PACKAGES = REPO / 'tests' / 'data' / 'packages'
LOCAL = yaml.safe_load((REPO / 'config' / 'local.yml').read_text())
LYON = {'west': 4.75, 'south': 45.70, 'east': 4.95, 'north': 45.85}
WEST = {**LYON, 'east': 4.85}  # the western half of the demo scene (on a pixel edge)
DATES = ['2024-06-01', '2024-07-01']


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp('openeo')
    block = copy.deepcopy(LOCAL['eoorder'])
    block['data_dir'] = str(directory / 'data')
    users = write_users(directory / 'users.yml', {'alice': ['user', 'developer'],
                                                  'bob': ['user']})
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(SIGNING_KEY.public_key()))
    (directory / 'jwks.json').write_text(json.dumps({'keys': [{**jwk, 'kid': 'k1'}]}))
    block['auth'] = {'authenticators': [
        {'name': 'basic', 'users_file': str(users)},
        {'name': 'jwt', 'jwks_file': str(directory / 'jwks.json'), 'issuer': ISSUER}]}
    running = Server(directory, block, LOCAL['resources']).start()
    yield running
    running.stop()


def connect(server: Server, user: str = 'alice') -> openeo.Connection:
    connection = openeo.connect(f'{server.url}/openeo/1.2/')
    connection.authenticate_basic(*as_(user))
    return connection


def demo_ndvi_mean(server: Server, box: dict | None = None) -> np.ndarray:
    """The oracle: NDVI of every demo bands file, averaged over the dates; `box`: only
    the pixels in it (rasterio's window of those bounds)."""
    ndvis = []
    for path in sorted((server.data_dir / 'demo').glob('DEMO_S2_BANDS_*.tif')):
        with rasterio.open(path) as dataset:
            window = None if box is None else from_bounds(
                box['west'], box['south'], box['east'], box['north'], dataset.transform)
            red, nir = (dataset.read(i, window=window).astype('float64') for i in (1, 2))
        ndvis.append((nir - red) / (nir + red))
    assert len(ndvis) == 3
    return np.mean(ndvis, axis=0)


def pixel_edges(xs: np.ndarray, ys: np.ndarray) -> list[float]:
    """[west, south, east, north] of a regular grid given by its pixel centres."""
    half_x, half_y = abs(xs[1] - xs[0]) / 2, abs(ys[1] - ys[0]) / 2
    return [xs.min() - half_x, ys.min() - half_y, xs.max() + half_x, ys.max() + half_y]


def ndvi_cube(connection: openeo.Connection):
    cube = connection.load_collection('products', spatial_extent=LYON,
                                      temporal_extent=DATES, bands=['red', 'nir'])
    return cube.ndvi(red='red', nir='nir').reduce_dimension(dimension='t', reducer='mean')


def filtered_ndvi_cube(connection: openeo.Connection, box: dict):
    """The graph of the issue's demo: load_collection -> filter_bbox -> ndvi ->
    reduce_dimension(t, mean) (save_result: the client's download or job)."""
    cube = connection.load_collection('products', temporal_extent=DATES,
                                      bands=['red', 'nir']).filter_bbox(**box)
    return cube.ndvi(red='red', nir='nir').reduce_dimension(dimension='t', reducer='mean')


def test_capabilities_discovery_and_auth(server):
    reply = requests.get(f'{server.url}/.well-known/openeo', timeout=10)
    assert reply.status_code == 200 and reply.json()['versions'][0]['api_version'] == '1.2.0'
    connection = openeo.connect(f'{server.url}/openeo/1.2/')
    assert connection.capabilities().api_version() == '1.2.0'
    assert 'products' in connection.list_collection_ids()
    collection = connection.describe_collection('products')
    assert {'x', 'y', 't', 'bands'} <= set(collection['cube:dimensions'])
    assert collection['cube:dimensions']['bands']['values'] == ['red', 'nir']
    process_ids = {p['id'] for p in connection.list_processes()}
    assert {'load_collection', 'ndvi', 'reduce_dimension', 'save_result'} <= process_ids
    assert 'run_udf' not in process_ids and 'load_stac' in process_ids
    assert set(connection.list_output_formats()) >= {'GTiff', 'netCDF'}
    # signed out: no account, an openEO error
    reply = requests.get(f'{server.url}/openeo/1.2/me', timeout=10)
    assert reply.status_code == 401 and reply.json()['code'] == 'AuthenticationRequired'
    assert connection.authenticate_basic(*as_('alice')).describe_account()['user_id'] == 'alice'
    bad = requests.get(f'{server.url}/openeo/1.2/credentials/basic', auth=('alice', 'wrong'),
                       timeout=10)
    assert bad.status_code == 401 and set(bad.json()) == {'id', 'code', 'message', 'links'}


@pytest.mark.parametrize('filtered', [False, True], ids=['extent', 'filter_bbox'])
def test_synchronous_ndvi_matches_the_demo_formula(server, tmp_path, filtered):
    """The bbox as load_collection's extent, or as a filter_bbox step after it (to the
    western half: the result is that half, as rasterio reads it from the files)."""
    connection = connect(server)
    target = tmp_path / 'ndvi.tif'
    box = WEST if filtered else LYON
    cube = filtered_ndvi_cube(connection, WEST) if filtered else ndvi_cube(connection)
    cube.download(target, format='GTiff')
    with rasterio.open(target) as dataset:
        values = dataset.read(1)
        assert dataset.crs.to_epsg() == 4326
        assert [dataset.bounds.left, dataset.bounds.bottom, dataset.bounds.right,
                dataset.bounds.top] == pytest.approx([box['west'], box['south'], box['east'],
                                                      box['north']])
    expected = demo_ndvi_mean(server, box)
    assert values.shape == expected.shape and (not filtered or expected.shape[1] == 15)
    np.testing.assert_allclose(values, expected, rtol=1e-5)


def test_a_cube_reduced_to_band_statistics_answers_json(server):
    """No spatial dimension left: the result is the numbers, as JSON (no raster)."""
    cube = connect(server).load_collection('products', temporal_extent=DATES,
                                           bands=['red', 'nir'])
    for dimension in ('x', 'y', 't'):
        cube = cube.reduce_dimension(dimension=dimension, reducer='mean')
    answer = requests.post(f'{server.url}/openeo/1.2/result', json={'process': {
        'process_graph': cube.flat_graph()}}, auth=as_('alice'), timeout=120)
    assert answer.status_code == 200 and answer.headers['Content-Type'].startswith(
        'application/json'), answer.text
    means = []
    for path in sorted((server.data_dir / 'demo').glob('DEMO_S2_BANDS_*.tif')):
        with rasterio.open(path) as dataset:
            means.append([dataset.read(i).astype('float64').mean() for i in (1, 2)])
    np.testing.assert_allclose(answer.json(), np.mean(means, axis=0), rtol=1e-6)


def test_batch_job_lifecycle_with_stac_results_and_logs(server, tmp_path):
    connection = connect(server)
    job = ndvi_cube(connection).save_result(format='netCDF').create_job(title='ndvi mean')
    assert job.status() == 'created'
    job.start_and_wait(max_poll_interval=1, connection_retry_interval=1)
    assert job.status() == 'finished'
    results = job.get_results()
    metadata = results.get_metadata()
    assert metadata['type'] == 'Feature' and list(metadata['assets']) == ['result.nc']
    results.download_files(tmp_path)
    import xarray
    with xarray.open_dataset(tmp_path / 'result.nc') as dataset:
        values = dataset['data'].values
        box = pixel_edges(dataset['x'].values, dataset['y'].values)
    np.testing.assert_allclose(values, demo_ndvi_mean(server), rtol=1e-5)
    # the item's footprint: the written raster's extent (its pixel edges; EPSG:4326)
    assert metadata['bbox'] == pytest.approx(box)
    assert metadata['geometry']['type'] == 'Polygon'
    assert metadata['geometry']['coordinates'][0] == [
        pytest.approx(corner) for corner in ([box[0], box[1]], [box[2], box[1]],
                                             [box[2], box[3]], [box[0], box[3]],
                                             [box[0], box[1]])]
    assert box == pytest.approx([LYON['west'], LYON['south'], LYON['east'], LYON['north']],
                                abs=abs(box[2] - box[0]) / len(values[0]))
    assert any('load_collection products' in entry['message'] for entry in job.logs())
    # the results are also the owner's records in the results collection (bob: none)
    found = requests.get(f'{server.url}/collections/results/items', auth=as_('alice'),
                         timeout=10).json()['features']
    record = next(r for r in found if r['id'] == f'{job.job_id}/{job.job_id}')
    assert record['geometry'] == metadata['geometry']
    assert not [r for r in requests.get(f'{server.url}/collections/results/items',
                                        auth=as_('bob'), timeout=10).json()['features']
                if r['id'].startswith(job.job_id)]
    # beside the files, a self-contained STAC catalog valid against the official schemas
    # (pystac's copies); the record registered from the item in memory is the one the
    # item's file gives
    folder = server.data_dir / 'jobs' / job.job_id / 'results' / 'openeo'
    catalog = pystac.read_file(str(folder / 'catalog.json'))
    assert catalog.validate_all() == 1
    [item] = catalog.get_items(recursive=True)
    assert item.id == job.job_id and item.properties['title'] == 'ndvi mean'
    assert list(item.assets) == ['result.nc'] and item.bbox == pytest.approx(box)
    from_file, = stac_records(folder, f'{server.url}/jobs/{job.job_id}/results/openeo',
                              id_prefix=f'{job.job_id}/')
    assert record['assets'] == from_file['assets'] and record['assets']['result.nc'][
        'href'] == f'{server.url}/jobs/{job.job_id}/results/openeo/result.nc'
    assert job.job_id in [j['id'] for j in connection.list_jobs()]
    ogc_jobs = requests.get(f'{server.url}/jobs?limit=100', auth=as_('alice'),
                            timeout=10).json()['jobs']  # one engine: also an OGC API job
    assert job.job_id in [j['jobID'] for j in ogc_jobs]
    # another user sees nothing of it
    other = connect(server, 'bob')
    assert job.job_id not in [j['id'] for j in other.list_jobs()]
    reply = requests.get(f'{server.url}/openeo/1.2/jobs/{job.job_id}', auth=as_('bob'),
                         timeout=10)
    assert reply.status_code == 404 and reply.json()['code'] == 'JobNotFound'
    job.delete()
    assert job.job_id not in [j['id'] for j in connection.list_jobs()]


def test_user_defined_process_saved_and_reused(server, tmp_path):
    from openeo.api.process import Parameter
    connection = connect(server)
    data = Parameter.raster_cube()
    graph = {'ndvi1': {'process_id': 'ndvi', 'arguments': {'data': {'from_parameter': 'data'}}},
             'mean1': {'process_id': 'reduce_dimension', 'arguments': {
                 'data': {'from_node': 'ndvi1'}, 'dimension': 't', 'reducer': {
                     'process_graph': {'m': {'process_id': 'mean', 'arguments': {
                         'data': {'from_parameter': 'data'}}, 'result': True}}}},
                 'result': True}}
    connection.save_user_defined_process('mean_ndvi', graph, parameters=[data])
    assert 'mean_ndvi' in [p['id'] for p in connection.list_user_defined_processes()]
    assert 'mean_ndvi' not in [p['id'] for p in
                               connect(server, 'bob').list_user_defined_processes()]
    cube = connection.load_collection('products', spatial_extent=LYON,
                                      temporal_extent=DATES, bands=['red', 'nir'])
    target = tmp_path / 'udp.tif'
    cube.process('mean_ndvi', data=cube).download(target, format='GTiff')
    with rasterio.open(target) as dataset:
        np.testing.assert_allclose(dataset.read(1), demo_ndvi_mean(server), rtol=1e-5)


def test_bad_graphs_get_openeo_errors(server):
    connection = connect(server)
    checked = connection.validate_process_graph({'x': {'process_id': 'run_udf', 'arguments': {
        'data': 1, 'udf': 'print(1)', 'runtime': 'Python'}, 'result': True}})
    assert checked and checked[0]['code'] == 'ProcessUnsupported'
    reply = requests.post(f'{server.url}/openeo/1.2/result', auth=as_('alice'), timeout=30,
                          json={'process': {'process_graph': {'x': {
                              'process_id': 'load_collection', 'arguments': {
                                  'id': 'no-such', 'spatial_extent': None,
                                  'temporal_extent': None}, 'result': True}}}})
    assert reply.status_code == 400 or reply.status_code == 404, reply.text
    assert reply.json()['code'] == 'CollectionNotFound'


def test_oidc_bearer_token(server):
    connection = openeo.connect(f'{server.url}/openeo/1.2/')
    providers = requests.get(f'{server.url}/openeo/1.2/credentials/oidc', timeout=10).json()
    assert [p['issuer'] for p in providers['providers']] == [ISSUER]
    token = jwt.encode({'sub': 'carol', 'iss': ISSUER, 'exp': int(time.time()) + 300},
                       SIGNING_KEY, algorithm='RS256', headers={'kid': 'k1'})
    connection.authenticate_oidc_access_token(token, provider_id=providers['providers'][0]['id'])
    assert connection.describe_account()['user_id'] == 'carol'
    forged = jwt.encode({'sub': 'alice', 'iss': ISSUER, 'exp': int(time.time()) + 300},
                        rsa.generate_private_key(public_exponent=65537, key_size=2048),
                        algorithm='RS256', headers={'kid': 'k1'})
    reply = requests.get(f'{server.url}/openeo/1.2/me', timeout=10,
                         headers={'Authorization': f'Bearer oidc/oidc/{forged}'})
    assert reply.status_code == 401 and reply.json()['code'] == 'CredentialsInvalid'


def test_files_are_each_users_own(server, tmp_path):
    connection = connect(server)
    source = tmp_path / 'aoi.geojson'
    source.write_bytes(b'{"type": "FeatureCollection", "features": []}')
    connection.upload_file(source, target='inputs/aoi.geojson')
    assert [str(f.path) for f in connection.list_files()] == ['inputs/aoi.geojson']
    connection.get_file('inputs/aoi.geojson').download(tmp_path / 'back.geojson')
    assert (tmp_path / 'back.geojson').read_bytes() == source.read_bytes()
    url = f'{server.url}/openeo/1.2/files/inputs/aoi.geojson'
    assert requests.get(url, auth=as_('bob'), timeout=10).status_code == 404
    assert connect(server, 'bob').list_files() == []
    escape = requests.put(f'{server.url}/openeo/1.2/files/a/..%2F..%2Fescape.txt',
                          data=b'x', auth=as_('alice'), timeout=10)
    assert escape.status_code in (400, 404) and set(escape.json()) == {
        'id', 'code', 'message', 'links'}
    connection.get_file('inputs/aoi.geojson').delete()
    assert connection.list_files() == []


def test_a_deployed_ogc_process_is_a_step_of_a_graph(server, tmp_path):
    """Someone deploys an application package over OGC API - Processes; an openEO user
    calls it from a graph: the NDVI cube goes in as a GeoTIFF, its CSV comes out."""
    deployed = requests.post(f'{server.url}/processes', auth=as_('alice'), timeout=30,
                             data=(PACKAGES / 'landcover.ogcapppkg.json').read_bytes(),
                             headers={'Content-Type': 'application/ogcapppkg+json'})
    assert deployed.status_code == 201, deployed.text
    connection = connect(server, 'bob')
    aoi = ','.join(str(LYON[k]) for k in ('west', 'south', 'east', 'north'))
    step = ndvi_cube(connection).process('landcover', source=ndvi_cube(connection),
                                         aoi=aoi, epsg=4326, resolution=20)
    job = step.create_job(title='ndvi then landcover')
    job.start_and_wait(max_poll_interval=1, connection_retry_interval=1)
    results = job.get_results()
    names = sorted(results.get_metadata()['assets'])
    assert names == ['result.json', 'step1_landcover_classification.csv',
                     'step1_landcover_source.tif']
    results.download_files(tmp_path)
    handed = (tmp_path / 'step1_landcover_source.tif').read_bytes()
    with rasterio.open(tmp_path / 'step1_landcover_source.tif') as dataset:
        np.testing.assert_allclose(dataset.read(1), demo_ndvi_mean(server), rtol=1e-5)
    csv = (tmp_path / 'step1_landcover_classification.csv').read_text()
    assert f'source_sha256,{hashlib.sha256(handed).hexdigest()}' in csv
    assert f'minx,{LYON["west"]}' in csv
    outputs = json.loads((tmp_path / 'result.json').read_text())  # the step's outputs
    assert outputs['stac'].endswith('/catalog.json')
    listed = requests.get(f'{server.url}/openeo/1.2/processes/ogc', timeout=10).json()
    landcover = next(p for p in listed['processes'] if p['id'] == 'landcover')
    assert {p['name'] for p in landcover['parameters']} >= {'source', 'aoi', 'epsg'}
    # a process the caller may not see is no step (validation names it)
    checked = connection.validate_process_graph({'x': {'process_id': 'no_such_ogc',
                                                       'arguments': {}, 'result': True}})
    assert checked and checked[0]['code'] == 'ProcessUnsupported'


def test_embedded_default_serves_openeo_out_of_the_box(tmp_path):
    """config/local.yml as shipped (no auth block: the one local user): the landing page
    links the openEO API and a client computes without signing in."""
    block = copy.deepcopy(LOCAL['eoorder'])
    block['data_dir'] = str(tmp_path / 'data')
    server = Server(tmp_path, block, LOCAL['resources']).start()
    try:
        landing = requests.get(f'{server.url}/?f=json', timeout=10).json()
        assert f'{server.url}/openeo/1.2/' in [link['href'] for link in landing['links']]
        connection = openeo.connect(f'{server.url}/openeo/1.2/')
        target = tmp_path / 'ndvi.tif'
        filtered_ndvi_cube(connection, WEST).download(target, format='GTiff')
        with rasterio.open(target) as dataset:
            np.testing.assert_allclose(dataset.read(1), demo_ndvi_mean(server, WEST),
                                       rtol=1e-5)
    finally:
        server.stop()

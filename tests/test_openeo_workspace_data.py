"""openEO on the data of workspaces (issue #19 item 2 with the workspaces of issue 18): a
workspace's records collection is an openEO collection of its members, and a graph's
`load_collection` reads its items' band assets from the workspace's own S3 objects and over
http(s) (the stage-in rules). Anyone else finds neither the collection nor the objects: an
s3:// href into another user's workspace fails like an object that does not exist. The
results a batch job stages out into a workspace are data of the next graph.

Real S3 server (`rclone serve s3`), real HTTP file server on loopback, the real `openeo`
client. Oracle: NDVI computed here with rasterio and numpy from the files uploaded."""

from __future__ import annotations

import contextlib
import tempfile

import json

import numpy as np
import pytest
import rasterio
import requests

from pygeoapi_eoorder.catalogue import demo_bands
from tests.support.auth import as_, openeo_as as connect
from tests.support.s3 import ACCESS_KEY, SECRET_KEY
from tests.support.workspaces import StaticFiles, put_file, s3, s3_client, start_site, \
    stop_site

__all__ = ['s3']
BANDS = ['red', 'nir']
DATES = ['2024-06-01', '2024-07-01']
GEOTIFF = 'image/tiff; application=geotiff'
PROVIDER = 'provider-data'  # a bucket of `execution.stage_in.s3_sources` on the same store


def item(product, href: str) -> dict:
    """A STAC item of a demo bands product whose asset is at `href`."""
    west, south, east, north = demo_bands.BBOX
    rows, cols = demo_bands.SIZE
    return {
        'type': 'Feature', 'stac_version': '1.1.0', 'id': product.identifier,
        'stac_extensions': ['https://stac-extensions.github.io/eo/v1.1.0/schema.json',
                            'https://stac-extensions.github.io/projection/v1.1.0/schema.json'],
        'geometry': {'type': 'Polygon', 'coordinates': [[
            [west, south], [east, south], [east, north], [west, north], [west, south]]]},
        'bbox': [west, south, east, north], 'links': [],
        'properties': {'datetime': product.start},
        'assets': {'bands': {
            'href': href, 'type': GEOTIFF, 'roles': ['data'],
            'eo:bands': [{'name': name} for name in BANDS], 'proj:epsg': 4326,
            'proj:shape': [rows, cols],
            'proj:transform': [(east - west) / cols, 0.0, west, 0.0, -(north - south) / rows,
                               north]}}}


def call(site, method: str, user: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f'{site.url}{path}', auth=as_(user), timeout=120,
                            **kwargs)


def register(site, www, user: str, workspace: str, document: dict) -> None:
    """Register a STAC item, served by `www`, in the workspace (as EOEPCA's register)."""
    (www.root / f'{document["id"]}.json').write_text(json.dumps(document))
    reply = call(site, 'POST', user, f'/workspaces/{workspace}/register',
                 json={'url': f'{www.url}/{document["id"]}.json'})
    assert reply.status_code == 200 and reply.json()['registered']['inserted'] == 1, \
        reply.text


@pytest.fixture(scope='module')
def site(tmp_path_factory, s3):
    directory = tmp_path_factory.mktemp('openeo-ws')
    served = directory / 'www'
    served.mkdir()
    www = StaticFiles(served)
    www.root = served
    server = start_site(directory, {'alice': ['user'], 'bob': ['user'], 'carol': ['user']},
                        {}, s3=s3, execution={'stage_in': {'s3_sources': [{
                            'buckets': [PROVIDER], 'endpoint_url': s3.endpoint,
                            'access_key_id': ACCESS_KEY, 'secret_access_key': SECRET_KEY}]}})
    files = {}
    for product in demo_bands.PRODUCTS:
        path = directory / f'{product.identifier}.tif'
        demo_bands.write_geotiff(product, path)
        files[product.identifier] = path
    for owner, workspace in (('alice', 'scenes'), ('alice', 'snoop'), ('alice', 'outputs'),
                             ('alice', 'mixed'), ('bob', 'bobs')):
        assert call(server, 'POST', owner, '/workspaces', json={'id': workspace}
                    ).status_code == 201
    assert call(server, 'POST', 'alice', '/workspaces/scenes/members',
                json={'user': 'carol'}).status_code == 200
    bucket = f's3://{server.bucket}/workspaces'
    first, second, third = demo_bands.PRODUCTS
    for product in (first, second):  # in the workspace's S3 objects
        key = f'data/{product.identifier}.tif'
        put_file(server.url, 'alice', 'scenes', key, files[product.identifier].read_bytes())
        register(server, www, 'alice', 'scenes', item(product, f'{bucket}/scenes/{key}'))
    (served / 'third.tif').write_bytes(files[third.identifier].read_bytes())  # over http
    register(server, www, 'alice', 'scenes', item(third, f'{www.url}/third.tif'))
    # bob's object, and an item of alice's pointing at it (and one at nothing of hers)
    put_file(server.url, 'bob', 'bobs', 'private.tif', files[first.identifier].read_bytes())
    register(server, www, 'alice', 'snoop', item(first, f'{bucket}/bobs/private.tif'))
    # a workspace item whose asset is in a provider's bucket (read with the source's keys)
    s3_client(s3).create_bucket(Bucket=PROVIDER)
    s3_client(s3).upload_file(str(files[first.identifier]), PROVIDER, 'first.tif')
    register(server, www, 'alice', 'mixed', item(first, f's3://{PROVIDER}/first.tif'))
    server.files, server.www = files, www
    yield server
    stop_site(server)
    www.stop()


def expected_ndvi_mean(site) -> np.ndarray:
    ndvis = []
    for path in site.files.values():
        with rasterio.open(path) as dataset:
            red, nir = (dataset.read(i).astype('float64') for i in (1, 2))
        ndvis.append((nir - red) / (nir + red))
    return np.mean(ndvis, axis=0)


def graph(collection: str) -> dict:
    return {'process_graph': {
        'load': {'process_id': 'load_collection', 'arguments': {
            'id': collection, 'spatial_extent': None, 'temporal_extent': DATES,
            'bands': BANDS}},
        'ndvi': {'process_id': 'ndvi', 'arguments': {'data': {'from_node': 'load'}}},
        'save': {'process_id': 'save_result', 'arguments': {
            'data': {'from_node': 'ndvi'}, 'format': 'GTiff'}, 'result': True}}}


def mean_over_t(node: str) -> dict:
    return {'process_id': 'reduce_dimension', 'arguments': {
        'data': {'from_node': node}, 'dimension': 't', 'reducer': {'process_graph': {
            'm': {'process_id': 'mean', 'arguments': {'data': {'from_parameter': 'data'}},
                  'result': True}}}}}


def without_id(reply: requests.Response, named: str, instead: str) -> dict:
    """An openEO error with the name replaced and without its (unique) `id`."""
    answer = json.loads(reply.text.replace(named, instead))
    return {k: v for k, v in answer.items() if k != 'id'}


def test_a_workspace_collection_is_an_openeo_collection_of_its_members(site):
    for user in ('alice', 'carol'):
        connection = connect(site, user)
        assert 'workspace-scenes' in connection.list_collection_ids()
        described = connection.describe_collection('workspace-scenes')
        assert described['cube:dimensions']['bands']['values'] == BANDS
        assert described['extent']['spatial']['bbox'] == [list(demo_bands.BBOX)]
    bob = connect(site, 'bob')
    assert 'workspace-scenes' not in bob.list_collection_ids()
    hidden = call(site, 'GET', 'bob', '/openeo/1.2/collections/workspace-scenes')
    absent = call(site, 'GET', 'bob', '/openeo/1.2/collections/workspace-nothing')
    assert hidden.status_code == absent.status_code == 404
    assert without_id(hidden, 'workspace-scenes', 'X') == without_id(
        absent, 'workspace-nothing', 'X')
    assert without_id(hidden, 'workspace-scenes', 'X')['code'] == 'CollectionNotFound'


def test_load_collection_reads_the_assets_in_the_workspace_and_over_http(site, tmp_path):
    """A member (not the owner) averages the NDVI of the three dates: two read from the
    workspace's S3 objects, one from a file server."""
    connection = connect(site, 'carol')
    cube = connection.load_collection('workspace-scenes', temporal_extent=DATES,
                                      bands=BANDS)
    target = tmp_path / 'ndvi.tif'
    cube.ndvi(red='red', nir='nir').reduce_dimension(dimension='t', reducer='mean') \
        .download(target, format='GTiff')
    with rasterio.open(target) as dataset:
        assert [dataset.bounds.left, dataset.bounds.bottom, dataset.bounds.right,
                dataset.bounds.top] == pytest.approx(list(demo_bands.BBOX))
        np.testing.assert_allclose(dataset.read(1), expected_ndvi_mean(site), rtol=1e-5)


def test_a_batch_job_of_the_owner_reads_them_too(site):
    connection = connect(site, 'alice')
    job = connection.create_job(graph('workspace-scenes'), title='workspace ndvi')
    job.start_and_wait(max_poll_interval=1, connection_retry_interval=1)
    assert job.status() == 'finished'
    assert any('load_collection workspace-scenes: 3 records' in entry['message']
               for entry in job.logs())


def test_outsiders_cannot_load_the_collection(site):
    hidden = call(site, 'POST', 'bob', '/openeo/1.2/result', json={
        'process': graph('workspace-scenes')})
    absent = call(site, 'POST', 'bob', '/openeo/1.2/result', json={
        'process': graph('workspace-nothing')})
    assert hidden.status_code == absent.status_code != 200, hidden.text
    assert without_id(hidden, 'workspace-scenes', 'X') == without_id(
        absent, 'workspace-nothing', 'X')
    assert without_id(hidden, 'workspace-scenes', 'X')['code'] == 'CollectionNotFound'


def test_an_s3_href_into_another_users_workspace_is_as_if_absent(site):
    """alice's `snoop` workspace holds an item whose asset is bob's object: reading it
    fails as an object that does not exist (and bob's bytes are in no result)."""
    bucket = f's3://{site.bucket}/workspaces'
    theirs = f'{bucket}/bobs/private.tif'
    reply = call(site, 'POST', 'alice', '/openeo/1.2/result', json={
        'process': graph('workspace-snoop')})
    assert reply.status_code != 200 and reply.headers['Content-Type'].startswith(
        'application/json'), reply.text
    message = reply.json()['message']
    assert message == f'input load_collection: {theirs} does not exist', message
    # the same item pointing at no object of alice's own gives the same answer
    nothing = f'{bucket}/snoop/no-such.tif'
    document = item(demo_bands.PRODUCTS[0], nothing)
    document['id'] = 'nothing-there'
    register(site, site.www, 'alice', 'snoop', document)
    assert call(site, 'DELETE', 'alice', f'/workspaces/snoop/records/'
                f'{demo_bands.PRODUCTS[0].identifier}').status_code == 204
    missing = call(site, 'POST', 'alice', '/openeo/1.2/result', json={
        'process': graph('workspace-snoop')})
    assert missing.status_code == reply.status_code
    assert without_id(missing, nothing, 'HREF') == without_id(reply, theirs, 'HREF')


def mean_into(site, workspace: str, file_format: str) -> None:
    """alice's batch job: the NDVI mean of the workspace scenes saved in `file_format`
    into her workspace `workspace`, run to its end."""
    created = call(site, 'POST', 'alice', '/openeo/1.2/jobs', json={
        'process': {'process_graph': {
            **{k: v for k, v in graph('workspace-scenes')['process_graph'].items()
               if k != 'save'},
            'mean': mean_over_t('ndvi'),
            'save': {'process_id': 'save_result', 'arguments': {
                'data': {'from_node': 'mean'}, 'format': file_format}, 'result': True}}},
        'workspace': workspace})
    assert created.status_code == 201, created.text
    job = connect(site, 'alice').job(created.headers['OpenEO-Identifier'])
    job.start_and_wait(max_poll_interval=1, connection_retry_interval=1)


def test_results_staged_into_a_workspace_are_data_of_the_next_graph(site, tmp_path):
    """alice's batch job writes the NDVI mean into her workspace `outputs`: its item (band
    `data`, no projection metadata: the file has it) lands in the workspace's collection
    with the asset at the workspace's file URL on this server; a second graph loads it
    from there and gets the same values."""
    mean_into(site, 'outputs', 'GTiff')
    listed = call(site, 'GET', 'alice', '/workspaces/outputs/records').json()
    [record] = listed['features']
    [asset] = record['assets'].values()
    assert asset['href'].startswith(f'{site.url}/workspaces/outputs/files/')
    assert asset['bands'] == [{'name': 'data'}] and 'proj:transform' not in asset
    np.testing.assert_allclose(loaded_again(site, 'workspace-outputs', tmp_path),
                               expected_ndvi_mean(site), rtol=1e-5)


def test_a_time_series_staged_into_a_workspace_loads_as_a_time_series(site, tmp_path):
    """NDVI kept per date: one GeoTIFF per date in one workspace item, each asset with
    its datetime; load_collection gives the dates back (their mean is the oracle's)."""
    assert call(site, 'POST', 'alice', '/workspaces', json={'id': 'series'}
                ).status_code == 201
    created = call(site, 'POST', 'alice', '/openeo/1.2/jobs', json={
        'process': graph('workspace-scenes'), 'workspace': 'series'})
    assert created.status_code == 201, created.text
    job = connect(site, 'alice').job(created.headers['OpenEO-Identifier'])
    job.start_and_wait(max_poll_interval=1, connection_retry_interval=1)
    [record] = call(site, 'GET', 'alice', '/workspaces/series/records').json()['features']
    assert sorted(a['datetime'][:10] for a in record['assets'].values()) == \
        sorted(p.date for p in demo_bands.PRODUCTS)
    np.testing.assert_allclose(loaded_again(site, 'workspace-series', tmp_path),
                               expected_ndvi_mean(site), rtol=1e-5)


def loaded_again(site, collection: str, tmp_path) -> np.ndarray:
    """Band `data` of a workspace collection loaded by a synchronous graph of alice's,
    averaged over `t`."""
    again = call(site, 'POST', 'alice', '/openeo/1.2/result', json={'process': {
        'process_graph': {
            'load': {'process_id': 'load_collection', 'arguments': {
                'id': collection, 'spatial_extent': None, 'temporal_extent': None,
                'bands': ['data']}},
            'mean': mean_over_t('load'),
            'save': {'process_id': 'save_result', 'arguments': {
                'data': {'from_node': 'mean'}, 'format': 'GTiff'}, 'result': True}}}})
    assert again.status_code == 200, again.text
    (tmp_path / 'again.tif').write_bytes(again.content)
    with rasterio.open(tmp_path / 'again.tif') as dataset:
        return dataset.read(1)


def test_a_file_url_of_another_users_workspace_is_as_if_absent(site):
    """The same for this server's workspace file URLs: bob's file (it exists), a file
    alice's own workspace does not hold, and keys or workspace ids climbing out with `..`
    fail alike."""
    assert call(site, 'POST', 'alice', '/workspaces', json={'id': 'peek'}).status_code == 201
    answers = []
    for index, href in enumerate([f'{site.url}/workspaces/bobs/files/private.tif',
                                  f'{site.url}/workspaces/peek/files/no-such.tif',
                                  f'{site.url}/workspaces/peek/files/..%2F..%2Fbobs/private.tif',
                                  f'{site.url}/workspaces/%2E%2E/files/bobs/private.tif']):
        document = item(demo_bands.PRODUCTS[0], href)
        document['id'] = f'peek-{index}'
        register(site, site.www, 'alice', 'peek', document)
        reply = call(site, 'POST', 'alice', '/openeo/1.2/result', json={
            'process': graph('workspace-peek')})
        assert reply.json()['message'] == f'input load_collection: {href} does not exist'
        answers.append(without_id(reply, href, 'HREF') | {'status': reply.status_code})
        assert call(site, 'DELETE', 'alice', f'/workspaces/peek/records/peek-{index}'
                    ).status_code == 204
    assert all(answer == answers[0] for answer in answers) and answers[0]['status'] != 200


def test_a_workspace_item_may_name_an_object_of_a_configured_s3_source(site, tmp_path):
    reply = call(site, 'POST', 'alice', '/openeo/1.2/result', json={
        'process': graph('workspace-mixed')})
    assert reply.status_code == 200, reply.text
    (tmp_path / 'first.tif').write_bytes(reply.content)
    first = site.files[demo_bands.PRODUCTS[0].identifier]
    with rasterio.open(first) as dataset:
        red, nir = (dataset.read(i).astype('float64') for i in (1, 2))
    with rasterio.open(tmp_path / 'first.tif') as dataset:
        np.testing.assert_allclose(dataset.read(1), (nir - red) / (nir + red), rtol=1e-5)


@contextlib.contextmanager
def netCDF4_dataset(site, record: dict):
    """The record's netCDF file, opened with xarray (the workspace's file on disk)."""
    import xarray
    [asset] = record['assets'].values()
    reply = call(site, 'GET', 'alice', asset['href'].removeprefix(site.url))
    assert reply.status_code == 200, reply.text
    with tempfile.NamedTemporaryFile(suffix='.nc') as file:
        file.write(reply.content)
        file.flush()
        with xarray.open_dataset(file.name) as dataset:
            yield dataset


def test_a_netcdf_staged_into_a_workspace_is_data_of_the_next_graph(site, tmp_path):
    """The NDVI mean saved as netCDF into a workspace: load_collection of the workspace's
    collection reads the file (its variable `data`) and gets the same values; the
    collection names that variable as its band (as a GeoTIFF's bands are named)."""
    assert call(site, 'POST', 'alice', '/workspaces', json={'id': 'cubes'}
                ).status_code == 201
    mean_into(site, 'cubes', 'netCDF')
    [record] = call(site, 'GET', 'alice', '/workspaces/cubes/records').json()['features']
    assert [a['type'] for a in record['assets'].values()] == ['application/x-netcdf']
    with netCDF4_dataset(site, record) as dataset:
        variables = [name for name in dataset.data_vars]
    described = call(site, 'GET', 'alice', '/openeo/1.2/collections/workspace-cubes').json()
    assert described['cube:dimensions']['bands']['values'] == variables == ['data']
    np.testing.assert_allclose(loaded_again(site, 'workspace-cubes', tmp_path),
                               expected_ndvi_mean(site), rtol=1e-5)

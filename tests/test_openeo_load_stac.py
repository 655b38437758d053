"""openEO `load_stac`: a static STAC catalog, a paged ItemCollection and a STAC API
collection served over HTTP, and this server's own batch job results, loaded as cubes
(extents, bands, properties), through the stage-in rules. Another user's job results
answer as a job that does not exist; addresses and files outside the rules are refused.

Real HTTP file server on loopback (the server allows loopback, as a deployer allows a
data host), the real `openeo` client. Oracle: values computed here with rasterio and numpy
from the files served."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
import rasterio
import requests
from openeo.rest import OpenEoApiError

from pygeoapi_eoorder.catalogue import demo_bands
from tests.support.auth import as_, openeo_as as connect
from tests.support.workspaces import StaticFiles, start_site, stop_site

BANDS = ['red', 'nir']
WEST, SOUTH, EAST, NORTH = demo_bands.BBOX
FOOTPRINT = {'type': 'Polygon', 'coordinates': [[[WEST, SOUTH], [EAST, SOUTH], [EAST, NORTH],
                                                 [WEST, NORTH], [WEST, SOUTH]]]}
CLOUDS = (5.0, 80.0, 20.0)  # eo:cloud_cover of the three dates


def stac_item(product, href: str, bands_key: str = 'eo:bands', **properties) -> dict:
    """A STAC item of a demo bands product whose asset is at `href` (relative or not);
    no projection fields: the grid is the file's."""
    return {'type': 'Feature', 'stac_version': '1.1.0', 'id': product.identifier,
            'geometry': FOOTPRINT, 'bbox': list(demo_bands.BBOX),
            'properties': {'datetime': f'{product.date}T10:00:00Z', **properties},
            'links': [], 'assets': {'bands': {
                'href': href, 'type': demo_bands.GEOTIFF, 'roles': ['data'],
                bands_key: [{'name': name} for name in BANDS]}}}


def serve_catalog(root: Path) -> None:
    """catalog.json (a collection) → items/<id>/<id>.json → ../../data/<id>.tif (relative
    links); the
    same items as an ItemCollection in two pages (page1.json → page2.json); a STAC API
    collection (api/collection.json) whose `items` link is page1.json."""
    (root / 'data').mkdir()
    features = []
    for product, clouds in zip(demo_bands.PRODUCTS, CLOUDS):
        demo_bands.write_geotiff(product, root / 'data' / f'{product.identifier}.tif')
        folder = root / 'items' / product.identifier
        folder.mkdir(parents=True)
        key = 'bands' if product.index == 1 else 'eo:bands'  # STAC 1.1 and eo 1.1
        item = stac_item(product, f'../../data/{product.identifier}.tif', key,
                         **{'eo:cloud_cover': clouds, 'platform': 'sentinel-2a'})
        item['links'] = [{'rel': 'root', 'href': '../../catalog.json'},
                         {'rel': 'parent', 'href': '../../catalog.json'}]
        (folder / f'{product.identifier}.json').write_text(json.dumps(item))
        features.append(stac_item(product, f'data/{product.identifier}.tif', key,
                                  **{'eo:cloud_cover': clouds}))
    (root / 'catalog.json').write_text(json.dumps({  # a collection, as a datacube
        'type': 'Collection', 'stac_version': '1.1.0', 'id': 'demo', 'description': 'demo',
        'license': 'other', 'extent': {'spatial': {'bbox': [list(demo_bands.BBOX)]},
                                       'temporal': {'interval': [[None, None]]}},
        'stac_extensions': ['https://stac-extensions.github.io/datacube/v2.2.0/schema.json'],
        'cube:dimensions': {
            'x': {'type': 'spatial', 'axis': 'x', 'extent': [WEST, EAST]},
            'y': {'type': 'spatial', 'axis': 'y', 'extent': [SOUTH, NORTH]},
            't': {'type': 'temporal', 'extent': [None, None]},
            'bands': {'type': 'bands', 'values': BANDS}},
        'links': [{'rel': 'root', 'href': './catalog.json'}] + [
            {'rel': 'item', 'href': f'./items/{p.identifier}/{p.identifier}.json'}
            for p in demo_bands.PRODUCTS]}))
    (root / 'page1.json').write_text(json.dumps({
        'type': 'FeatureCollection', 'features': features[:2],
        'links': [{'rel': 'next', 'href': 'page2.json'}]}))
    (root / 'page2.json').write_text(json.dumps({
        'type': 'FeatureCollection', 'features': features[2:], 'links': []}))
    (root / 'api').mkdir()
    (root / 'api' / 'collection.json').write_text(json.dumps({
        'type': 'Collection', 'stac_version': '1.1.0', 'id': 'api', 'description': 'api',
        'license': 'other', 'extent': {'spatial': {'bbox': [list(demo_bands.BBOX)]},
                                       'temporal': {'interval': [[None, None]]}},
        'links': [{'rel': 'items', 'href': '../page1.json', 'type': 'application/geo+json'}]}))


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    directory = tmp_path_factory.mktemp('openeo-stac')
    served = directory / 'www'
    served.mkdir()
    serve_catalog(served)
    www = StaticFiles(served)
    server = start_site(directory, {'alice': ['user'], 'bob': ['user']}, {})
    server.www, server.served = www, served
    yield server
    stop_site(server)
    www.stop()


def ndvi_mean(site, indexes) -> np.ndarray:
    """The oracle: NDVI of the given dates' files, averaged over time."""
    ndvis = []
    for index in indexes:
        product = demo_bands.PRODUCTS[index]
        with rasterio.open(site.served / 'data' / f'{product.identifier}.tif') as dataset:
            red, nir = (dataset.read(i).astype('float64') for i in (1, 2))
        ndvis.append((nir - red) / (nir + red))
    return np.mean(ndvis, axis=0)


def load(url: str, **arguments) -> dict:
    return {'process_id': 'load_stac', 'arguments': {'url': url, **arguments}}


def ndvi_graph(loading: dict) -> dict:
    return {'process_graph': {
        'load': loading,
        'ndvi': {'process_id': 'ndvi', 'arguments': {'data': {'from_node': 'load'}}},
        'mean': {'process_id': 'reduce_dimension', 'arguments': {
            'data': {'from_node': 'ndvi'}, 'dimension': 't', 'reducer': {'process_graph': {
                'm': {'process_id': 'mean', 'arguments': {'data': {'from_parameter': 'data'}},
                      'result': True}}}}},
        'save': {'process_id': 'save_result', 'arguments': {
            'data': {'from_node': 'mean'}, 'format': 'GTiff'}, 'result': True}}}


def computed(connection, graph: dict, tmp_path: Path) -> np.ndarray:
    target = tmp_path / 'result.tif'
    connection.download(graph, target)
    with rasterio.open(target) as dataset:
        return dataset.read(1)


def cloud_below(limit: float) -> dict:
    return {'eo:cloud_cover': {'process_graph': {'lt': {
        'process_id': 'lt', 'arguments': {'x': {'from_parameter': 'value'}, 'y': limit},
        'result': True}}}}


def post_result(site, user: str, graph: dict) -> requests.Response:
    return requests.post(f'{site.url}/openeo/1.2/result', auth=as_(user), timeout=120,
                         json={'process': graph})


def test_load_stac_is_a_process_with_its_official_description(site):
    processes = {p['id']: p for p in connect(site, 'alice').list_processes()}
    official = json.loads((Path(__file__).parent / 'data' / 'openeo-suite' / 'processes' /
                           'proposals' / 'load_stac.json').read_text())
    assert processes['load_stac']['parameters'] == official['parameters']
    assert processes['load_stac']['returns'] == official['returns']


def test_static_catalog_in_a_time_window_with_the_client(site, tmp_path):
    """The client's own load_stac; the catalog's relative links and assets resolved; one
    item names its bands as STAC 1.1 `bands`, the others as `eo:bands`."""
    connection = connect(site, 'alice')
    cube = connection.load_stac(f'{site.www.url}/catalog.json',
                                temporal_extent=['2024-06-10', '2024-07-01'], bands=BANDS)
    target = tmp_path / 'mean.tif'
    cube.ndvi().reduce_dimension('t', reducer='mean').download(target, format='GTiff')
    with rasterio.open(target) as dataset:
        found = dataset.read(1)
    assert found.shape == demo_bands.SIZE
    np.testing.assert_allclose(found, ndvi_mean(site, [1, 2]), rtol=1e-5)
    assert not np.allclose(found, ndvi_mean(site, [0, 1, 2]), rtol=1e-5)  # a window


def test_paged_item_collection_with_properties(site, tmp_path):
    """Both pages read (the `next` link); the items whose eo:cloud_cover is 50 or more
    are left out (the second date)."""
    graph = ndvi_graph(load(f'{site.www.url}/page1.json', bands=BANDS,
                            properties=cloud_below(50)))
    found = computed(connect(site, 'alice'), graph, tmp_path)
    np.testing.assert_allclose(found, ndvi_mean(site, [0, 2]), rtol=1e-5)


def test_stac_api_collection_and_a_spatial_extent(site, tmp_path):
    """A collection without item links: its `items` pages; the box crops the cube."""
    half = (WEST + EAST) / 2
    extent = {'west': WEST, 'south': SOUTH, 'east': half, 'north': NORTH}
    graph = ndvi_graph(load(f'{site.www.url}/api/collection.json', bands=BANDS,
                            spatial_extent=extent))
    found = computed(connect(site, 'alice'), graph, tmp_path)
    expected = ndvi_mean(site, [0, 1, 2])
    columns = found.shape[1]
    assert found.shape[0] == demo_bands.SIZE[0] and 0 < columns < demo_bands.SIZE[1]
    np.testing.assert_allclose(found, expected[:, :columns], rtol=1e-5)


# the scene's south-western half: GeoJSON polygons as a spatial extent
TRIANGLE = {'type': 'Feature', 'properties': {}, 'geometry': {'type': 'Polygon', 'coordinates': [
    [[WEST, SOUTH], [EAST, SOUTH], [WEST, NORTH], [WEST, SOUTH]]]}}


def triangle_masked(values: np.ndarray) -> np.ndarray:
    """The oracle: NaN where a pixel's centre lies outside TRIANGLE (rows from the north)."""
    rows, columns = np.mgrid[0:demo_bands.SIZE[0], 0:demo_bands.SIZE[1]]
    east_share = (columns + 0.5) / demo_bands.SIZE[1]
    north_share = 1 - (rows + 0.5) / demo_bands.SIZE[0]
    inside = east_share + north_share <= 1
    assert inside.any() and (~inside).any()
    return np.where(inside, values, np.nan)


def test_geojson_polygons_limit_the_loaded_items(site, tmp_path):
    """A GeoJSON spatial extent: the cube keeps the pixels whose centre lies in it."""
    graph = ndvi_graph(load(f'{site.www.url}/catalog.json', bands=BANDS,
                            spatial_extent=TRIANGLE))
    found = computed(connect(site, 'alice'), graph, tmp_path)
    np.testing.assert_allclose(found, triangle_masked(ndvi_mean(site, [0, 1, 2])),
                               rtol=1e-5)


def test_a_stac_api_is_asked_for_the_extents(site, tmp_path):
    """The items request carries the box and the time window (inclusive end: openEO's
    exclusive end less one microsecond); the items it answers are filtered again."""
    extent = {'west': WEST, 'south': SOUTH, 'east': EAST, 'north': NORTH}
    before = len(site.www.requested)
    graph = ndvi_graph(load(f'{site.www.url}/api/collection.json', bands=BANDS,
                            spatial_extent=extent,
                            temporal_extent=['2024-06-10', '2024-07-01']))
    found = computed(connect(site, 'alice'), graph, tmp_path)
    np.testing.assert_allclose(found, ndvi_mean(site, [1, 2]), rtol=1e-5)
    [asked] = [p for p in site.www.requested[before:] if p.startswith('/page1.json?')]
    query = parse_qs(urlsplit(asked).query)
    assert [float(v) for v in query['bbox'][0].split(',')] == [WEST, SOUTH, EAST, NORTH]
    assert query['datetime'] == ['2024-06-10T00:00:00Z/2024-06-30T23:59:59.999999Z']
    assert query['limit'] == ['100']


def test_a_geotiff_without_band_metadata_is_one_band_named_after_its_asset(site, tmp_path):
    product = demo_bands.PRODUCTS[0]
    source = site.served / 'data' / f'{product.identifier}.tif'
    with rasterio.open(source) as dataset:
        red, profile = dataset.read(1), dataset.profile
    profile.update(count=1)
    with rasterio.open(site.served / 'red_only.tif', 'w', **profile) as dataset:
        dataset.write(red, 1)
    item = stac_item(product, 'red_only.tif')
    item['assets'] = {'B04': {'href': 'red_only.tif', 'type': demo_bands.GEOTIFF}}
    (site.served / 'red_item.json').write_text(json.dumps(item))
    graph = {'process_graph': {
        'load': load(f'{site.www.url}/red_item.json', bands=['B04']),
        'save': {'process_id': 'save_result', 'arguments': {
            'data': {'from_node': 'load'}, 'format': 'GTiff'}, 'result': True}}}
    np.testing.assert_array_equal(computed(connect(site, 'alice'), graph, tmp_path), red)


def test_batch_job_results_are_loaded_by_the_next_graph_of_their_owner_only(site, tmp_path):
    alice = connect(site, 'alice')
    first = alice.create_job(ndvi_graph(load(f'{site.www.url}/catalog.json', bands=BANDS)))
    first.start_and_wait(max_poll_interval=0.5)
    first.get_results().download_files(tmp_path / 'first')
    [written] = (tmp_path / 'first').glob('*.tif')
    with rasterio.open(written) as dataset:
        expected = dataset.read(1)
    np.testing.assert_allclose(expected, ndvi_mean(site, [0, 1, 2]), rtol=1e-5)
    # the results' asset names the raster's band (the cube had no band labels left)
    assets = first.get_results().get_metadata()['assets']
    assert assets[written.name]['bands'] == [{'name': 'data'}]
    # the client's load_stac_from_job: the results' canonical link, this server's own
    cube = alice.load_stac_from_job(first)
    target = tmp_path / 'again.tif'
    cube.save_result('GTiff').download(target)
    with rasterio.open(target) as dataset:
        np.testing.assert_array_equal(dataset.read(1), expected)
    # bob: alice's job results do not exist, word for word as a job that never did
    url = f'{site.url}/openeo/1.2/jobs/{first.job_id}/results'
    none = f'{site.url}/openeo/1.2/jobs/no-such-job/results'
    answers = [post_result(site, 'bob', ndvi_graph(load(u, bands=['data']))) for u in (
        url, none)]
    assert [a.status_code for a in answers] == [400, 400], [a.text for a in answers]
    assert [a.json()['code'] for a in answers] == ['ProcessParameterInvalid'] * 2
    assert answers[0].json()['message'].replace(first.job_id, 'X') == \
        answers[1].json()['message'].replace('no-such-job', 'X')


def test_a_time_series_saved_one_file_per_date_loads_again_as_a_time_series(site, tmp_path):
    """save_result of a cube that keeps `t`: one GeoTIFF per date, each asset with its
    datetime; loading the results gives the three dates back, and their mean is the
    mean of the three NDVIs."""
    alice = connect(site, 'alice')
    graph = {'process_graph': {
        'load': load(f'{site.www.url}/catalog.json', bands=BANDS),
        'ndvi': {'process_id': 'ndvi', 'arguments': {'data': {'from_node': 'load'}}},
        'save': {'process_id': 'save_result', 'arguments': {
            'data': {'from_node': 'ndvi'}, 'format': 'GTiff'}, 'result': True}}}
    series = alice.create_job(graph)
    series.start_and_wait(max_poll_interval=0.5)
    assets = series.get_results().get_metadata()['assets']
    assert sorted(a['datetime'][:10] for a in assets.values()) == \
        [p.date for p in demo_bands.PRODUCTS]
    cube = alice.load_stac_from_job(series).reduce_dimension('t', reducer='mean')
    target = tmp_path / 'mean.tif'
    cube.download(target, format='GTiff')
    with rasterio.open(target) as dataset:
        np.testing.assert_allclose(dataset.read(1), ndvi_mean(site, [0, 1, 2]), rtol=1e-5)


def test_a_cube_saved_as_netcdf_loads_again_with_its_bands_dates_and_grid(site, tmp_path):
    """save_result netCDF of the loaded cube (bands red and nir, three dates): loading the
    job's results gives them back; a time window and a box cut them as a GeoTIFF would
    be cut."""
    alice = connect(site, 'alice')
    saved = alice.create_job({'process_graph': {
        'load': load(f'{site.www.url}/catalog.json', bands=BANDS),
        'save': {'process_id': 'save_result', 'arguments': {
            'data': {'from_node': 'load'}, 'format': 'netCDF'}, 'result': True}}})
    saved.start_and_wait(max_poll_interval=0.5)
    [asset] = saved.get_results().get_metadata()['assets'].values()
    assert asset['type'] == 'application/x-netcdf', asset
    assert {'GTiff', 'netCDF'} <= set(alice.list_file_formats()['input'])

    def ndvi_of(**extents) -> np.ndarray:
        cube = alice.load_stac_from_job(saved, bands=['red', 'nir'], **extents)
        target = tmp_path / f'ndvi-{len(list(tmp_path.iterdir()))}.tif'
        cube.ndvi(red='red', nir='nir').reduce_dimension('t', reducer='mean') \
            .download(target, format='GTiff')
        with rasterio.open(target) as dataset:
            return dataset.read(1)

    np.testing.assert_allclose(ndvi_of(), ndvi_mean(site, [0, 1, 2]), rtol=1e-5)
    later = [demo_bands.PRODUCTS[1].date, '2024-07-01']
    np.testing.assert_allclose(ndvi_of(temporal_extent=later), ndvi_mean(site, [1, 2]),
                               rtol=1e-5)
    # the western half: the columns whose pixel centres lie west of the middle
    middle = (WEST + EAST) / 2
    half = {'west': WEST, 'south': SOUTH, 'east': middle, 'north': NORTH}
    width = (EAST - WEST) / demo_bands.SIZE[1]
    columns = [c for c in range(demo_bands.SIZE[1]) if WEST + (c + 0.5) * width <= middle]
    np.testing.assert_allclose(ndvi_of(spatial_extent=half),
                               ndvi_mean(site, [0, 1, 2])[:, columns], rtol=1e-5)
    # a GeoJSON triangle: no-data where a pixel's centre lies outside it
    np.testing.assert_allclose(ndvi_of(spatial_extent=TRIANGLE),
                               triangle_masked(ndvi_mean(site, [0, 1, 2])), rtol=1e-5)


def test_a_netcdf_of_one_date_with_cf_names_loads_at_its_item_s_datetime(site, tmp_path):
    """A netCDF of variables over lat/lon (no time, no grid variable: EPSG:4326) in a
    STAC item: its cube has the item's date; a time window without it has no data."""
    import xarray as xr
    product = demo_bands.PRODUCTS[0]
    with rasterio.open(site.served / 'data' / f'{product.identifier}.tif') as dataset:
        red, nir = (dataset.read(i).astype('float64') for i in (1, 2))
        xs = [dataset.xy(0, c)[0] for c in range(dataset.width)]
        ys = [dataset.xy(r, 0)[1] for r in range(dataset.height)]
    xr.Dataset({'red': (('lat', 'lon'), red), 'nir': (('lat', 'lon'), nir)},
               coords={'lat': ys, 'lon': xs}).to_netcdf(site.served / 'one-date.nc')
    item = stac_item(product, 'one-date.nc')
    item['assets']['bands'] = {'href': 'one-date.nc', 'type': 'application/x-netcdf',
                               'roles': ['data']}
    (site.served / 'one-date.json').write_text(json.dumps(item))
    url = f'{site.www.url}/one-date.json'
    np.testing.assert_allclose(computed(connect(site, 'alice'), ndvi_graph(load(
        url, bands=BANDS)), tmp_path), (nir - red) / (nir + red), rtol=1e-5)
    answer = post_result(site, 'alice', ndvi_graph(load(
        url, bands=BANDS, temporal_extent=['2020-01-01', '2021-01-01'])))
    assert answer.status_code == 400 and answer.json()['code'] == 'NoDataAvailable', \
        answer.text


def test_netcdf_and_raster_items_in_one_source_are_refused(site):
    """One cube is read one way: a source mixing a netCDF item with GeoTIFF ones is an
    openEO error naming why, not a half-read cube."""
    import xarray as xr
    first, *others = demo_bands.PRODUCTS
    xr.Dataset({'red': (('lat', 'lon'), [[1.0]]), 'nir': (('lat', 'lon'), [[2.0]])},
               coords={'lat': [NORTH], 'lon': [WEST]}).to_netcdf(site.served / 'mixed.nc')
    netcdf = stac_item(first, 'mixed.nc')
    netcdf['assets']['bands'] = {'href': 'mixed.nc', 'type': 'application/x-netcdf',
                                 'roles': ['data']}
    (site.served / 'mixed.json').write_text(json.dumps({
        'type': 'FeatureCollection', 'links': [], 'features': [netcdf] + [
            stac_item(p, f'data/{p.identifier}.tif') for p in others]}))
    answer = post_result(site, 'alice', ndvi_graph(load(f'{site.www.url}/mixed.json',
                                                        bands=BANDS)))
    assert answer.status_code == 400 and answer.json()['code'] == 'ProcessGraphInvalid', \
        answer.text
    assert 'holds netCDF and raster items here' in answer.json()['message'], answer.text


@pytest.mark.parametrize('url, reason', [
    ('file:///etc/passwd', 'outside'),
    ('http://169.254.169.254/latest/meta-data/', 'refused'),
    ('http://10.0.0.1/catalog.json', 'refused')])
def test_documents_outside_the_stage_in_rules_are_refused(site, url, reason):
    reply = post_result(site, 'alice', ndvi_graph(load(url, bands=BANDS)))
    assert reply.status_code == 400, reply.text
    assert reply.json()['code'] == 'ProcessParameterInvalid' and reason in \
        reply.json()['message'], reply.text


def test_an_asset_outside_the_rules_is_refused_and_nothing_else_fails(site):
    product = demo_bands.PRODUCTS[0]
    (site.served / 'sneaky.json').write_text(json.dumps(
        stac_item(product, 'file:///etc/passwd')))
    reply = post_result(site, 'alice', ndvi_graph(load(f'{site.www.url}/sneaky.json',
                                                       bands=BANDS)))
    assert reply.status_code == 400 and reply.json()['code'] == 'ProcessParameterInvalid', \
        reply.text
    assert '/etc/passwd' in reply.json()['message'] and 'root:' not in reply.text


def test_not_stac_no_data_and_missing_documents_are_openeo_errors(site):
    (site.served / 'plain.json').write_text(json.dumps({'hello': 'world'}))
    cases = {f'{site.www.url}/plain.json': ('ProcessParameterInvalid', 'no STAC'),
             f'{site.www.url}/missing.json': ('ProcessParameterInvalid', '404'),
             f'{site.www.url}/catalog.json': ('NoDataAvailable', 'no data')}
    for url, (code, words) in cases.items():
        extent = ['2020-01-01', '2020-02-01'] if code == 'NoDataAvailable' else None
        reply = post_result(site, 'alice', ndvi_graph(load(url, bands=BANDS,
                                                           temporal_extent=extent)))
        assert reply.status_code == 400, reply.text
        assert reply.json()['code'] == code and words in reply.json()['message'], reply.text
    with pytest.raises(OpenEoApiError):  # and the client says so
        connect(site, 'alice').download(ndvi_graph(load(f'{site.www.url}/plain.json')))


def test_a_job_reading_stac_has_no_estimate_of_what_it_reads(site):
    """What a STAC document holds is known only once it is read: no made-up figure."""
    job = connect(site, 'alice').create_job(ndvi_graph(load(f'{site.www.url}/catalog.json')))
    reply = requests.get(f'{site.url}/openeo/1.2/jobs/{job.job_id}/estimate',
                         auth=as_('alice'), timeout=30)
    assert reply.status_code == 500 and reply.json()['code'] == 'EstimateComplexity', \
        reply.text

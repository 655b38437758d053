"""openEO process descriptions and their implementations (issue #19): `/processes` serves
the official openeo-processes 2.0 descriptions, and the implementations answer to them
where openeo-processes-dask differs (a parameter it lacks, a default it lacks, a flag it
reads the other way round); `PUT /process_graphs/{id}` refuses ids outside `^\\w+$`.

Oracles: the openeo-processes 2.0 files vendored for the openEO test suite
(tests/data/openeo-suite/processes), and pixel masks computed here from pixel centres."""

from __future__ import annotations

import copy
import json
import time

import numpy as np
import pytest
import rasterio
import requests
import yaml

from pygeoapi_eoorder.catalogue.demo_bands import PRODUCTS

from .conftest import REPO, Server
from .support.auth import as_, write_users

LOCAL = yaml.safe_load((REPO / 'config' / 'local.yml').read_text())
OFFICIAL = REPO / 'tests' / 'data' / 'openeo-suite' / 'processes'
LYON = {'west': 4.75, 'south': 45.70, 'east': 4.95, 'north': 45.85}
MIDDLE = (LYON['west'] + LYON['east']) / 2
FIRST_DAY = [f'{PRODUCTS[0].date}T00:00:00Z', f'{PRODUCTS[0].date}T23:59:59Z']


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp('openeo-processes')
    block = copy.deepcopy(LOCAL['eoorder'])
    block['data_dir'] = str(directory / 'data')
    users = write_users(directory / 'users.yml', {'alice': ['user']})
    block['auth'] = {'authenticators': [{'name': 'basic', 'users_file': str(users)}]}
    running = Server(directory, block, LOCAL['resources']).start()
    deadline = time.monotonic() + 60  # the demo products are written as it starts
    while not (running.data_dir / 'demo' / f'{PRODUCTS[0].identifier}.tif').exists() and \
            time.monotonic() < deadline:
        time.sleep(0.2)
    yield running
    running.stop()


def api(server: Server) -> str:
    return f'{server.url}/openeo/1.2'


def official(process_id: str) -> dict | None:
    for path in (OFFICIAL / f'{process_id}.json', OFFICIAL / 'proposals' / f'{process_id}.json'):
        if path.is_file():
            return json.loads(path.read_text())
    return None


def run(server: Server, graph: dict) -> requests.Response:
    return requests.post(f'{api(server)}/result', json={'process': {'process_graph': graph}},
                         auth=as_('alice'), timeout=120)


def west_half_masked(server: Server, inside: bool | None, target):
    """The red band of the first demo product, masked by the west half of the box."""
    west = [[LYON['west'], LYON['south']], [MIDDLE, LYON['south']], [MIDDLE, LYON['north']],
            [LYON['west'], LYON['north']], [LYON['west'], LYON['south']]]
    arguments = {'data': {'from_node': 'load'}, 'replacement': -1,
                 'mask': {'type': 'Polygon', 'coordinates': [west]}}
    if inside is not None:
        arguments['inside'] = inside
    graph = {
        'load': {'process_id': 'load_collection', 'arguments': {
            'id': 'products', 'spatial_extent': LYON,
            'temporal_extent': FIRST_DAY, 'bands': ['red']}},
        'mask': {'process_id': 'mask_polygon', 'arguments': arguments},
        'save': {'process_id': 'save_result', 'arguments': {
            'data': {'from_node': 'mask'}, 'format': 'GTiff'}, 'result': True}}
    reply = run(server, graph)
    assert reply.status_code == 200, reply.text
    target.write_bytes(reply.content)
    return rasterio.open(target)


def test_processes_are_the_official_2_0_descriptions(server):
    served = requests.get(f'{api(server)}/processes', timeout=30).json()['processes']
    compared = [p['id'] for p in served if official(p['id']) is not None]
    for process in served:
        expected = official(process['id'])
        if expected is not None:
            assert process == expected, process['id']
    # the back-end's own and openeo-processes-dask's, all on 2.0 but two it adds
    assert {'load_collection', 'save_result', 'ndvi', 'reduce_dimension'} <= set(compared)
    assert sorted(p['id'] for p in served if p['id'] not in compared) == [
        'apply_neighborhood_intertwin', 'ddmc']
    assert len(compared) >= 110


@pytest.mark.parametrize('inside', [None, False, True])
def test_mask_polygon_inside_means_what_the_spec_says(server, inside, tmp_path):
    """2.0: pixels whose centre is outside the polygons are replaced; inside=true
    replaces those inside (the implementation reads its flag the other way round)."""
    with west_half_masked(server, inside, tmp_path / 'masked.tif') as dataset:
        values = dataset.read(1)
        columns = np.arange(dataset.width)
        centres = dataset.transform.c + (columns + 0.5) * dataset.transform.a
    in_polygon = np.broadcast_to(centres < MIDDLE, values.shape)
    replaced = in_polygon if inside else ~in_polygon
    assert replaced.any() and (~replaced).any()
    assert (values[replaced] == -1).all()
    assert (values[~replaced] != -1).all()


def box(columns: tuple[int, int], rows: tuple[int, int]) -> list[list[float]]:
    """The ring around demo pixels [first, last) of columns and rows (on pixel edges)."""
    width = (LYON['east'] - LYON['west']) / 30
    height = (LYON['north'] - LYON['south']) / 20
    west, east = (LYON['west'] + c * width for c in columns)
    north, south = (LYON['north'] - r * height for r in rows)
    return [[west, south], [east, south], [east, north], [west, north], [west, south]]


@pytest.mark.parametrize('inside', [False, True])
def test_mask_polygon_with_disjoint_polygons_and_a_hole(server, inside, tmp_path):
    """Two disjoint polygons (the second a MultiPolygon with a hole): a pixel is in the
    mask when its centre is in either polygon and not in the hole (oracle: numpy on the
    pixel centres; the polygons follow pixel edges, so no centre is on a boundary)."""
    features = [
        {'type': 'Feature', 'properties': {}, 'geometry': {
            'type': 'Polygon', 'coordinates': [box((0, 8), (0, 20))]}},
        {'type': 'Feature', 'properties': {}, 'geometry': {
            'type': 'MultiPolygon', 'coordinates': [[box((20, 30), (2, 18)),
                                                     box((23, 26), (5, 10))]]}}]
    graph = {
        'load': {'process_id': 'load_collection', 'arguments': {
            'id': 'products', 'spatial_extent': LYON, 'temporal_extent': FIRST_DAY,
            'bands': ['red']}},
        'mask': {'process_id': 'mask_polygon', 'arguments': {
            'data': {'from_node': 'load'}, 'replacement': -1, 'inside': inside,
            'mask': {'type': 'FeatureCollection', 'features': features}}},
        'save': {'process_id': 'save_result', 'arguments': {
            'data': {'from_node': 'mask'}, 'format': 'GTiff'}, 'result': True}}
    reply = run(server, graph)
    assert reply.status_code == 200, reply.text
    (tmp_path / 'masked.tif').write_bytes(reply.content)
    with rasterio.open(tmp_path / 'masked.tif') as dataset:
        values = dataset.read(1)
        rows, columns = np.mgrid[0:dataset.height, 0:dataset.width]
        grid = dataset.transform
        xs, ys = grid.c + (columns + 0.5) * grid.a, grid.f + (rows + 0.5) * grid.e
    (w1, s1), (e1, n1) = box((0, 8), (0, 20))[0], box((0, 8), (0, 20))[2]
    (w2, s2), (e2, n2) = box((20, 30), (2, 18))[0], box((20, 30), (2, 18))[2]
    (w3, s3), (e3, n3) = box((23, 26), (5, 10))[0], box((23, 26), (5, 10))[2]
    in_mask = ((xs > w1) & (xs < e1) & (ys > s1) & (ys < n1)) | (
        (xs > w2) & (xs < e2) & (ys > s2) & (ys < n2)
        & ~((xs > w3) & (xs < e3) & (ys > s3) & (ys < n3)))
    replaced = in_mask if inside else ~in_mask
    assert values.shape == (20, 30) and replaced.any() and (~replaced).any()
    np.testing.assert_array_equal(values == -1, replaced)


def test_a_mask_that_is_no_polygon_is_an_openeo_error(server):
    graph = {
        'load': {'process_id': 'load_collection', 'arguments': {
            'id': 'products', 'spatial_extent': LYON, 'temporal_extent': FIRST_DAY,
            'bands': ['red']}},
        'mask': {'process_id': 'mask_polygon', 'arguments': {
            'data': {'from_node': 'load'},
            'mask': {'type': 'Point', 'coordinates': [4.8, 45.8]}}},
        'save': {'process_id': 'save_result', 'arguments': {
            'data': {'from_node': 'mask'}, 'format': 'GTiff'}, 'result': True}}
    reply = run(server, graph)
    assert reply.status_code == 400
    assert reply.json()['code'] == 'ProcessParameterInvalid'
    assert 'Polygon' in reply.json()['message']


def test_a_parameter_the_implementation_lacks_is_refused_unless_left_at_default(server,
                                                                                  tmp_path):
    def filtered(arguments: dict) -> dict:
        return {
            'load': {'process_id': 'load_collection', 'arguments': {
                'id': 'products', 'spatial_extent': LYON,
                'temporal_extent': FIRST_DAY}},
            'bands': {'process_id': 'filter_bands', 'arguments': {
                'data': {'from_node': 'load'}, **arguments}},
            'save': {'process_id': 'save_result', 'arguments': {
                'data': {'from_node': 'bands'}, 'format': 'GTiff'}, 'result': True}}
    refused = run(server, filtered({'wavelengths': [[0.6, 0.7]]}))
    assert refused.status_code == 400
    assert refused.json()['code'] == 'ProcessParameterInvalid'
    assert 'wavelengths' in refused.json()['message']
    kept = run(server, filtered({'bands': ['nir'], 'wavelengths': []}))
    assert kept.status_code == 200, kept.text
    (tmp_path / 'nir.tif').write_bytes(kept.content)
    with rasterio.open(tmp_path / 'nir.tif') as dataset:
        assert dataset.count == 1


def test_an_optional_parameter_gets_the_spec_default(server):
    """text_concat's separator: optional in 2.0 (default ''), required by the library."""
    graph = {'concat': {'process_id': 'text_concat', 'arguments': {
        'data': ['N', 'D', 'VI']}},
        'save': {'process_id': 'save_result', 'arguments': {
            'data': {'from_node': 'concat'}, 'format': 'GTiff'}, 'result': True}}
    reply = run(server, graph)
    assert reply.status_code == 200, reply.text
    assert reply.json() == 'NDVI'


@pytest.mark.parametrize('process_id', ['0b5e1c9e-6a3f-4c1e-9d55-2a1f0e6b7c11', 'a.b',
                                        'x' * 101])
def test_process_graph_ids_outside_the_pattern_are_refused(server, process_id):
    body = {'process_graph': {'one': {'process_id': 'add', 'arguments': {'x': 1, 'y': 1},
                                      'result': True}}}
    reply = requests.put(f'{api(server)}/process_graphs/{process_id}', json=body,
                         auth=as_('alice'), timeout=30)
    assert reply.status_code == 400
    assert reply.json()['code'] == 'ProcessGraphIdInvalid'
    taken = requests.put(f'{api(server)}/process_graphs/ndvi', json=body,
                         auth=as_('alice'), timeout=30)
    assert taken.status_code == 400 and taken.json()['code'] == 'PredefinedProcessExists'


def test_result_footprint_of_a_projected_raster_is_in_lon_lat():
    """The results item's bbox of a UTM raster: its pixel edges' corners through pyproj."""
    import pyproj
    import rioxarray  # noqa: F401  (the .rio accessor)
    import xarray
    from pygeoapi_eoorder.datacube.save import lonlat_bounds
    xs, ys = 500_005.0 + 10 * np.arange(30), 5_000_195.0 - 10 * np.arange(20)
    cube = xarray.DataArray(np.ones((20, 30)), dims=('y', 'x'),
                            coords={'x': xs, 'y': ys}).rio.write_crs('EPSG:32631')
    to_lonlat = pyproj.Transformer.from_crs('EPSG:32631', 'EPSG:4326', always_xy=True)
    corners = [to_lonlat.transform(x, y) for x in (500_000, 500_300)
               for y in (5_000_000, 5_000_200)]
    expected = [min(c[0] for c in corners), min(c[1] for c in corners),
                max(c[0] for c in corners), max(c[1] for c in corners)]
    assert lonlat_bounds(cube) == pytest.approx(expected, abs=1e-7)
    assert lonlat_bounds(cube.isel(y=0).drop_vars('y')) is None  # no y: no footprint


def test_a_child_graph_called_for_each_element_computes_each(server):
    """array_apply and array_filter call their child graph once per element (the graph
    parser kept each node's first result: every element got the first one's)."""
    data = [5, 2, 3, -1.5]

    def child(process_id: str, y) -> dict:
        return {'process_graph': {'c': {'process_id': process_id, 'arguments': {
            'x': {'from_parameter': 'x'}, 'y': y}, 'result': True}}}
    answers = [run(server, {'n': {'process_id': process_id, 'arguments': {
        'data': data, name: child(inner, y)}, 'result': True}}) for process_id, name, inner, y in (
        ('array_apply', 'process', 'multiply', 2), ('array_filter', 'condition', 'gt', 1),
        ('count', 'condition', 'gt', 1))]
    assert [a.status_code for a in answers] == [200] * 3, [a.text for a in answers]
    assert [a.json() for a in answers] == [[x * 2 for x in data], [x for x in data if x > 1],
                                           len([x for x in data if x > 1])]


@pytest.mark.parametrize('process_id, arguments, code', [
    ('mod', {'x': 2, 'y': 0}, 'DivisionByZero'),  # (numpy answered 0)
    ('array_element', {'data': [1, 2], 'index': -1},  # (2; the schema: minimum 0)
     'ProcessParameterInvalid'),
    ('array_element', {'data': [1, 2], 'index': 2}, 'ArrayElementNotAvailable'),
    ('array_element', {'data': [1]}, 'ArrayElementParameterMissing'),
    ('array_element', {'data': [1], 'index': 0, 'label': 'a'},
     'ArrayElementParameterConflict'),
    ('array_append', {'data': [1, 2], 'value': 3, 'label': 'B03'}, 'ArrayNotLabeled'),
])
def test_plain_values_refused_with_the_error_the_description_names(server, process_id,
                                                                   arguments, code):
    reply = run(server, {'n': {'process_id': process_id, 'arguments': arguments,
                               'result': True}})
    assert reply.status_code == 400, reply.text
    assert reply.json()['code'] == code


def test_plain_values_computed_as_the_descriptions_say(server):
    """Results the library got wrong on plain lists (the official examples say them)."""
    cases = [
        ({'process_id': 'array_element', 'arguments': {
            'data': [1, 2], 'index': 2, 'return_nodata': True}}, None),
        ({'process_id': 'is_valid', 'arguments': {'x': [None, None]}}, True),
        ({'process_id': 'sum', 'arguments': {'data': []}}, None),
        ({'process_id': 'product', 'arguments': {'data': []}}, None),
        ({'process_id': 'mod', 'arguments': {'x': -27, 'y': 5}}, 3),
        ({'process_id': 'cumsum', 'arguments': {'data': [1, 3, 5, 3, 1]}}, [1, 4, 9, 12, 13]),
        ({'process_id': 'cummax', 'arguments': {'data': [1, 3, 5, 3, 1]}}, [1, 3, 5, 5, 5]),
        ({'process_id': 'array_append', 'arguments': {'data': [], 'value': 0}}, [0]),
    ]
    for node, expected in cases:
        reply = run(server, {'n': {**node, 'result': True}})
        assert reply.status_code == 200, (node, reply.text)
        assert reply.json() == expected, node


@pytest.mark.parametrize('process_id, arguments', [
    ('array_apply', {'data': [1, 2], 'process': None}),
    ('count', {'data': [1, 2], 'condition': {'gt': {'process_id': 'gt', 'arguments': {
        'x': {'from_parameter': 'x'}, 'y': 1}, 'result': True}}}),  # (no process_graph)
])
def test_a_process_argument_that_is_no_process_is_the_callers_error(server, process_id,
                                                                    arguments):
    """Not the library's failure to call it (500 Internal, before)."""
    reply = run(server, {'n': {'process_id': process_id, 'arguments': arguments,
                               'result': True}})
    assert reply.status_code == 400, reply.text
    assert reply.json()['code'] == 'ProcessParameterInvalid'
    assert 'process_graph' in reply.json()['message']


def _types(schema) -> set:
    found = set()
    for one in schema if isinstance(schema, list) else [schema]:
        kind = one.get('type') if isinstance(one, dict) else None
        found.update(kind if isinstance(kind, list) else [kind] if kind else [None])
    return found


def _wrong_value(schema):
    """A JSON value the official schema does not take (None: it takes any)."""
    kinds = _types(schema)
    if None in kinds:
        return None
    return next((value for kind, value in (('string', 'text'), ('number', 12.5),
                                           ('array', [1, 2]), ('boolean', True))
                 if kind not in kinds and not (kind == 'number' and 'integer' in kinds)),
                None)


SPECIAL = {'load_collection', 'load_stac', 'save_result', 'run_udf', 'load_uploaded_files',
           'load_url', 'load_geojson', 'export_workspace', 'inspect', 'debug'}


def test_a_json_argument_of_the_wrong_type_is_the_callers_error(server):
    """Every listed process given, for each required parameter in turn, a JSON value its
    official schema does not take answers 400 (it raised TypeErrors and answered 500)."""
    session = requests.Session()
    session.auth = as_('alice')
    listed = session.get(f'{api(server)}/processes', timeout=30).json()['processes']
    answers = {}
    for process_id in sorted(p['id'] for p in listed if p['id'] not in SPECIAL):
        description = official(process_id)
        if description is None:
            continue
        required = [p for p in description['parameters'] if not p.get('optional')]
        for parameter in required:
            wrong = _wrong_value(parameter['schema'])
            if wrong is None:
                continue
            arguments = {p['name']: 1 for p in required}
            arguments[parameter['name']] = wrong
            reply = session.post(f'{api(server)}/result', json={'process': {'process_graph': {
                'n': {'process_id': process_id, 'arguments': arguments, 'result': True}}}},
                timeout=60)
            answers[(process_id, parameter['name'])] = (reply.status_code,
                                                        reply.json().get('code'))
    assert len(answers) > 150, len(answers)
    wrong = {key: answer for key, answer in answers.items() if answer[0] != 400}
    assert not wrong, wrong


def _saved(server: Server, spatial_extent, target):
    reply = run(server, {
        'load': {'process_id': 'load_collection', 'arguments': {
            'id': 'products', 'spatial_extent': spatial_extent,
            'temporal_extent': FIRST_DAY, 'bands': ['red']}},
        'save': {'process_id': 'save_result', 'arguments': {
            'data': {'from_node': 'load'}, 'format': 'GTiff'}, 'result': True}})
    assert reply.status_code == 200, reply.text
    target.write_bytes(reply.content)
    with rasterio.open(target) as dataset:
        rows, columns = np.mgrid[0:dataset.height, 0:dataset.width]
        grid = dataset.transform
        return (dataset.read(1), grid.c + (columns + 0.5) * grid.a,
                grid.f + (rows + 0.5) * grid.e, dataset.bounds)


def test_load_collection_limited_to_geojson_polygons(server, tmp_path):
    """A GeoJSON spatial_extent: the cube covers the polygons' bounding box, and a pixel
    whose centre lies in no polygon (or in a hole) is no-data (oracle: the pixel centres
    against the rings with numpy, the values against the same load by bounding box)."""
    pixel, height = (LYON['east'] - LYON['west']) / 30, (LYON['north'] - LYON['south']) / 20
    first, second, hole = box((2, 8), (3, 15)), box((20, 28), (2, 18)), box((23, 26), (5, 10))
    features = {'type': 'FeatureCollection', 'features': [
        {'type': 'Feature', 'properties': {}, 'geometry': {
            'type': 'Polygon', 'coordinates': [first]}},
        {'type': 'Feature', 'properties': {}, 'geometry': {
            'type': 'MultiPolygon', 'coordinates': [[second, hole]]}},
        {'type': 'Feature', 'properties': {}, 'geometry': {
            'type': 'Polygon', 'coordinates': []}}]}  # (empty: ignored)
    values, xs, ys, bounds = _saved(server, features, tmp_path / 'shaped.tif')
    whole, whole_xs, whole_ys, _ = _saved(server, LYON, tmp_path / 'whole.tif')

    def within(ring):
        (west, south), (east, north) = ring[0], ring[2]
        return (xs > west) & (xs < east) & (ys > south) & (ys < north)
    inside = within(first) | within(second) & ~within(hole)
    west, south, east, north = first[0][0], second[0][1], second[2][0], second[2][1]
    assert west - pixel < bounds.left <= west + 1e-9 and east - 1e-9 <= bounds.right < \
        east + pixel
    assert south - height < bounds.bottom <= south + 1e-9 and north - 1e-9 <= bounds.top < \
        north + height
    assert inside.any() and (~inside).any()
    assert np.isnan(values[~inside]).all()
    columns = np.rint((xs - whole_xs[0, 0]) / pixel).astype(int)
    rows = np.rint((whole_ys[0, 0] - ys) / height).astype(int)
    np.testing.assert_array_equal(values[inside], whole[rows[inside], columns[inside]])


@pytest.mark.parametrize('arguments', [
    {'spatial_extent': 5}, {'temporal_extent': 5}, {'bands': 'red'},
    {'spatial_extent': {'west': 'a', 'south': 45.7, 'east': 4.95, 'north': 45.85}},
    {'spatial_extent': {'type': 'Point', 'coordinates': [4.8, 45.7]}},
    {'spatial_extent': {'type': 'GeometryCollection', 'geometries': []}},
    {'spatial_extent': {'type': 'Feature', 'geometry': {'type': 'LineString', 'coordinates': [
        [4.8, 45.7], [4.9, 45.8]]}}},
    {'spatial_extent': {'type': 'Polygon', 'coordinates': [[[4.8, 45.7], [4.9]]]}},
    {'spatial_extent': {'type': 'Polygon', 'coordinates': [[[480, 45.7], [490, 45.7],
                                                            [490, 45.8], [480, 45.7]]]}},
    {'spatial_extent': {'type': 'FeatureCollection', 'features': []}},
])
def test_load_collection_extents_of_the_wrong_shape_are_the_callers_error(server,
                                                                          arguments):
    reply = run(server, {'load': {'process_id': 'load_collection', 'arguments': {
        'id': 'products', **arguments}, 'result': True}})
    assert reply.status_code == 400, reply.text
    assert reply.json()['code'] == 'ProcessParameterInvalid'


def test_validation_names_literal_arguments_of_the_wrong_type(server):
    """`/validation` checks literal arguments (in child graphs too) against the official
    schemas without running the graph; references are left to the run."""
    graph = {
        'load': {'process_id': 'load_collection', 'arguments': {
            'id': 'products', 'spatial_extent': 5, 'bands': ['red', 'nir']}},
        'ndvi': {'process_id': 'ndvi', 'arguments': {'data': {'from_node': 'load'}}},
        'scaled': {'process_id': 'apply', 'arguments': {
            'data': {'from_node': 'ndvi'}, 'process': {'process_graph': {'m': {
                'process_id': 'multiply', 'arguments': {
                    'x': {'from_parameter': 'x'}, 'y': 'ten'}, 'result': True}}}},
            'result': True}}
    reply = requests.post(f'{api(server)}/validation', json={'process_graph': graph},
                          auth=as_('alice'), timeout=30)
    assert reply.status_code == 200, reply.text
    errors = reply.json()['errors']
    assert [e['code'] for e in errors] == ['ProcessParameterInvalid'] * 2
    assert "'spatial_extent' in process 'load_collection'" in errors[0]['message']
    assert "'y' in process 'multiply'" in errors[1]['message']
    graph['load']['arguments']['spatial_extent'] = LYON
    graph['scaled']['arguments']['process']['process_graph']['m']['arguments']['y'] = 10
    assert requests.post(f'{api(server)}/validation', json={'process_graph': graph},
                         auth=as_('alice'), timeout=30).json()['errors'] == []

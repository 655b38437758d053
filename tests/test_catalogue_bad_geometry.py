"""Records with geometries or numbers outside GeoJSON (RFC 7946) and JSON's finite numbers,
sent through the Records and STAC transactions and a harvest, on SQLite and PostGIS: each is
refused with a clean 400 naming the member (or accepted, for positions with an altitude,
which RFC 7946 3.1.1 allows), and spatial searches keep working afterwards."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pystac
import pytest
import requests

from pygeoapi_eoorder.catalogue.repository import RecordRepository
from tests.conftest import REPO, Server, server_env
from tests.support.catalogue import eo_record, records_resource
from tests.support.cluster import Database
from tests.support.egress import allow_loopback_args

GEO_JSON = {'Content-Type': 'application/geo+json'}
SQUARE = [[10, 10], [11, 10], [11, 11], [10, 11], [10, 10]]
# (what is wrong, geometry, member the error names)
BAD_GEOMETRIES = [
    ('lower-case type', {'type': 'point', 'coordinates': [10.5, 10.5]}, 'geometry'),
    ('unclosed ring', {'type': 'Polygon', 'coordinates': [SQUARE[:-1]]}, 'geometry'),
    ('ring of three positions', {'type': 'Polygon', 'coordinates': [
        [[10, 10], [11, 10], [10, 10]]]}, 'geometry'),
    ('lower-case member', {'type': 'GeometryCollection', 'geometries': [
        {'type': 'polygon', 'coordinates': [SQUARE]}]}, 'geometry'),
]
Z_SQUARE = {'type': 'Polygon', 'coordinates': [[[x, y, 120.5] for x, y in SQUARE]]}


@pytest.fixture(scope='module', params=['sqlite', 'postgis'])
def catalogue(request, tmp_path_factory):
    directory = tmp_path_factory.mktemp(f'bad-geometry-{request.param}')
    database = None
    if request.param == 'postgis':
        database = Database('eoorder_badgeom').create(postgis=True)
        store_url = database.url
    else:
        store_url = f"sqlite:///{directory / 'catalogue.db'}"
    server = Server(directory, {'jobs': {'workers': 1}, 'store': {'url': store_url}},
                    {'products': records_resource('Products')}).start()
    server.store_url = store_url
    for index in range(3):  # footprints at (i, i)-(i+1, i+1)
        reply = requests.post(f'{server.url}/collections/products/items',
                              json=eo_record(index), headers=GEO_JSON, timeout=30)
        assert reply.status_code == 201, reply.text
    yield server
    server.stop()
    if database is not None:
        database.drop()


def _records_ids(server, **params) -> set[str]:
    reply = requests.get(f'{server.url}/collections/products/items',
                         params={'limit': 100, **params}, timeout=30)
    assert reply.status_code == 200, reply.text
    return {feature['id'] for feature in reply.json()['features']}


def _stac_ids(server, **body) -> set[str]:
    reply = requests.post(f'{server.url}/stac/search',
                          json={'collections': ['products'], 'limit': 100, **body}, timeout=30)
    assert reply.status_code == 200, reply.text
    return {feature['id'] for feature in reply.json()['features']}


def _searches_work(server) -> None:
    """bbox, intersects and CQL2 spatial searches still answer (footprint of scene-1 is
    (1, 1)-(2, 2): the oracle of eo_record)."""
    assert 'scene-1' in _records_ids(server, bbox='1.2,1.2,1.8,1.8')
    assert 'scene-1' in _records_ids(server, filter='S_INTERSECTS(geometry, '
                                     'POLYGON((1.2 1.2, 1.8 1.2, 1.8 1.8, 1.2 1.2)))')
    assert 'scene-1' in _stac_ids(server, bbox=[1.2, 1.2, 1.8, 1.8])
    assert 'scene-1' in _stac_ids(server, intersects={'type': 'Point',
                                                      'coordinates': [1.5, 1.5]})


def _stac_item(identifier: str, geometry: dict, **props) -> dict:
    return {'type': 'Feature', 'stac_version': '1.1.0', 'id': identifier,
            'stac_extensions': [], 'geometry': geometry, 'bbox': [10, 10, 11, 11],
            'properties': {'datetime': '2024-05-01T10:00:00Z', **props},
            'links': [], 'assets': {}, 'collection': 'products'}


def _refused(reply, member: str) -> None:
    assert reply.status_code == 400, reply.text
    body = reply.json()
    text = body.get('detail') or body.get('description') or ''
    assert member in text, body
    assert 'Traceback' not in reply.text


@pytest.mark.parametrize('name, geometry, member', BAD_GEOMETRIES,
                         ids=[case[0] for case in BAD_GEOMETRIES])
def test_records_and_stac_transactions_refuse_bad_geometries(catalogue, name, geometry,
                                                             member):
    identifier = 'bad-' + name.replace(' ', '-')
    record = eo_record(5, id=identifier)
    record['geometry'] = geometry
    _refused(requests.post(f'{catalogue.url}/collections/products/items', json=record,
                           headers=GEO_JSON, timeout=30), member)
    _refused(requests.post(f'{catalogue.url}/stac/collections/products/items',
                           json=_stac_item(identifier, geometry), timeout=30), member)
    # replacing a good record with the bad geometry is refused too, the old one is kept
    record['id'] = 'scene-2'
    _refused(requests.put(f'{catalogue.url}/collections/products/items/scene-2', json=record,
                          headers=GEO_JSON, timeout=30), member)
    assert requests.get(f'{catalogue.url}/collections/products/items/{identifier}',
                        timeout=30).status_code == 404
    assert 'scene-2' in _records_ids(catalogue, bbox='2.2,2.2,2.8,2.8')
    _searches_work(catalogue)


@pytest.mark.parametrize('value', [math.inf, -math.inf, math.nan, '1e999'])
def test_non_finite_orbit_number_is_a_record_error(catalogue, value):
    record = eo_record(6, id='bad-orbit')
    record['properties']['orbitNumber'] = value
    _refused(requests.post(f'{catalogue.url}/collections/products/items',
                           data=json.dumps(record), headers=GEO_JSON, timeout=30),
             'orbitNumber')
    item = _stac_item('bad-orbit', Z_SQUARE, **{'sat:absolute_orbit': value})
    _refused(requests.post(f'{catalogue.url}/stac/collections/products/items',
                           data=json.dumps(item), timeout=30,
                           headers={'Content-Type': 'application/json'}), 'orbitNumber')
    record['properties']['orbitNumber'] = 1003
    record['properties']['cloudCover'] = value
    _refused(requests.post(f'{catalogue.url}/collections/products/items',
                           data=json.dumps(record), headers=GEO_JSON, timeout=30),
             'cloudCover')
    _searches_work(catalogue)


def test_positions_with_an_altitude_are_accepted_and_found(catalogue):
    record = eo_record(7, id='with-altitude')
    record['geometry'] = Z_SQUARE
    reply = requests.post(f'{catalogue.url}/collections/products/items', json=record,
                          headers=GEO_JSON, timeout=30)
    assert reply.status_code == 201, reply.text
    reply = requests.post(f'{catalogue.url}/stac/collections/products/items',
                          json=_stac_item('stac-altitude', Z_SQUARE), timeout=30)
    assert reply.status_code == 201, reply.text
    served = requests.get(f'{catalogue.url}/collections/products/items/with-altitude',
                          timeout=30).json()
    assert served['geometry'] == Z_SQUARE  # the document keeps the altitude
    # the footprint (10, 10)-(11, 11), found by what intersects it and only by that
    for ids in (_records_ids(catalogue, bbox='10.2,10.2,10.8,10.8'),
                _stac_ids(catalogue, bbox=[10.2, 10.2, 10.8, 10.8]),
                _stac_ids(catalogue, intersects={'type': 'Point',
                                                 'coordinates': [10.5, 10.5]})):
        assert {'with-altitude', 'stac-altitude'} <= ids
    assert not {'with-altitude', 'stac-altitude'} & _records_ids(catalogue,
                                                                 bbox='12,12,13,13')
    _searches_work(catalogue)


def test_harvest_of_a_bad_geometry_is_a_clean_error(catalogue, tmp_path):
    catalog = pystac.Catalog(id='bad', description='one good item, one bad')
    for identifier, geometry in (('good', {'type': 'Polygon', 'coordinates': [SQUARE]}),
                                 ('bad', {'type': 'point', 'coordinates': [10.5, 10.5]})):
        item = pystac.Item(id=identifier, geometry=geometry, bbox=[10, 10, 11, 11],
                           datetime=pystac.utils.str_to_datetime('2023-05-01T00:00:00Z'),
                           properties={})
        catalog.add_item(item)
    catalog.normalize_hrefs(str(tmp_path / 'cat'))
    catalog.save(catalog_type=pystac.CatalogType.SELF_CONTAINED)
    run = subprocess.run([sys.executable, '-m', 'pygeoapi_eoorder.cli', 'harvest',
                          str(tmp_path / 'cat'), '--into', 'harvested', '--store',
                          catalogue.store_url, *allow_loopback_args()],
                         capture_output=True, text=True, timeout=120, env=server_env(),
                         cwd=REPO)
    assert run.returncode != 0 and 'Traceback' not in run.stderr, run.stderr
    assert 'geometry' in run.stderr, run.stderr
    assert RecordRepository(catalogue.store_url, 'harvested').get('bad') is None
    _searches_work(catalogue)

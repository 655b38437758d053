"""The demo products of the embedded default (`eoorder.catalogue.demo`): real tiny
GeoTIFFs and their records, made at the first start, unchanged by the next ones, marked as
demo data, and absent when the key is off."""

from __future__ import annotations

import copy

import pytest
import rasterio
import requests
import yaml

from .conftest import REPO, Server

LOCAL = yaml.safe_load((REPO / 'config' / 'local.yml').read_text())


def _server(directory, **catalogue) -> Server:
    block = copy.deepcopy(LOCAL['eoorder'])
    block['data_dir'] = str(directory / 'data')
    block['catalogue'].update(catalogue)
    return Server(directory, block, LOCAL['resources']).start()


def _records(server: Server) -> list[dict]:
    reply = requests.get(f'{server.url}/collections/products/items?limit=100', timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()['features']


def test_demo_products_are_real_marked_and_made_once(tmp_path):
    server = _server(tmp_path)
    try:
        first = _records(server)
    finally:
        server.stop()
    demo = tmp_path / 'data' / 'demo'
    files = sorted(demo.iterdir())
    assert len(first) == len(files) == 4 + 3  # 3 dates of red/nir bands (openEO)
    for record in first:
        props = record['properties']
        assert props['title'].startswith('DEMO ') and 'demo' in props['keywords']
        assert props['platform'] and props['instrument'] and record['time']['interval']
        path = demo / f'{record["id"]}.tif'
        with rasterio.open(path) as dataset:  # a real GeoTIFF over the record's footprint
            assert dataset.crs.to_epsg() == 4326
            minx, miny, maxx, maxy = dataset.bounds
        ring = record['geometry']['coordinates'][0]
        assert (minx, miny) == pytest.approx(ring[0]) and (maxx, maxy) == pytest.approx(ring[2])
    stamps = {p.name: p.stat().st_mtime_ns for p in files}

    server = _server(tmp_path)  # second start: same files, same records, no new ones
    try:
        again = _records(server)
    finally:
        server.stop()
    assert {p.name: p.stat().st_mtime_ns for p in sorted(demo.iterdir())} == stamps
    assert [(r['id'], r['properties']['updated']) for r in again] == \
        [(r['id'], r['properties']['updated']) for r in first]


def test_demo_off_leaves_the_catalogue_and_data_dir_empty(tmp_path):
    server = _server(tmp_path, demo=False)
    try:
        assert _records(server) == []
    finally:
        server.stop()
    assert not (tmp_path / 'data' / 'demo').exists()


def test_cluster_config_has_no_demo():
    cluster = yaml.safe_load((REPO / 'config' / 'cluster.yml').read_text())
    assert cluster['eoorder']['catalogue']['demo'] is False


def test_demo_collection_that_is_not_configured_stops_start_up_in_one_line(tmp_path):
    block = copy.deepcopy(LOCAL['eoorder'])
    block['data_dir'] = str(tmp_path / 'data')
    block['catalogue']['demo_collection'] = 'no-such-collection'
    server = Server(tmp_path, block, LOCAL['resources'])
    with pytest.raises(RuntimeError, match='server exited'):
        server.start()
    log = server.log()
    assert 'eoorder.catalogue.demo_collection' in log and 'Traceback' not in log, log[-2000:]

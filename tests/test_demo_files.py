"""The demo products' files at this server's URLs (`<base>/demo/files/<name>`): what the
catalogue serves (OGC API - Records, OpenSearch, the STAC API) links to files a client can
download, never to a path of the server's disk; only the demo files are served; and those
URLs given back to the server (a STAC item naming one, read by openEO's `load_stac`) are
read from the folder, not over the network (the egress rules refuse this loopback address).
Oracles: the files on disk (bytes, and rasterio's pixels)."""

from __future__ import annotations

import base64
import http.client
import json

import numpy as np
import pytest
import rasterio
import requests
import yaml

from pygeoapi_eoorder.catalogue import demo_bands

from .support.auth import as_, password, write_users
from .support.workspaces import query
from .test_openeo_files import start

BAND = demo_bands.PRODUCTS[0]  # a red/nir product of the openEO demo


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp('demo-files')
    (directory / 'items').mkdir()
    users = write_users(directory / 'editors.yml', {'alice': ['user'], 'root': ['admin']})
    running = start(directory, auth={'authenticators': [{'name': 'basic',
                                                         'users_file': str(users)}]},
                    execution={'stage_in': {'allowed_file_roots': [str(directory / 'items')]}})
    yield running
    running.stop()


def basic(user: str) -> str:
    return 'Basic ' + base64.b64encode(f'{user}:{password(user)}'.encode()).decode()


def store_url(server) -> str:
    return f'sqlite:///{server.data_dir / "eoorder.db"}'


def demo_folder(server):
    return server.data_dir / 'demo'


def answers(server) -> dict[str, requests.Response]:
    """Every catalogue answer that lists the demo products, by what it is."""
    url = server.url
    get = lambda path: requests.get(url + path, auth=as_('alice'), timeout=30)  # noqa: E731
    return {
        'records': get('/collections/products/items?limit=100'),
        'record': get(f'/collections/products/items/{BAND.identifier}'),
        'records html': get('/collections/products/items?f=html&limit=100'),
        'opensearch atom': get('/opensearch/collections/products/search?count=50'),
        'opensearch geojson': get('/opensearch/collections/products/search?count=50'
                                  '&httpAccept=application/geo%2Bjson'),
        'stac items': get('/stac/collections/products/items?limit=100'),
        'stac search': requests.post(url + '/stac/search', auth=as_('alice'), timeout=30,
                                     json={'collections': ['products'], 'limit': 100}),
    }


def test_no_answer_shows_a_path_of_the_server(server):
    folder = str(demo_folder(server).resolve())
    for name, reply in answers(server).items():
        assert reply.status_code == 200, (name, reply.text[:300])
        assert 'DEMO' in reply.text, name  # (the demo products are there)
        assert 'file://' not in reply.text and folder not in reply.text, name


def _hrefs(server) -> dict[str, str]:
    """The demo product file URL of each demo record (Records' enclosure links)."""
    features = answers(server)['records'].json()['features']
    return {f['id']: next(link['href'] for link in f['links'] if link['rel'] == 'enclosure')
            for f in features}


def test_the_links_are_the_files_bytes_for_bytes(server):
    hrefs = _hrefs(server)
    files = sorted(p.name for p in demo_folder(server).iterdir())
    assert sorted(f'{i}.tif' for i in hrefs) == files and len(files) == 7
    for identifier, href in hrefs.items():
        assert href == f'{server.url}/demo/files/{identifier}.tif'
        reply = requests.get(href, timeout=30)  # (public, as the catalogue by default)
        assert reply.status_code == 200
        assert reply.headers['Content-Type'].startswith('image/tiff')
        assert reply.content == (demo_folder(server) / f'{identifier}.tif').read_bytes()
    part = requests.get(href, headers={'Range': 'bytes=0-3'}, auth=as_('alice'), timeout=30)
    assert part.status_code == 206 and part.content in (b'II*\x00', b'MM\x00*')


def test_stac_assets_are_the_same_urls(server):
    items = answers(server)['stac items'].json()['features']
    band_item = next(i for i in items if i['id'] == BAND.identifier)
    assert band_item['assets'][demo_bands.ASSET]['href'] == \
        f'{server.url}/demo/files/{BAND.identifier}.tif'


def test_links_start_as_the_records_own_links(server):
    """The file URL has the base every link of the answer has (`server.url` here; the
    request's own when none is configured)."""
    local = server.url.replace('127.0.0.1', 'localhost')
    reply = requests.get(f'{local}/collections/products/items/{BAND.identifier}',
                         auth=as_('alice'), timeout=30)
    links = {link['rel']: link['href'] for link in reply.json()['links']}
    base = links['self'].split('/collections/')[0]
    assert links['enclosure'] == f'{base}/demo/files/{BAND.identifier}.tif'


@pytest.mark.parametrize('path', [
    '/demo/files/secret.tif',                 # a file of the folder that is no demo file
    '/demo/files/..%2Fusers.yml', '/demo/files/..%2F..%2Fusers.yml',
    '/demo/files/%2e%2e/%2e%2e/users.yml', '/demo/files/../../users.yml',
    '/demo/files/sub/' + f'{BAND.identifier}.tif', '/demo/files/' + f'{BAND.identifier}.tif%00',
    '/demo/files/',
])
def test_nothing_but_the_demo_files_is_served(server, path):
    """Sent as written (http.client: no client folds the dots or decodes the escapes)."""
    (demo_folder(server) / 'secret.tif').write_bytes(b'not for you')
    connection = http.client.HTTPConnection('127.0.0.1', server.port, timeout=30)
    try:
        connection.request('GET', path, headers={'Authorization': basic('alice')})
        reply = connection.getresponse()
        body = reply.read()
    finally:
        connection.close()
    assert reply.status in (404, 308), (path, reply.status, body[:200])
    assert b'not for you' not in body and b'alice' not in body


def test_an_edited_demo_item_keeps_its_file_where_it_lies(server):
    """A STAC PATCH (the item read with its published URLs, merged, stored) and a Records
    PUT of what a GET answered store the files' own URLs again: the store is the oracle."""
    stac = f'{server.url}/stac/collections/products/items/{BAND.identifier}'
    patched = requests.patch(stac, json={'properties': {'eo:cloud_cover': 7.5}},
                             auth=as_('root'), timeout=30,
                             headers={'Content-Type': 'application/merge-patch+json'})
    assert patched.status_code in (200, 204), patched.text
    records = f'{server.url}/collections/products/items/{BAND.identifier}'
    document = requests.get(records, auth=as_('root'), timeout=30).json()
    put = requests.put(records, json=document, auth=as_('root'), timeout=30,
                       headers={'Content-Type': 'application/geo+json'})
    assert put.status_code in (200, 204), put.text
    [(stored,)] = query(store_url(server), 'SELECT CAST(document AS TEXT) FROM '
                        'eoorder_record WHERE identifier = :i', i=BAND.identifier)
    folder = demo_folder(server).resolve().as_uri()
    assert f'{folder}/{BAND.identifier}.tif' in stored and '/demo/files/' not in stored
    assert _hrefs(server)[BAND.identifier] == \
        f'{server.url}/demo/files/{BAND.identifier}.tif'


def test_without_a_configured_url_the_links_follow_the_request(tmp_path):
    running = start(tmp_path)
    running.stop()
    config = yaml.safe_load(running.config.read_text())
    del config['server']['url']
    running.config.write_text(yaml.safe_dump(config))
    running.start()
    try:
        for host in ('127.0.0.1', 'localhost'):
            base = f'http://{host}:{running.port}'
            reply = requests.get(f'{base}/stac/collections/products/items/{BAND.identifier}',
                                 timeout=30)
            href = reply.json()['assets'][demo_bands.ASSET]['href']
            assert href == f'{base}/demo/files/{BAND.identifier}.tif'
            assert requests.get(href, timeout=30).content == \
                (running.data_dir / 'demo' / f'{BAND.identifier}.tif').read_bytes()
    finally:
        running.stop()


def test_a_demo_url_given_back_is_read_from_the_folder(server):
    """A STAC item naming the published URL, loaded with openEO's `load_stac`: the pixels
    are the file's (this loopback URL is refused by the egress rules: only the server's
    own reading of its demo URLs can load it)."""
    href = f'{server.url}/demo/files/{BAND.identifier}.tif'
    west, south, east, north = demo_bands.BBOX
    item = {'type': 'Feature', 'stac_version': '1.1.0', 'id': 'given-back',
            'bbox': list(demo_bands.BBOX), 'links': [],
            'geometry': {'type': 'Polygon', 'coordinates': [[[west, south], [east, south],
                                                             [east, north], [west, north],
                                                             [west, south]]]},
            'properties': {'datetime': BAND.start},
            'assets': {'data': {'href': href, 'type': demo_bands.GEOTIFF, 'roles': ['data'],
                                'eo:bands': list(demo_bands.BANDS)}}}
    path = server.directory / 'items' / 'item.json'
    path.write_text(json.dumps(item))
    graph = {'load': {'process_id': 'load_stac', 'arguments': {
                 'url': path.as_uri(), 'bands': ['red']}},
             'save': {'process_id': 'save_result', 'arguments': {
                 'data': {'from_node': 'load'}, 'format': 'GTiff'}, 'result': True}}
    reply = requests.post(f'{server.url}/openeo/1.2/result', auth=as_('alice'), timeout=120,
                          json={'process': {'process_graph': graph}})
    assert reply.status_code == 200, reply.text[:500]
    result = server.directory / 'result.tif'
    result.write_bytes(reply.content)
    with rasterio.open(result) as got, \
            rasterio.open(demo_folder(server) / f'{BAND.identifier}.tif') as source:
        red = source.descriptions.index('red') + 1 if 'red' in source.descriptions else 1
        assert np.allclose(got.read(1), source.read(red))

    # the control: another URL of this server in the same item is refused by egress
    item['assets']['data']['href'] = f'{server.url}/openeo/1.2/'
    path.write_text(json.dumps(item))
    refused = requests.post(f'{server.url}/openeo/1.2/result', auth=as_('alice'), timeout=120,
                            json={'process': {'process_graph': graph}})
    assert refused.status_code == 400, refused.text[:500]
    assert 'refused' in refused.json()['message'], refused.text[:500]

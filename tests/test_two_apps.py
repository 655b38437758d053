"""Two apps from two configuration files live in one Python process, each serving its own
collections and processes (pygeoapi's flask_app allowed one app per process).

Both apps are served over real HTTP on loopback (werkzeug's threaded server); the oracle
is each configuration file: the collection and process identifiers it declares.
"""

from __future__ import annotations

import os
import re
import threading

import pytest
import requests
import yaml
from lxml import etree
from werkzeug.serving import make_server

from pygeoapi_eoorder.catalogue.repository import RecordRepository

from .conftest import TEST_PROCESSES, free_port, make_config
from .support.catalogue import eo_record, records_resource


@pytest.fixture
def no_job_engine(monkeypatch):
    """The apps only answer descriptions: no supervisor is started for them."""
    from pygeoapi_eoorder.jobs import supervisor_control
    monkeypatch.setenv(supervisor_control.ENV_SUPERVISOR, 'external')


def _serve(app):
    port = free_port()
    server = make_server('127.0.0.1', port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f'http://127.0.0.1:{port}'


def _declared(path) -> tuple[set[str], set[str]]:
    """(collection ids, process ids) the configuration file declares."""
    resources = yaml.safe_load(path.read_text())['resources']
    kinds = {rid: r['type'] for rid, r in resources.items()}
    return ({rid for rid, kind in kinds.items() if kind == 'collection'},
            {rid for rid, kind in kinds.items() if kind == 'process'})


def test_two_apps_in_one_process_serve_their_own_resources(tmp_path, no_job_engine):
    from pygeoapi_eoorder.app import create_app
    configs = []
    for name, processes in (('alpha', ['countdown', 'text']), ('beta', ['countdown-async'])):
        directory = tmp_path / name
        directory.mkdir()
        resources = {pid: TEST_PROCESSES[pid] for pid in processes}
        resources[f'{name}-products'] = records_resource(f'{name} products')
        configs.append(make_config(directory, free_port(), {}, resources))
    apps = [create_app(str(path)) for path in configs]
    servers = [_serve(app) for app in apps]
    try:
        for path, (_, url) in zip(configs, servers):
            collections, processes = _declared(path)
            listing = requests.get(f'{url}/collections?f=json', timeout=30)
            assert listing.status_code == 200, listing.text
            assert {c['id'] for c in listing.json()['collections']} == collections
            described = requests.get(f'{url}/processes?f=json', timeout=30)
            assert described.status_code == 200, described.text
            served = {p['id'] for p in described.json()['processes']}
            assert processes <= served
            other = {pid for p in configs if p != path for pid in _declared(p)[1]}
            assert not (other - processes) & served
            for collection in collections:
                items = requests.get(f'{url}/collections/{collection}/items?f=json',
                                     timeout=30)
                assert items.status_code == 200, items.text
                assert items.json()['type'] == 'FeatureCollection'
            assert requests.get(f'{url}/conformance?f=json', timeout=30).status_code == 200
    finally:
        for server, _ in servers:
            server.shutdown()


# -- two apps with different public URLs and different catalogue stores --------------------
HTTP_IN_TEXT = re.compile(r'https?://[^\s"\'<>]+')


def _hrefs(document) -> list[str]:
    """Every URL in a JSON document (links, endpoints, anything that starts with http)."""
    if isinstance(document, dict):
        return [u for value in document.values() for u in _hrefs(value)]
    if isinstance(document, list):
        return [u for value in document for u in _hrefs(value)]
    return [document] if isinstance(document, str) and HTTP_IN_TEXT.fullmatch(document) \
        else []


def _xml_urls(text: str) -> list[str]:
    """Every URL in the attributes and text of an XML document (but the namespaces and
    schema locations, which name OGC's schemas)."""
    root = etree.fromstring(text.encode())
    found = []
    for element in root.iter():
        values = [v for k, v in element.attrib.items() if 'schemaLocation' not in k]
        found += [m for v in values + [element.text or ''] for m in HTTP_IN_TEXT.findall(v)]
    return found


class Site:
    """One app: where it is served (`served`), the public URL its links must start with
    (`public`), the records in its own store."""

    def __init__(self, directory, public: str, port: int, record_ids: list[int]):
        self.port, self.public = port, public
        self.served = f'http://127.0.0.1:{port}'
        block = {'ordering': {'enabled': True},
                 'auth': {'anonymous': True, 'anonymous_roles': ['user']}}
        resources = {'countdown': TEST_PROCESSES['countdown'],
                     'products': records_resource('Products', processes=['countdown'])}
        self.config = make_config(directory, port, block, resources)
        config = yaml.safe_load(self.config.read_text())
        config['server']['url'] = public
        self.config.write_text(yaml.safe_dump(config))
        self.records = [eo_record(i) for i in record_ids]

    def seed(self, store_url: str) -> None:
        RecordRepository(store_url, 'products').upsert(self.records)

    def ours(self, url: str) -> bool:
        """Does `url` point at this app or the other (by public URL or served address)?"""
        return url.startswith(self.public) or url.startswith(self.served)

    def get(self, path: str, **params) -> requests.Response:
        reply = requests.get(self.served + path, params=params, timeout=60)
        assert reply.status_code == 200, f'{path}: {reply.status_code} {reply.text[:300]}'
        return reply


def _check_links(site: Site, sites: list[Site], what: str, urls: list[str]) -> None:
    """Every URL of `what` that points at one of the apps starts with `site`'s public URL."""
    to_apps = [u for u in urls if any(s.ours(u) for s in sites)]
    assert to_apps, f'{what}: no link to the server in {urls[:10]}'
    wrong = [u for u in to_apps if u != site.public
             and not u.startswith((site.public + '/', site.public + '?'))]
    assert not wrong, f'{what} of {site.public}: links {wrong[:5]}'


def _record_ids(features: list[dict]) -> set[str]:
    return {f['id'] for f in features}


def test_two_apps_keep_their_own_base_url_and_catalogue(tmp_path, no_job_engine):
    """Alpha's public URL has a path prefix, beta's another host name; each has its own
    SQLite store with its own `products`. Both apps are built first (the last one built
    used to set the process-wide URL and catalogue state), then each is asked in turn."""
    from pygeoapi_eoorder.app import create_app
    from pygeoapi_eoorder.components import Components
    ports = [free_port(), free_port()]
    sites = []
    for name, port, public, ids in (
            ('alpha', ports[0], f'http://127.0.0.1:{ports[0]}/geo', [0, 1, 2]),
            ('beta', ports[1], f'http://localhost:{ports[1]}', [10, 11])):
        (tmp_path / name).mkdir()
        sites.append(Site(tmp_path / name, public, port, ids))
    environment = dict(os.environ)
    apps = [create_app(str(site.config)) for site in sites]
    assert dict(os.environ) == environment  # building an app changes nothing process-wide
    for site in sites:
        site.seed(Components.for_config(site.config).settings.store_url)
    servers = []
    try:
        for site, app in zip(sites, apps):
            server = make_server('127.0.0.1', site.port, app, threaded=True)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)
        for _ in range(2):  # alternate: a request of one app never changes the other's
            for site in sites:
                _check_site(site, sites)
    finally:
        for server in servers:
            server.shutdown()


def _check_site(site: Site, sites: list[Site]) -> None:
    expected = {r['id'] for r in site.records}
    _check_links(site, sites, 'landing page', _hrefs(site.get('/', f='json').json()))
    forged = requests.get(f'{site.served}/', params={'f': 'json'}, timeout=60,
                          headers={'Host': f'evil.example:{site.port}'})  # links: configured
    assert forged.status_code == 200 and 'evil.example' not in forged.text
    _check_links(site, sites, 'landing page (forged Host)', _hrefs(forged.json()))
    items = site.get('/collections/products/items', f='json').json()
    assert _record_ids(items['features']) == expected
    _check_links(site, sites, 'records items', _hrefs(items))
    stac = site.get('/stac/search', limit='50').json()
    assert _record_ids(stac['features']) == expected
    _check_links(site, sites, 'STAC search', _hrefs(stac))
    _check_links(site, sites, 'STAC landing', _hrefs(site.get('/stac').json()))
    _check_job_links(site, sites)
    capabilities = site.get('/wps', service='WPS', request='GetCapabilities').text
    _check_links(site, sites, 'WPS capabilities', _xml_urls(capabilities))
    _check_links(site, sites, 'openEO capabilities', _hrefs(site.get('/openeo/1.2/').json()))
    _check_links(site, sites, 'openEO well-known',
                 _hrefs(site.get('/.well-known/openeo').json()))


def _check_job_links(site: Site, sites: list[Site]) -> None:
    """An async job (no engine runs it here): its status document's links."""
    reply = requests.post(f'{site.served}/processes/countdown/execution', timeout=60,
                          json={'inputs': {'steps': 1}}, headers={'Prefer': 'respond-async'})
    assert reply.status_code == 201, reply.text
    _check_links(site, sites, 'job Location', [reply.headers['Location']])
    job_id = reply.headers['Location'].rstrip('/').rsplit('/', 1)[-1]
    status = site.get(f'/jobs/{job_id}', f='json').json()
    assert status['jobID'] == job_id
    _check_links(site, sites, 'job status', _hrefs(status))

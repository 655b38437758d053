"""Two apps from two configuration files live in one Python process, each serving its own
collections and processes (pygeoapi's flask_app allowed one app per process).

Both apps are served over real HTTP on loopback (werkzeug's threaded server); the oracle
is each configuration file: the collection and process identifiers it declares.
"""

from __future__ import annotations

import os
import threading

import pytest
import requests
import yaml
from werkzeug.serving import make_server

from .conftest import TEST_PROCESSES, free_port, make_config
from .support.catalogue import records_resource


@pytest.fixture
def no_job_engine(monkeypatch):
    """The apps only answer descriptions: no supervisor is started for them."""
    from pygeoapi_eoorder.jobs import supervisor_control
    monkeypatch.setenv(supervisor_control.ENV_SUPERVISOR, 'external')
    monkeypatch.setenv('PYGEOAPI_CONFIG', os.environ.get('PYGEOAPI_CONFIG', ''))


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

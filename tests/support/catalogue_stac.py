"""A real STAC API server on loopback: stac-fastapi-pgstac (from PyPI) on the local
PostgreSQL, installed by scripts/catalogue-services into its own virtualenv.

Chosen because it is the maintained reference STAC API backend (the same one the issue
names), runs fully offline on the PostgreSQL the suite already uses, and supports the
search features federation needs (CQL2 filter, sortby, free-text q, numberMatched) plus
transactions, which the tests use to load items.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

TOOLS = Path(os.environ.get('EOORDER_CATALOGUE_TOOLS',
                            Path.home() / '.cache' / 'eoorder-catalogue'))
STAC_VENV = TOOLS / 'stac'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class StacServer:
    """stac-fastapi-pgstac under uvicorn, with transactions enabled."""

    def __init__(self, log_dir: Path, extensions: str | None = None):
        """`extensions`: stac-fastapi-pgstac's ENABLED_EXTENSIONS (e.g. 'pagination' for a
        remote without filter and sort); all of them when None."""
        uvicorn = STAC_VENV / 'bin' / 'uvicorn'
        if not uvicorn.exists():
            pytest.fail(f'no STAC API server in {STAC_VENV}: run scripts/catalogue-services')
        self.port = free_port()
        self.url = f'http://127.0.0.1:{self.port}'
        env = dict(os.environ, PGUSER='postgres', PGPASSWORD='postgres', PGHOST='127.0.0.1',
                   PGPORT='5432', PGDATABASE='eoorder_stac',
                   ENABLE_TRANSACTIONS_EXTENSIONS='true')
        if extensions is not None:
            env['ENABLED_EXTENSIONS'] = extensions
        self.log = log_dir / 'stac-server.log'
        self.process = subprocess.Popen(
            [str(uvicorn), 'stac_fastapi.pgstac.app:create_app', '--factory', '--host', '127.0.0.1',
             '--port', str(self.port), '--log-level', 'warning'],
            stdout=self.log.open('ab'), stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f'STAC server exited: {self.log.read_text()[-2000:]}')
            try:
                if requests.get(self.url + '/', timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError('STAC server did not start')

    def add_collection(self, collection_id: str) -> None:
        body = {'type': 'Collection', 'stac_version': '1.0.0', 'id': collection_id,
                'description': f'{collection_id} test collection', 'license': 'proprietary',
                'links': [], 'extent': {'spatial': {'bbox': [[-180, -90, 180, 90]]},
                                        'temporal': {'interval': [['2020-01-01T00:00:00Z',
                                                                   None]]}}}
        requests.delete(f'{self.url}/collections/{collection_id}', timeout=30)
        reply = requests.post(f'{self.url}/collections', json=body, timeout=30)
        assert reply.status_code in (200, 201), reply.text

    def add_items(self, collection_id: str, items: list[dict]) -> None:
        body = {'type': 'FeatureCollection', 'features': items}
        reply = requests.post(f'{self.url}/collections/{collection_id}/items', json=body,
                              timeout=60)
        assert reply.status_code in (200, 201), reply.text

    def remove_collection(self, collection_id: str) -> None:
        requests.delete(f'{self.url}/collections/{collection_id}', timeout=30)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)


def stac_item(index: int, collection: str) -> dict:
    """Item `index`: 1x1 degree at (index, index), 2021-01-(index+1) 10:00."""
    return {
        'type': 'Feature', 'stac_version': '1.0.0', 'id': f'item-{index}',
        'collection': collection,
        'geometry': {'type': 'Polygon', 'coordinates': [[[index, index], [index + 1, index],
                                                         [index + 1, index + 1],
                                                         [index, index + 1], [index, index]]]},
        'bbox': [index, index, index + 1, index + 1],
        'properties': {'datetime': f'2021-01-{index + 1:02d}T10:00:00Z',
                       'title': f'Item {index} {"optical" if index % 2 else "radar"}',
                       'platform': 'sentinel-2a' if index % 2 else 'sentinel-1b',
                       'instruments': ['msi' if index % 2 else 'sar'],
                       'eo:cloud_cover': float(index * 10),
                       'sat:orbit_state': 'ascending' if index % 2 else 'descending'},
        'assets': {'data': {'href': f'https://data.invalid/{collection}/item-{index}.tif',
                            'type': 'image/tiff', 'roles': ['data']}},
        'links': [],
    }


class MisbehavingServer:
    """A loopback HTTP server that answers 500 (`mode='error'`) or never answers ('hang')."""

    def __init__(self, mode: str):
        self.release = threading.Event()
        release = self.release

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                if mode == 'hang':
                    release.wait(60)
                    return
                self.send_response(500)
                self.send_header('Content-Type', 'application/json')
                self.end_headers()
                self.wfile.write(b'{"code": "boom", "description": "upstream failure"}')

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self):
        self.release.set()
        self.httpd.shutdown()

"""Shared set-up of the security tests: a server with Basic auth and the pentest's users
(alice and bob: user; dev and dev2: developer; admin; operator; curator), a loopback HTTP
server that plays an internal service, and a canary directory on the host that no attack
may touch."""

from __future__ import annotations

import http.server
import threading
from pathlib import Path

import pytest
import requests

from ..conftest import TEST_PROCESSES, Server
from ..support.auth import as_, write_users

USERS = {'alice': ['user'], 'bob': ['user'], 'dev': ['developer'], 'dev2': ['developer'],
         'admin': ['admin'], 'operator': ['operator'], 'curator': ['curator']}
PKG = 'application/ogcapppkg+json'


def secure_block(directory: Path, **extra) -> dict:
    """An eoorder block with Basic auth for USERS; `extra` keys are merged in (top level)."""
    users = write_users(directory / 'users.yml', USERS)
    block = {'auth': {'authenticators': [{'name': 'basic', 'users_file': str(users)}]}}
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(block.get(key), dict):
            block[key] = {**block[key], **value}
        else:
            block[key] = value
    return block


def start_secure_server(directory: Path, resources: dict | None = None, **extra) -> Server:
    """A running server with Basic auth; call `.stop()` when done."""
    directory.mkdir(parents=True, exist_ok=True)
    return Server(directory, secure_block(directory, **extra),
                  resources if resources is not None else dict(TEST_PROCESSES)).start()


def call(server: Server, method: str, path: str, user: str | None = None,
         **kwargs) -> requests.Response:
    """One request to `server` as `user` (None: anonymous)."""
    kwargs.setdefault('timeout', 60)
    return requests.request(method, server.url + path, auth=as_(user) if user else None,
                            **kwargs)


def deploy_package(server: Server, user: str, body, content_type: str = PKG,
                   visibility: str = 'public') -> requests.Response:
    """POST /processes as `user` (a dict is sent as JSON, str/bytes as they are)."""
    data = body if isinstance(body, (str, bytes)) else None
    json_body = None if data is not None else body
    return call(server, 'POST', '/processes', user, params={'visibility': visibility},
                json=json_body, data=data, headers={'Content-Type': content_type})


def run_sync(server: Server, user: str, process_id: str, inputs: dict,
             **body) -> requests.Response:
    return call(server, 'POST', f'/processes/{process_id}/execution', user,
                json={'inputs': inputs, **body}, timeout=300)


def run_async(server: Server, user: str, process_id: str, inputs: dict, **body) -> dict:
    """Submit as `user`, wait for the end; the final status document."""
    import time
    reply = call(server, 'POST', f'/processes/{process_id}/execution', user,
                 json={'inputs': inputs, **body}, headers={'Prefer': 'respond-async'})
    assert reply.status_code == 201, reply.text
    job_id = reply.json()['jobID']
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        job = call(server, 'GET', f'/jobs/{job_id}', user).json()
        if job['status'] in ('successful', 'failed', 'dismissed'):
            return job
        time.sleep(0.1)
    raise AssertionError(f'job {job_id} did not end: {job}')


class InternalService:
    """A loopback HTTP server: it serves `files` ({path: bytes}; close-delimited, without a
    Content-Length, for paths in `unsized`), redirects `/to?<url>` to <url> (302), and
    records every request it receives (path list in `.hits`). `host` names it in `.url`
    (e.g. `localhost` for a host the deployer allowed by name)."""

    def __init__(self, files: dict[str, bytes] | None = None, host: str = '127.0.0.1'):
        self.files = dict(files or {})
        self.unsized: set[str] = set()
        self.hits: list[str] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                outer.hits.append(self.path)
                path, _, query = self.path.partition('?')
                if path == '/to':
                    self.send_response(302)
                    self.send_header('Location', query)
                    self.end_headers()
                    return
                body = outer.files.get(path)
                self.send_response(200 if body is not None else 404)
                if path not in outer.unsized:
                    self.send_header('Content-Length', str(len(body or b'')))
                self.end_headers()
                self.wfile.write(body or b'')

            do_POST = do_GET  # noqa: N815

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f'http://{host}:{self.port}'
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def internal_service():
    service = InternalService({'/secret': b'TOP-SECRET-VALUE'})
    yield service
    service.close()


@pytest.fixture
def canary(tmp_path) -> Path:
    """A host directory outside every job directory; attacks aim at it. Tests assert it
    stays empty and that `canary/secret.txt` (mode 0600) never leaks."""
    target = tmp_path / 'canary'
    target.mkdir()
    secret = target / 'secret.txt'
    secret.write_text('HOST-SECRET-CONTENT\n')
    secret.chmod(0o600)
    return target

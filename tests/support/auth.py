"""Helpers of the auth tests: users files, credentials, WS-Security headers, packages."""

from __future__ import annotations

from pathlib import Path

import requests
import yaml
from werkzeug.security import generate_password_hash

FAST_HASH = 'pbkdf2:sha256:1000'  # test users only: keeps each request's check cheap
WSSE = ('http://docs.oasis-open.org/wss/2004/01/'
        'oasis-200401-wss-wssecurity-secext-1.0.xsd')


def password(name: str) -> str:
    """Every test user's password is derived from the name."""
    return f'{name}-pw'


def as_(name: str) -> tuple[str, str]:
    """HTTP Basic credentials of a test user (for `requests`' `auth=`)."""
    return (name, password(name))


def write_users(path: Path, users: dict[str, list[str]]) -> Path:
    """A users file (`basic` authenticator) for {name: roles}, with hashed passwords
    (`eoorder users add` writes the same format with a slow hash)."""
    path.write_text(yaml.safe_dump({'users': {
        name: {'password': generate_password_hash(password(name), FAST_HASH), 'roles': roles}
        for name, roles in users.items()}}))
    return path


def username_token(name: str, secret: str | None = None) -> str:
    """A SOAP header block carrying a WS-Security UsernameToken."""
    return (f'<wsse:Security xmlns:wsse="{WSSE}"><wsse:UsernameToken><wsse:Username>{name}'
            f'</wsse:Username><wsse:Password>{secret or password(name)}</wsse:Password>'
            f'</wsse:UsernameToken></wsse:Security>')


def package(pid: str) -> dict:
    """A small ogcapppkg application package (its image need not run)."""
    return {'processDescription': {'id': pid, 'outputs': {'r': {'schema': {'type': 'string'}}}},
            'executionUnit': {'type': 'docker', 'image': 'eoorder-test/echo:1.0'}}


def deploy(server, user: str, pid: str, visibility: str = 'public',
           method: str = 'post') -> requests.Response:
    """Deploy (POST /processes) or replace (method='put') a package as `user`."""
    url = f'{server.url}/processes' + (f'/{pid}' if method == 'put' else '')
    return requests.request(method, url, params={'visibility': visibility}, auth=as_(user),
                            json=package(pid), timeout=30,
                            headers={'Content-Type': 'application/ogcapppkg+json'})


def openeo_as(server, user: str):
    """An `openeo` client connection to the server's openEO API, signed in as `user`
    (Basic)."""
    import openeo
    connection = openeo.connect(f'{server.url}/openeo/1.2/')
    connection.authenticate_basic(*as_(user))
    return connection

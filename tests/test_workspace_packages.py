"""Registering into a workspace: an application package (ogcapppkg JSON or CWL, by URL)
becomes a private process of the workspace that its members see in `/processes` and run
(in the Docker sandbox) and that anyone else gets the answer for a process that does not
exist; deregistering and deleting the workspace undeploy it. A bare STAC Item URL is
registered as one record. Stored state is read from the store itself."""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.support.auth import as_, write_users
from tests.support.egress import allow_loopback
from tests.support.static_stac import StaticCatalog

PACKAGES = Path(__file__).parent / 'data' / 'packages'
USERS = {'alice': ['user', 'developer'], 'bob': ['user'], 'carol': ['user', 'developer'],
         'root': ['admin']}


@pytest.fixture(scope='module')
def packages():
    """tests/data/packages over HTTP on loopback (`.cwl` served as octet-stream)."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(PACKAGES))
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), handler)
    httpd.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_port}'
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    from .conftest import Server
    directory = tmp_path_factory.mktemp('ws-packages')
    users = write_users(directory / 'users.yml', USERS)
    block = {'auth': {'authenticators': [{'name': 'basic', 'users_file': str(users)}]},
             'workspaces': {'storage': {'backend': 'directory'}}, 'jobs': {'workers': 2}}
    server = Server(directory, allow_loopback(block)).start()
    yield server
    server.stop()


def call(site, method: str, user: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f'{site.url}{path}', auth=as_(user), timeout=60,
                            **kwargs)


def stored_processes(site) -> dict[str, tuple[str, str]]:
    """{process id: (owner, visibility)} as the store holds them."""
    with sqlite3.connect(site.directory / 'data' / 'eoorder.db') as db:
        return {pid: (owner, json.loads(definition).get('visibility'))
                for pid, owner, definition in db.execute(
                    'SELECT id, owner, definition FROM eoorder_process')}


def register(site, user, workspace, url, kind='application-package'):
    return call(site, 'POST', user, f'/workspaces/{workspace}/register',
                json={'type': kind, 'url': url})


def process_ids(site, user) -> set[str]:
    reply = call(site, 'GET', user, '/processes', params={'f': 'json', 'limit': 1000})
    return {p['id'] for p in reply.json()['processes']}


def run_echo(site, user, message: str) -> requests.Response:
    return call(site, 'POST', user, '/processes/echo/execution',
                json={'inputs': {'message': message}}, headers={'Prefer': 'respond-async'})


def wait_job(site, user, location: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = requests.get(location, auth=as_(user), timeout=30).json()
        if job['status'] in ('successful', 'failed', 'dismissed'):
            return job
        time.sleep(0.2)
    raise AssertionError(f'job {location} did not finish')


def test_package_is_a_private_process_of_the_workspace(site, packages):
    assert call(site, 'POST', 'alice', '/workspaces', json={'id': 'apps'}).status_code == 201
    call(site, 'POST', 'alice', '/workspaces/apps/members', json={'user': 'bob'})
    foreign = register(site, 'carol', 'apps', f'{packages}/echo.ogcapppkg.json')
    assert foreign.status_code == 404, foreign.text  # not a member: as if absent
    reply = register(site, 'alice', 'apps', f'{packages}/echo.ogcapppkg.json')
    assert reply.status_code == 201, reply.text
    assert reply.headers['Location'].endswith('/processes/echo')
    assert stored_processes(site)['echo'] == ('workspace:apps', 'private')
    assert 'echo' in process_ids(site, 'alice') and 'echo' in process_ids(site, 'bob')
    assert 'echo' not in process_ids(site, 'carol')
    listed = call(site, 'GET', 'bob', '/workspaces/apps/processes').json()['processes']
    assert [p['id'] for p in listed] == ['echo']
    for path in ('/processes/{}', '/processes/{}/package'):
        hidden = call(site, 'GET', 'carol', path.format('echo'))
        absent = call(site, 'GET', 'carol', path.format('nothing'))
        assert hidden.status_code == absent.status_code == 404, path
        assert hidden.text.replace('echo', 'nothing') == absent.text
    refused = run_echo(site, 'carol', 'hi')
    assert refused.status_code == 404, refused.text
    started = run_echo(site, 'bob', 'from a member')
    assert started.status_code == 201, started.text
    job = wait_job(site, 'bob', started.headers['Location'])
    assert job['status'] == 'successful', job
    results = requests.get(f'{started.headers["Location"]}/results', auth=as_('bob'),
                           timeout=30)
    assert 'from a member' in results.text
    assert call(site, 'GET', 'carol', '/workspaces/apps/processes').status_code == 404
    assert call(site, 'DELETE', 'carol', '/workspaces/apps/processes/echo'
                ).status_code == 404
    assert call(site, 'DELETE', 'bob', '/workspaces/apps/processes/echo'
                ).status_code == 403  # a member without the deploy permission
    assert call(site, 'DELETE', 'alice', '/workspaces/apps/processes/echo'
                ).status_code == 204
    assert 'echo' not in stored_processes(site)
    assert call(site, 'GET', 'bob', '/processes/echo').status_code == 404


def test_cwl_package_and_workspace_deletion(site, packages):
    assert call(site, 'POST', 'carol', '/workspaces', json={'id': 'cwl'}).status_code == 201
    reply = register(site, 'carol', 'cwl', f'{packages}/echo.cwl')
    assert reply.status_code == 201, reply.text
    assert stored_processes(site)['echo'] == ('workspace:cwl', 'private')
    assert 'echo' not in process_ids(site, 'alice')
    refused = call(site, 'DELETE', 'carol', '/workspaces/cwl')
    assert refused.status_code == 409 and refused.json()['processes'] == 1
    assert 'echo' in stored_processes(site)
    assert call(site, 'DELETE', 'carol', '/workspaces/cwl', params={'force': 'true'}
                ).status_code == 204
    assert 'echo' not in stored_processes(site)


def test_bad_packages_are_refused(site, packages):
    assert call(site, 'POST', 'alice', '/workspaces', json={'id': 'bad'}).status_code == 201
    for url in ('file:///etc/passwd', f'{packages}/missing.json', f'{packages}/README.md',
                'http://169.254.169.254/latest'):
        reply = register(site, 'alice', 'bad', url)
        assert reply.status_code in (400, 415), (url, reply.text)
        assert reply.headers['Content-Type'].startswith('application/problem+json')
    assert call(site, 'POST', 'alice', '/workspaces/bad/members', json={'user': 'bob'}
                ).status_code == 200
    reply = register(site, 'bob', 'bad', f'{packages}/echo.ogcapppkg.json')
    assert reply.status_code == 403 and 'deploy' in reply.json()['detail']
    assert stored_processes(site) == {}


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    catalog = StaticCatalog(tmp_path_factory.mktemp('items'), count=2)
    yield catalog
    catalog.stop()


def test_bare_stac_item(site, source):
    assert call(site, 'POST', 'alice', '/workspaces', json={'id': 'items'}).status_code == 201
    reply = register(site, 'alice', 'items', source.item_url(1), kind='stac')
    assert reply.status_code == 200, reply.text
    assert reply.json()['registered']['inserted'] == 1
    with sqlite3.connect(site.directory / 'data' / 'eoorder.db') as db:
        rows = list(db.execute('SELECT identifier, owner, visibility, document FROM '
                               'eoorder_record WHERE collection = ?', ('workspace-items',)))
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (source.items[1]['id'], 'workspace:items', 'private')]
    assets = json.loads(rows[0][3])['assets']
    assert assets['data']['href'] == source.items[1]['assets']['data']['href']

"""Registering into a workspace: an application package (ogcapppkg JSON or CWL, by URL)
becomes a private process of the workspace that its members see in `/processes` and run
(in the Docker sandbox) and that anyone else gets the answer for a process that does not
exist; deregistering and deleting the workspace undeploy it. A bare STAC Item URL is
registered as one record. Store on SQLite and on PostgreSQL/PostGIS; stored state is
read from the store itself."""

from __future__ import annotations

import json
import time

import pytest
import requests

from tests.support.auth import as_
from tests.support.static_stac import StaticCatalog
from tests.support.workspaces import STORES, packages, query, start_site, stop_site

__all__ = ['packages']
USERS = {'alice': ['user', 'developer'], 'bob': ['user'], 'carol': ['user', 'developer'],
         'root': ['admin']}


@pytest.fixture(scope='module', params=STORES)
def site(request, tmp_path_factory):
    """A server with the store on SQLite or on PostgreSQL/PostGIS."""
    server = start_site(tmp_path_factory.mktemp(f'ws-packages-{request.param}'), USERS, {},
                        store=request.param, jobs={'workers': 2})
    yield server
    stop_site(server)


def call(site, method: str, user: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f'{site.url}{path}', auth=as_(user), timeout=60,
                            **kwargs)


def stored_processes(site) -> dict[str, tuple[str, str]]:
    """{process id: (owner, visibility)} as the store holds them."""
    return {pid: (owner, json.loads(definition).get('visibility'))
            for pid, owner, definition in query(
                site.store_url, 'SELECT id, owner, CAST(definition AS TEXT) FROM eoorder_process')}


def register(site, user, workspace, url, kind='application-package'):
    return call(site, 'POST', user, f'/workspaces/{workspace}/register',
                json={'type': kind, 'url': url})


def process_ids(site, user) -> set[str]:
    reply = call(site, 'GET', user, '/processes', params={'f': 'json', 'limit': 1000})
    return {p['id'] for p in reply.json()['processes']}


def run_echo(site, user, message: str) -> requests.Response:
    return call(site, 'POST', user, '/processes/apps:echo/execution',
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
    # the workspace's namespace: `<workspace>:<package's id>`
    assert reply.headers['Location'].endswith('/processes/apps:echo')
    assert stored_processes(site)['apps:echo'] == ('workspace:apps', 'private')
    assert 'apps:echo' in process_ids(site, 'alice') & process_ids(site, 'bob')
    assert 'apps:echo' not in process_ids(site, 'carol')
    listed = call(site, 'GET', 'bob', '/workspaces/apps/processes').json()['processes']
    assert [p['id'] for p in listed] == ['apps:echo']
    for path in ('/processes/{}', '/processes/{}/package'):
        hidden = call(site, 'GET', 'carol', path.format('apps:echo'))
        absent = call(site, 'GET', 'carol', path.format('apps:nothing'))
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
    assert 'apps:echo' not in stored_processes(site)
    assert call(site, 'GET', 'bob', '/processes/apps:echo').status_code == 404


def test_cwl_package_and_workspace_deletion(site, packages):
    assert call(site, 'POST', 'carol', '/workspaces', json={'id': 'cwl'}).status_code == 201
    reply = register(site, 'carol', 'cwl', f'{packages}/echo.cwl')
    assert reply.status_code == 201, reply.text
    assert stored_processes(site)['cwl:echo'] == ('workspace:cwl', 'private')
    assert 'cwl:echo' not in process_ids(site, 'alice')
    refused = call(site, 'DELETE', 'carol', '/workspaces/cwl')
    assert refused.status_code == 409 and refused.json()['processes'] == 1
    assert 'cwl:echo' in stored_processes(site)
    assert call(site, 'DELETE', 'carol', '/workspaces/cwl', params={'force': 'true'}
                ).status_code == 204
    assert 'cwl:echo' not in stored_processes(site)


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
    rows = query(site.store_url, 'SELECT identifier, owner, visibility, CAST(document AS '
                 'TEXT) FROM eoorder_record WHERE collection = :c', c='workspace-items')
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (source.items[1]['id'], 'workspace:items', 'private')]
    assets = json.loads(rows[0][3])['assets']
    assert assets['data']['href'] == source.items[1]['assets']['data']['href']

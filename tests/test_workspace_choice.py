"""Choosing the workspace per execution: the `workspace` member of an OGC API - Processes
execute request (and the `EOOrder-Workspace` header of a WPS Execute) sends a deployed
process's results to one of the caller's workspaces instead of the personal one; a
workspace the caller is not a member of is refused exactly like one that does not exist,
before anything is queued. Storage (the directory backend) and store are read directly."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from tests.support.auth import as_, write_users
from tests.support.egress import allow_loopback
from tests.support.wps_schemas import assert_valid
from tests.test_workspace_stage_out import PACKAGES, PKG, QUOTA, SCENE, records

USERS = {'alice': ['user', 'developer'], 'bob': ['user'], 'carol': ['user'],
         'root': ['admin']}
WPS = 'http://www.opengis.net/wps/2.0'
OWS = 'http://www.opengis.net/ows/2.0'
XLINK = 'http://www.w3.org/1999/xlink'


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    root = tmp_path_factory.mktemp('scene')
    (root / 'scene.tif').write_bytes(SCENE)
    httpd = ThreadingHTTPServer(('127.0.0.1', 0),
                                functools.partial(SimpleHTTPRequestHandler, directory=str(root)))
    httpd.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_port}/scene.tif'
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    from .conftest import Server
    directory = tmp_path_factory.mktemp('choice')
    users = write_users(directory / 'users.yml', USERS)
    block = {'auth': {'authenticators': [{'name': 'basic', 'users_file': str(users)}]},
             'workspaces': {'storage': {'backend': 'directory'}, 'personal': True,
                            'stage_out': 'personal', 'default_quota_bytes': QUOTA}}
    server = Server(directory, allow_loopback(block)).start()
    reply = requests.post(f'{server.url}/processes', auth=as_('alice'), timeout=30,
                          data=(PACKAGES / 'landcover.ogcapppkg.json').read_bytes(),
                          headers={'Content-Type': PKG})
    assert reply.status_code == 201, reply.text
    yield server
    server.stop()


def call(server, method: str, user: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f'{server.url}{path}', auth=as_(user), timeout=60,
                            **kwargs)


def files_of(server, workspace: str) -> dict[str, int]:
    root = server.directory / 'data' / 'workspaces' / workspace
    return {p.relative_to(root).as_posix(): p.stat().st_size
            for p in root.rglob('*') if p.is_file()} if root.exists() else {}


def personal(server, user: str) -> str:
    listed = call(server, 'GET', user, '/workspaces').json()['workspaces']
    return next(w['id'] for w in listed if w['personal'])


def execute(server, user: str, scene_url: str, **extra) -> requests.Response:
    return call(server, 'POST', user, '/processes/landcover/execution',
                headers={'Prefer': 'respond-async'},
                json={'inputs': {'source': {'href': scene_url}, 'aoi': '5.5,50.1,6.25,51',
                                 'epsg': 32631}, **extra})


def finished(server, user: str, job_id: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = call(server, 'GET', user, f'/jobs/{job_id}').json()
        if job['status'] in ('successful', 'failed', 'dismissed'):
            return job
        time.sleep(0.2)
    raise AssertionError(f'job {job_id} did not finish')


def shared_workspace(server) -> str:
    """A workspace of carol's with alice as a member (bob is not)."""
    name = f'team-{uuid.uuid4().hex[:8]}'
    assert call(server, 'POST', 'carol', '/workspaces', json={'id': name}).status_code == 201
    assert call(server, 'POST', 'carol', f'/workspaces/{name}/members',
                json={'user': 'alice'}).status_code == 200
    return name


def test_named_workspace_receives_the_results(site, scene):
    team = shared_workspace(site)
    mine = personal(site, 'alice')
    before = files_of(site, mine)
    reply = execute(site, 'alice', scene, workspace=team)
    assert reply.status_code == 201, reply.text
    job = finished(site, 'alice', reply.json()['jobID'])
    assert job['status'] == 'successful', job
    prefix = f"jobs/{job['jobID']}/"
    stored = files_of(site, team)
    assert stored[f'{prefix}classification'] > 0 and f'{prefix}stac/catalog.json' in stored
    assert files_of(site, mine) == before  # the personal workspace got nothing
    document = call(site, 'GET', 'alice', f"/jobs/{job['jobID']}/results",
                    params={'response': 'document'}).json()
    assert document['classification']['href'] == \
        f'{site.url}/workspaces/{team}/files/{prefix}classification'
    registered = records(site, f'workspace-{team}')
    assert registered and all(owner == f'workspace:{team}' for owner, _, _ in
                              registered.values())
    # the stored usage counts the files and the registered documents
    usage = call(site, 'GET', 'carol', f'/workspaces/{team}').json()['usage']
    assert usage['usedBytes'] == sum(stored.values()) + sum(
        len(text.encode()) for _, _, text in registered.values())


def test_foreign_workspace_answers_as_absent(site, scene):
    team = shared_workspace(site)
    jobs_before = call(site, 'GET', 'bob', '/jobs').json()['jobs']
    foreign = execute(site, 'bob', scene, workspace=team)
    absent = execute(site, 'bob', scene, workspace='no-such-workspace')
    assert foreign.status_code == absent.status_code == 400, foreign.text
    assert foreign.headers['Content-Type'].startswith('application/problem+json')
    assert foreign.json()['detail'].replace(team, 'X') == \
        absent.json()['detail'].replace('no-such-workspace', 'X')
    assert call(site, 'GET', 'bob', '/jobs').json()['jobs'] == jobs_before  # nothing queued
    for bad in (5, '', ['a']):
        reply = execute(site, 'alice', scene, workspace=bad)
        assert reply.status_code == 400 and 'workspace' in reply.json()['detail'], reply.text
    # the admin may name any workspace
    assert execute(site, 'root', scene, workspace=team).status_code == 201


def test_openapi_documents_the_member(site):
    document = call(site, 'GET', 'alice', '/openapi', params={'f': 'json'}).json()
    operation = document['paths']['/processes/landcover/execution']['post']
    assert 'workspace' in operation['x-eoorder-execute-members']


def wps_execute(server, user: str, scene_url: str, workspace: str) -> requests.Response:
    body = (f'<wps:Execute xmlns:wps="{WPS}" xmlns:ows="{OWS}" xmlns:xlink="{XLINK}" '
            'service="WPS" version="2.0.0" mode="async" response="document">'
            '<ows:Identifier>landcover</ows:Identifier>'
            f'<wps:Input id="source"><wps:Reference xlink:href="{scene_url}"/></wps:Input>'
            '<wps:Input id="aoi"><wps:Data>5.5,50.1,6.25,51</wps:Data></wps:Input>'
            '<wps:Input id="epsg"><wps:Data>32631</wps:Data></wps:Input></wps:Execute>')
    return call(server, 'POST', user, '/wps', data=body.encode(),
                headers={'Content-Type': 'application/xml', 'EOOrder-Workspace': workspace})


def test_wps_header_names_the_workspace(site, scene):
    team = shared_workspace(site)
    for workspace in (team, 'no-such-workspace'):
        refused = wps_execute(site, 'bob', scene, workspace)
        assert refused.status_code == 400, refused.text
        exception = assert_valid(refused.content).find(f'{{{OWS}}}Exception')
        assert exception.get('exceptionCode') == 'InvalidParameterValue'
        assert exception.get('locator') == 'EOOrder-Workspace'
    accepted = wps_execute(site, 'alice', scene, team)
    assert accepted.status_code == 200, accepted.text
    job_id = assert_valid(accepted.content).findtext(f'{{{WPS}}}JobID')
    assert finished(site, 'alice', job_id)['status'] == 'successful'
    assert f'jobs/{job_id}/classification' in files_of(site, team)

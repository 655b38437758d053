"""Choosing the workspace per execution: the `workspace` member of an OGC API - Processes
execute request (and the `EOOrder-Workspace` header of a WPS Execute) sends a deployed
process's results to one of the caller's workspaces instead of the personal one; a
workspace the caller is not a member of is refused exactly like one that does not exist,
before anything is queued. Storage (the directory backend) and store are read directly."""

from __future__ import annotations

import uuid

import pytest
import requests

from tests.support.auth import as_
from tests.support.workspaces import (deploy_landcover, personal, records, scene,
                                      start_site, stop_site, stored_objects, wait_job)
from tests.support.wps_schemas import assert_valid

__all__ = ['scene']
USERS = {'alice': ['user', 'developer'], 'bob': ['user'], 'carol': ['user'],
         'root': ['admin']}
QUOTA = 100_000
WPS = 'http://www.opengis.net/wps/2.0'
OWS = 'http://www.opengis.net/ows/2.0'
XLINK = 'http://www.w3.org/1999/xlink'


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    server = start_site(tmp_path_factory.mktemp('choice'), USERS,
                        {'personal': True, 'stage_out': 'personal',
                         'default_quota_bytes': QUOTA})
    deploy_landcover(server)
    yield server
    stop_site(server)


def call(server, method: str, user: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f'{server.url}{path}', auth=as_(user), timeout=60,
                            **kwargs)


def files_of(server, workspace: str) -> dict[str, int]:
    return {key: len(body) for key, body in stored_objects(server, workspace).items()}


def execute(server, user: str, scene_url: str, **extra) -> requests.Response:
    return call(server, 'POST', user, '/processes/landcover/execution',
                headers={'Prefer': 'respond-async'},
                json={'inputs': {'source': {'href': scene_url}, 'aoi': '5.5,50.1,6.25,51',
                                 'epsg': 32631}, **extra})


def finished(server, user: str, job_id: str) -> dict:
    return wait_job(server, user, job_id)


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

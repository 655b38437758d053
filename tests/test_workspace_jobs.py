"""Jobs and workspaces (issue 18): `GET /workspaces/{id}` (JSON and HTML) shows the caller's
own job quotas and usage beside the storage quota; an openEO batch job names a workspace
(`workspace` on create and PATCH) and its files and STAC item land there; a created OGC API
job's workspace is changed with PATCH (Part 4); a workspace's processes live in its own
namespace (`<workspace>:<id>`), so registering never reveals a process the caller cannot
see. Every refusal of a workspace one may not use is the answer for one that does not exist.

Oracles: the limits come from this module's configuration, the usage from the jobs this
module holds, files from the storage directory, records from the store's tables."""

from __future__ import annotations

import copy
import json
import re
import time
import uuid

import pytest
import requests

from tests.conftest import REPO, TEST_PROCESSES, Server
from tests.support.auth import as_, write_users
from tests.support.egress import allow_loopback
from tests.support.workspaces import (deploy_landcover, packages, query, records, scene,
                                      stored_objects, wait_job)

__all__ = ['packages', 'scene']
LOCAL = __import__('yaml').safe_load((REPO / 'config' / 'local.yml').read_text())
USERS = {'alice': ['user', 'developer'], 'bob': ['user'], 'carol': ['user', 'developer'],
         'root': ['admin']}
QUOTAS = {'running_jobs': 1, 'queued_jobs': 4, 'active_order_items': 3,
          'roles': {'developer': {'queued_jobs': 6}}}
LYON = {'west': 4.75, 'south': 45.70, 'east': 4.95, 'north': 45.85}
PKG = 'application/ogcapppkg+json'


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    directory = tmp_path_factory.mktemp('ws-jobs')
    block = copy.deepcopy(LOCAL['eoorder'])
    users = write_users(directory / 'users.yml', USERS)
    block.update(data_dir=str(directory / 'data'), jobs={'workers': 2}, quotas=QUOTAS,
                 auth={'authenticators': [{'name': 'basic', 'users_file': str(users)}]},
                 workspaces={'storage': {'backend': 'directory'}})
    resources = {**LOCAL['resources'], 'countdown': TEST_PROCESSES['countdown']}
    server = Server(directory, allow_loopback(block), resources).start()
    server.s3, server.store_url = None, f'sqlite:///{server.data_dir}/eoorder.db'
    yield server
    server.stop()


def call(site, method: str, user: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f'{site.url}{path}', auth=as_(user), timeout=60,
                            **kwargs)


def workspace(site, owner: str, members: tuple = ()) -> str:
    name = f'w-{uuid.uuid4().hex[:8]}'
    assert call(site, 'POST', owner, '/workspaces', json={'id': name}).status_code == 201
    for member in members:
        assert call(site, 'POST', owner, f'/workspaces/{name}/members',
                    json={'user': member}).status_code == 200
    return name


def same_refusal(refused: requests.Response, absent: requests.Response, named: str,
                 missing: str) -> None:
    """A workspace one may not use answers exactly as one that does not exist (but for
    openEO's error `id`, unique to each answer)."""
    assert refused.status_code == absent.status_code == 400, refused.text
    assert refused.headers['Content-Type'] == absent.headers['Content-Type']
    answers = [json.loads(r.text.replace(named, missing)) for r in (refused, absent)]
    assert [{k: v for k, v in a.items() if k != 'id'} for a in answers] == [
        {k: v for k, v in answers[1].items() if k != 'id'}] * 2


# -- item 1: the caller's job quotas on the workspace page --------------------------------
def expected_quotas(user: str, running: int, queued: int) -> dict:
    """From this module's configuration (order items: at most the ordering's own bound)."""
    queued_limit = max(QUOTAS['queued_jobs'], *[
        QUOTAS['roles'].get(r, {}).get('queued_jobs', 0) for r in USERS[user]])
    cap = ((LOCAL['eoorder'].get('ordering') or {}).get('limits') or {}).get(
        'max_active_items_per_user')
    orders = QUOTAS['active_order_items'] if cap is None else min(cap, QUOTAS[
        'active_order_items'])
    return {'running_jobs': {'limit': QUOTAS['running_jobs'], 'used': running},
            'queued_jobs': {'limit': queued_limit, 'used': queued},
            'active_order_items': {'limit': orders, 'used': 0}}


def html_quotas(page: str) -> dict:
    rows = re.findall(r'<tr data-limit="(\w+)"><td>[^<]*</td><td class="used">(\d+)</td>'
                      r'<td class="allowed">([^<]*)</td>', page)
    return {name: {'limit': int(allowed), 'used': int(used)} for name, used, allowed in rows}


def countdown(site, user: str, hold) -> str:
    reply = call(site, 'POST', user, '/processes/countdown/execution',
                 json={'inputs': {'steps': 0, 'hold_file': str(hold)}},
                 headers={'Prefer': 'respond-async'})
    assert reply.status_code == 201, reply.text
    return reply.json()['jobID']


def wait_status(site, user: str, job_id: str, status: str) -> None:
    deadline = time.monotonic() + 60
    while call(site, 'GET', user, f'/jobs/{job_id}').json()['status'] != status:
        assert time.monotonic() < deadline, f'job {job_id} never {status}'
        time.sleep(0.05)


def test_workspace_shows_the_callers_job_quotas_and_usage(site):
    team = workspace(site, 'alice', ('bob',))
    hold = site.directory / f'hold-{uuid.uuid4().hex}'
    hold.touch()
    try:  # alice: one job running (her running_jobs limit), one waiting its turn
        running = countdown(site, 'alice', hold)
        wait_status(site, 'alice', running, 'running')
        queued = countdown(site, 'alice', hold)
        time.sleep(0.5)
        assert call(site, 'GET', 'alice', f'/jobs/{queued}').json()['status'] == 'accepted'
        mine = call(site, 'GET', 'alice', f'/workspaces/{team}').json()
        assert mine['jobQuotas'] == {'user': 'alice', **expected_quotas('alice', 1, 1)}
        assert 'quotaBytes' in mine['usage']  # beside the storage quota
        assert call(site, 'GET', 'alice', '/quotas').json()['quotas'] == \
            expected_quotas('alice', 1, 1)
        page = call(site, 'GET', 'alice', f'/workspaces/{team}', params={'f': 'html'})
        assert page.status_code == 200 and html_quotas(page.text) == \
            expected_quotas('alice', 1, 1)
        bobs = call(site, 'GET', 'bob', f'/workspaces/{team}').json()['jobQuotas']
        assert bobs == {'user': 'bob', **expected_quotas('bob', 0, 0)}  # the caller's own
        hidden = call(site, 'GET', 'carol', f'/workspaces/{team}')
        assert hidden.status_code == 404 and 'jobQuotas' not in hidden.text
    finally:
        hold.unlink()
    for job_id in (running, queued):
        assert wait_job(site, 'alice', job_id)['status'] == 'successful'
    after = call(site, 'GET', 'alice', f'/workspaces/{team}').json()['jobQuotas']
    assert after == {'user': 'alice', **expected_quotas('alice', 0, 0)}


# -- item 2: openEO batch jobs naming a workspace ------------------------------------------
def openeo(site, method: str, user: str, path: str, **kwargs) -> requests.Response:
    return call(site, method, user, f'/openeo/1.2{path}', **kwargs)


def ndvi_graph(site) -> dict:
    deadline = time.monotonic() + 60  # the demo products are written as the server starts
    while not sorted((site.data_dir / 'demo').glob('DEMO_S2_BANDS_*.tif')):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    day = re.search(r'_(\d{8})_', sorted((site.data_dir / 'demo').glob(
        'DEMO_S2_BANDS_*.tif'))[0].name).group(1)
    first = f'{day[:4]}-{day[4:6]}-{day[6:]}'
    return {'process_graph': {
        'load': {'process_id': 'load_collection', 'arguments': {
            'id': 'products', 'spatial_extent': LYON, 'temporal_extent': [first, None],
            'bands': ['red', 'nir']}},
        'ndvi': {'process_id': 'ndvi', 'arguments': {'data': {'from_node': 'load'}}},
        'save': {'process_id': 'save_result', 'arguments': {
            'data': {'from_node': 'ndvi'}, 'format': 'GTiff'}, 'result': True}}}


def run_openeo(site, user: str, job_id: str) -> dict:
    started = openeo(site, 'POST', user, f'/jobs/{job_id}/results')
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        job = openeo(site, 'GET', user, f'/jobs/{job_id}').json()
        if job['status'] in ('finished', 'error', 'canceled'):
            return job
        time.sleep(0.2)
    pytest.fail(f'openEO job {job_id} did not end')


def test_openeo_batch_job_names_its_workspace_on_create_and_patch(site):
    first = workspace(site, 'alice')
    team = workspace(site, 'carol', ('alice',))
    foreign = workspace(site, 'carol')  # alice is no member
    graph = ndvi_graph(site)
    before = openeo(site, 'GET', 'alice', '/jobs').json()['jobs']
    same_refusal(openeo(site, 'POST', 'alice', '/jobs', json={'process': graph,
                                                               'workspace': foreign}),
                 openeo(site, 'POST', 'alice', '/jobs', json={'process': graph,
                                                               'workspace': 'none-such'}),
                 foreign, 'none-such')
    assert openeo(site, 'GET', 'alice', '/jobs').json()['jobs'] == before  # none made
    created = openeo(site, 'POST', 'alice', '/jobs', json={'process': graph,
                                                            'workspace': first})
    assert created.status_code == 201, created.text
    job_id = created.headers['OpenEO-Identifier']
    path = f'/jobs/{job_id}'
    assert openeo(site, 'GET', 'alice', path).json()['workspace'] == first
    same_refusal(openeo(site, 'PATCH', 'alice', path, json={'workspace': foreign}),
                 openeo(site, 'PATCH', 'alice', path, json={'workspace': 'none-such'}),
                 foreign, 'none-such')
    assert openeo(site, 'PATCH', 'alice', path, json={'workspace': None}).status_code == 204
    assert 'workspace' not in openeo(site, 'GET', 'alice', path).json()
    assert openeo(site, 'PATCH', 'alice', path, json={'workspace': team}).status_code == 204
    assert openeo(site, 'GET', 'alice', path).json()['workspace'] == team
    assert openeo(site, 'PATCH', 'bob', path, json={'workspace': team}).status_code == 404
    job = run_openeo(site, 'alice', job_id)
    assert job['status'] == 'finished', openeo(site, 'GET', 'alice', f'{path}/logs').text
    locked = openeo(site, 'PATCH', 'alice', path, json={'workspace': first})
    assert locked.status_code == 400 and locked.json()['code'] == 'JobLocked'
    check_openeo_results(site, job_id, team, first)


def check_openeo_results(site, job_id: str, team: str, first: str) -> None:
    """The files and their item are in `team` (and its collection), nothing in `first`."""
    item = openeo(site, 'GET', 'alice', f'/jobs/{job_id}/results').json()
    stored = stored_objects(site, team)
    assert item['assets'] and not any(k.startswith(f'jobs/{job_id}/')
                                      for k in stored_objects(site, first))
    for name, asset in item['assets'].items():
        local = requests.get(asset['href'], auth=as_('alice'), timeout=60)
        assert local.status_code == 200 and len(local.content) == asset['file:size'] > 0
        key = f'jobs/{job_id}/openeo/{name}'
        assert stored[key] == local.content
        copy_href = asset['alternate']['workspace']['href']
        assert copy_href == f'{site.url}/workspaces/{team}/files/{key}'
        assert requests.get(copy_href, auth=as_('alice'), timeout=60).content == local.content
        assert requests.get(copy_href, auth=as_('bob'), timeout=60).status_code == 404
    registered = records(site, f'workspace-{team}')
    mine = {rid: row for rid, row in registered.items() if rid.startswith(f'{job_id}/')}
    assert mine and all(row[:2] == (f'workspace:{team}', 'private') for row in mine.values())
    assert all(f'/workspaces/{team}/files/jobs/{job_id}/openeo/' in row[2]
               for row in mine.values())
    elsewhere = query(site.store_url, 'SELECT collection FROM eoorder_record WHERE '
                      'identifier LIKE :p AND collection != :c', p=f'{job_id}/%',
                      c=f'workspace-{team}')
    assert elsewhere == []  # not in the shared results collection


# -- item 2: PATCH of a created OGC API job (Part 4) ---------------------------------------
def created_job(site, user: str, scene_url: str, workspace_id: str) -> str:
    reply = call(site, 'POST', user, '/jobs', headers={'Prefer': 'status="created"'},
                 json={'process': 'landcover', 'workspace': workspace_id, 'inputs': {
                     'source': {'href': scene_url}, 'aoi': '5.5,50.1,6.25,51', 'epsg': 32631}})
    assert reply.status_code == 201, reply.text
    return reply.json()['jobID']


def patch(site, user: str, job_id: str, body: dict) -> requests.Response:
    return call(site, 'PATCH', user, f'/jobs/{job_id}', json=body,
                headers={'Content-Type': 'application/merge-patch+json'})


def definition(site, job_id: str) -> dict:
    return call(site, 'GET', 'alice', f'/jobs/{job_id}/definition').json()


def test_part4_patch_changes_the_workspace_of_a_created_job(site, scene):
    deploy_landcover(site)
    first = workspace(site, 'alice')
    team = workspace(site, 'carol', ('alice',))
    foreign = workspace(site, 'carol')
    job_id = created_job(site, 'alice', scene, first)
    assert definition(site, job_id)['workspace'] == first
    same_refusal(patch(site, 'alice', job_id, {'workspace': foreign}),
                 patch(site, 'alice', job_id, {'workspace': 'none-such'}), foreign,
                 'none-such')
    assert definition(site, job_id)['workspace'] == first
    assert patch(site, 'alice', job_id, {'workspace': None}).status_code == 204
    assert 'workspace' not in definition(site, job_id)
    assert patch(site, 'alice', job_id, {'workspace': team}).status_code == 204
    assert definition(site, job_id)['workspace'] == team
    assert definition(site, job_id)['inputs']['epsg'] == 32631  # the rest kept
    started = call(site, 'POST', 'alice', f'/jobs/{job_id}/results')
    assert started.status_code == 200, started.text
    assert wait_job(site, 'alice', job_id)['status'] == 'successful'
    locked = patch(site, 'alice', job_id, {'workspace': first})
    assert locked.status_code == 423 and definition(site, job_id)['workspace'] == team
    assert stored_objects(site, team)[f'jobs/{job_id}/classification']
    assert not any(k.startswith(f'jobs/{job_id}/') for k in stored_objects(site, first))
    built_in = call(site, 'POST', 'alice', '/jobs', headers={'Prefer': 'status="created"'},
                    json={'process': 'countdown', 'inputs': {'steps': 0}}).json()['jobID']
    refused = patch(site, 'alice', built_in, {'workspace': team})
    assert refused.status_code == 400 and 'deployed' in refused.json()['detail']


# -- item 5: workspace processes in their own namespace ------------------------------------
def stored_processes(site) -> dict[str, str]:
    return dict(query(site.store_url, 'SELECT id, owner FROM eoorder_process'))


def register(site, user: str, workspace_id: str, url: str) -> requests.Response:
    return call(site, 'POST', user, f'/workspaces/{workspace_id}/register',
                json={'type': 'application-package', 'url': url})


def test_registering_a_process_never_reveals_one_the_caller_cannot_see(site, packages):
    url = f'{packages}/echo.ogcapppkg.json'
    one, two = workspace(site, 'alice'), workspace(site, 'alice')
    before = register(site, 'alice', one, url)  # no process `echo` anywhere yet
    assert before.status_code == 201, before.text
    hidden = call(site, 'POST', 'carol', '/processes', params={'visibility': 'private'},
                  data=(REPO / 'tests/data/packages/echo.ogcapppkg.json').read_bytes(),
                  headers={'Content-Type': PKG})
    assert hidden.status_code == 201, hidden.text  # carol's own `echo`, unseen by alice
    assert 'echo' not in {p['id'] for p in call(site, 'GET', 'alice', '/processes', params={
        'limit': 1000}).json()['processes']}
    after = register(site, 'alice', two, url)  # the same answer as without carol's
    assert after.status_code == 201, after.text
    assert after.headers['Location'] == before.headers['Location'].replace(one, two)
    assert after.json() == json.loads(before.text.replace(one, two))
    assert {k: v for k, v in stored_processes(site).items() if 'echo' in k} == {
        'carol/echo': 'carol', f'{one}:echo': f'workspace:{one}',
        f'{two}:echo': f'workspace:{two}'}
    again = register(site, 'alice', one, url)  # a process of the workspace: seen, so 409
    assert again.status_code == 409, again.text
    started = call(site, 'POST', 'alice', f'/processes/{one}:echo/execution',
                   json={'inputs': {'message': 'namespaced'}},
                   headers={'Prefer': 'respond-async'})
    assert started.status_code == 201, started.text
    job = wait_job(site, 'alice', started.json()['jobID'])
    assert job['status'] == 'successful', job
    results = call(site, 'GET', 'alice', f"/jobs/{job['jobID']}/results")
    assert 'namespaced' in results.text
    absent = call(site, 'GET', 'bob', f'/processes/{one}:nothing')
    assert call(site, 'GET', 'bob', f'/processes/{one}:echo').text.replace(
        'echo', 'nothing') == absent.text and absent.status_code == 404
    for pid in (f'{one}:echo', 'echo'):  # either form of the id
        workspace_id = one if pid != 'echo' else two
        assert call(site, 'DELETE', 'alice', f'/workspaces/{workspace_id}/processes/{pid}'
                    ).status_code == 204
    assert {k for k in stored_processes(site) if 'echo' in k} == {'carol/echo'}

"""Stage-out into the owner's workspace (`workspaces.stage_out: personal`, EOEPCA's ADES):
a deployed package's file outputs are uploaded to the owner's personal workspace, on the
directory backend and on a real S3 server (`rclone serve s3`), its STAC output registered
in the workspace's collection (owned by the workspace, private), and the job's results
link there; past the quota the job fails with the reason and nothing is stored or
registered. Store on SQLite and on PostgreSQL/PostGIS. The storage and the store are
read directly."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from tests.support.auth import as_
from tests.support.workspaces import (PACKAGES, PKG, SCENE, deploy_landcover, personal, query,
                                      records, s3, scene, start_site, stop_site,
                                      stored_objects, wait_job)

__all__ = ['PACKAGES', 'PKG', 'SCENE', 'records', 's3', 'scene']
USERS = {'alice': ['user', 'developer'], 'bob': ['user'], 'carol': ['user']}
QUOTA = 100_000


@pytest.fixture(scope='module', params=['directory-sqlite', 's3-sqlite', 's3-postgresql'])
def site(request, tmp_path_factory, s3):
    """(storage kind, server, bucket): workspaces on a directory or on the S3 server, the
    store on SQLite or PostgreSQL/PostGIS."""
    kind, store = request.param.split('-')
    server = start_site(tmp_path_factory.mktemp(f'stage-out-{request.param}'), USERS,
                        {'personal': True, 'stage_out': 'personal',
                         'default_quota_bytes': QUOTA},
                        store=store, s3=s3 if kind == 's3' else None)
    deploy_landcover(server)
    yield kind, server, server.bucket
    stop_site(server)


def stored(site, s3, workspace: str) -> dict[str, bytes]:
    """{key: content} of a workspace, read from the storage itself."""
    return stored_objects(site[1], workspace)


def run_landcover(server, user: str, scene_url: str) -> dict:
    reply = requests.post(f'{server.url}/processes/landcover/execution', auth=as_(user),
                          timeout=60, headers={'Prefer': 'respond-async'},
                          json={'inputs': {'source': {'href': scene_url},
                                           'aoi': '5.5,50.1,6.25,51', 'epsg': 32631}})
    assert reply.status_code == 201, reply.text
    return wait_job(server, user, reply.json()['jobID'])


def test_outputs_land_in_the_personal_workspace(site, s3, scene):
    _, server, _ = site
    workspace = personal(server, 'alice')
    job = run_landcover(server, 'alice', scene)
    assert job['status'] == 'successful', job
    job_id = job['jobID']
    files = stored(site, s3, workspace)
    prefix = f'jobs/{job_id}/'
    csv = files[f'{prefix}classification']
    assert f'source_sha256,{hashlib.sha256(SCENE).hexdigest()}'.encode() in csv
    assert f'{prefix}stac/catalog.json' in files
    document = requests.get(f'{server.url}/jobs/{job_id}/results',
                            params={'response': 'document'}, auth=as_('alice'),
                            timeout=30).json()
    base = f'{server.url}/workspaces/{workspace}/files/{prefix}'
    assert document['classification']['href'] == f'{base}classification'
    assert document['stac']['href'] == f'{base}stac/catalog.json'
    assert requests.get(document['classification']['href'], auth=as_('alice'),
                        timeout=30).content == csv
    assert requests.get(document['classification']['href'], auth=as_('bob'),
                        timeout=30).status_code == 404
    registered = records(server, f'workspace-{workspace}')
    assert len(registered) == 1
    (identifier, (owner, visibility, text)), = registered.items()
    assert identifier.startswith(f'{job_id}/')
    assert (owner, visibility) == (f'workspace:{workspace}', 'private')
    hrefs = [a['href'] for a in json.loads(text)['assets'].values()]
    assert hrefs and all(h.startswith(f'{base}stac/') for h in hrefs)
    assert any(requests.get(h, auth=as_('alice'), timeout=30).content == csv for h in hrefs)
    usage = requests.get(f'{server.url}/workspaces/{workspace}', auth=as_('alice'),
                         timeout=30).json()['usage']
    (document_bytes,), = query(
        server.store_url, 'SELECT SUM(LENGTH(CAST(document AS TEXT))) FROM eoorder_record '
        'WHERE collection = :c', c=f'workspace-{workspace}')
    assert usage['usedBytes'] == sum(len(v) for v in files.values()) + document_bytes


def test_quota_refusal_fails_the_job_and_stores_nothing(site, s3, scene):
    _, server, _ = site
    workspace = personal(server, 'carol')
    filler = requests.put(f'{server.url}/workspaces/{workspace}/files/filler.bin',
                          data=b'f' * (QUOTA - 10), auth=as_('carol'), timeout=30,
                          headers={'Content-Type': 'application/octet-stream'})
    assert filler.status_code == 201, filler.text
    job = run_landcover(server, 'carol', scene)
    assert job['status'] == 'failed', job
    assert 'quota' in job['message'] and str(QUOTA) in job['message'], job['message']
    assert set(stored(site, s3, workspace)) == {'filler.bin'}
    assert records(server, f'workspace-{workspace}') == {}


def test_s3_stage_in_of_own_workspaces_only(site, s3, scene):
    """An s3:// href of the caller's own workspace is staged in with the server's
    credentials; another user's workspace answers like an object that does not exist."""
    kind, server, bucket = site
    workspace = personal(server, 'alice')
    if kind != 's3':  # s3:// hrefs name objects of the S3 backend only
        job = run_landcover(server, 'alice', f's3://{bucket}/workspaces/{workspace}/x.tif')
        assert job['status'] == 'failed' and 'unsupported reference' in job['message']
        return
    assert requests.put(f'{server.url}/workspaces/{workspace}/files/in/scene.tif',
                        data=SCENE, auth=as_('alice'), timeout=30,
                        headers={'Content-Type': 'application/octet-stream'}
                        ).status_code == 201
    href = f's3://{bucket}/workspaces/{workspace}/in/scene.tif'
    job = run_landcover(server, 'alice', href)
    assert job['status'] == 'successful', job
    csv = stored(site, s3, workspace)[f'jobs/{job["jobID"]}/classification']
    assert f'source_sha256,{hashlib.sha256(SCENE).hexdigest()}'.encode() in csv
    others = run_landcover(server, 'bob', href)
    absent = run_landcover(server, 'bob', href.replace(workspace, 'no-such-workspace'))
    assert others['status'] == absent['status'] == 'failed'
    assert others['message'] == absent['message'].replace('no-such-workspace', workspace)
    assert 'does not exist' in others['message']

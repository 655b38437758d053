"""Stage-out into the owner's workspace (`workspaces.stage_out: personal`, EOEPCA's ADES):
a deployed package's file outputs are uploaded to the owner's personal workspace, on the
directory backend and on a real S3 server (`rclone serve s3`), its STAC output registered
in the workspace's collection (owned by the workspace, private), and the job's results
link there; past the quota the job fails with the reason and nothing is stored or
registered. The storage and the store are read directly."""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import threading
import time
import uuid
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
import requests

from tests.support.auth import as_, write_users
from tests.support.egress import allow_loopback
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, s3_block, start_s3

PACKAGES = Path(__file__).parent / 'data' / 'packages'
PKG = 'application/ogcapppkg+json'
USERS = {'alice': ['user', 'developer'], 'bob': ['user'], 'carol': ['user']}
QUOTA = 100_000
SCENE = bytes(range(256)) * 40


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
def s3(tmp_path_factory):
    server = start_s3(tmp_path_factory.mktemp('s3') / 'root')
    yield server
    server.stop()


@pytest.fixture(scope='module', params=['directory', 's3'])
def site(request, tmp_path_factory, s3):
    from .conftest import Server
    directory = tmp_path_factory.mktemp(f'stage-out-{request.param}')
    users = write_users(directory / 'users.yml', USERS)
    bucket = f'so-{uuid.uuid4().hex[:10]}'
    storage = s3_block(s3, bucket) if request.param == 's3' else {'backend': 'directory'}
    block = {'auth': {'authenticators': [{'name': 'basic', 'users_file': str(users)}]},
             'workspaces': {'storage': storage, 'personal': True, 'stage_out': 'personal',
                            'default_quota_bytes': QUOTA}}
    server = Server(directory, allow_loopback(block)).start()
    reply = requests.post(f'{server.url}/processes', auth=as_('alice'), timeout=30,
                          data=(PACKAGES / 'landcover.ogcapppkg.json').read_bytes(),
                          headers={'Content-Type': PKG})
    assert reply.status_code == 201, reply.text
    yield request.param, server, bucket
    server.stop()


def personal(server, user: str) -> str:
    listed = requests.get(f'{server.url}/workspaces', auth=as_(user), timeout=30).json()
    return next(w['id'] for w in listed['workspaces'] if w['personal'])


def stored(site, s3, workspace: str) -> dict[str, bytes]:
    """{key: content} of a workspace, read from the storage itself."""
    kind, server, bucket = site
    if kind == 'directory':
        root = server.directory / 'data' / 'workspaces' / workspace
        return {p.relative_to(root).as_posix(): p.read_bytes()
                for p in root.rglob('*') if p.is_file()}
    client = boto3.client('s3', endpoint_url=s3.endpoint, aws_access_key_id=ACCESS_KEY,
                          aws_secret_access_key=SECRET_KEY, region_name='us-east-1')
    prefix = f'workspaces/{workspace}/'
    listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get('Contents', ())
    return {o['Key'][len(prefix):]: client.get_object(Bucket=bucket, Key=o['Key'])[
        'Body'].read() for o in listing}


def records(server, collection: str) -> dict[str, tuple]:
    with sqlite3.connect(server.directory / 'data' / 'eoorder.db') as db:
        return {r[0]: (r[1], r[2], r[3]) for r in db.execute(
            'SELECT identifier, owner, visibility, document FROM eoorder_record '
            'WHERE collection = ?', (collection,))}


def run_landcover(server, user: str, scene_url: str) -> dict:
    reply = requests.post(f'{server.url}/processes/landcover/execution', auth=as_(user),
                          timeout=60, headers={'Prefer': 'respond-async'},
                          json={'inputs': {'source': {'href': scene_url},
                                           'aoi': '5.5,50.1,6.25,51', 'epsg': 32631}})
    assert reply.status_code == 201, reply.text
    job_id = reply.json()['jobID']
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = requests.get(f'{server.url}/jobs/{job_id}', auth=as_(user), timeout=30).json()
        if job['status'] in ('successful', 'failed', 'dismissed'):
            return job
        time.sleep(0.2)
    raise AssertionError(f'job {job_id} did not finish: {job}')


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
    with sqlite3.connect(server.directory / 'data' / 'eoorder.db') as db:
        document_bytes = db.execute(
            'SELECT SUM(LENGTH(CAST(document AS TEXT))) FROM eoorder_record WHERE '
            'collection = ?', (f'workspace-{workspace}',)).fetchone()[0]
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

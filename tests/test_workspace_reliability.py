"""Reliability of workspace writes (issue #18 item 6), with real processes killed and a
real S3 server (`rclone serve s3`) stopped: a stage-out held mid-upload (by a relay in
front of the S3 server, `tests/support/s3_gate.py`) survives an S3 restart (retried),
fails with the reason when the S3 server stays down (its leftovers swept later), leaves
nothing when the server is SIGKILLed (recovery fails the job and removes its objects) and
fails cleanly when the workspace is force-deleted meanwhile; a user upload cut by a crash
or by the workspace's deletion leaves no partial object. Store on SQLite and on
PostgreSQL/PostGIS. Oracles: the S3 server's directory and the workspace directory on
disk, and the store's rows read with SQLAlchemy (not through the API)."""

from __future__ import annotations

import base64
import os
import socket
import time
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.support.auth import as_, write_users
from tests.support.cluster import Database, wait_for
from tests.support.egress import allow_loopback
from tests.support.s3 import s3_block, start_s3
from tests.support.s3_gate import S3Gate
from tests.support.workspaces import multipart_uploads, query, scene

PACKAGES = Path(__file__).parent / 'data' / 'packages'
USERS = {'alice': ['user', 'developer'], 'carol': ['user'], 'dave': ['user'],
         'erin': ['user'], 'frank': ['user'], 'gina': ['user'], 'hugo': ['user'],
         'ivan': ['user'], 'root': ['admin']}
QUOTA = 50_000_000
STAC_PUT = (b'PUT /', b'/stac/')  # the second output's first upload
__all__ = ['scene']


class Site:
    """A server whose workspaces live on an S3 server behind a gate, and its store."""

    def __init__(self, directory: Path, store: str, kind: str = 's3'):
        from .conftest import Server
        self.root = directory / 's3root'
        self.s3 = start_s3(self.root)
        self.gate = S3Gate(self.s3.endpoint)
        self.bucket = f'rel-{uuid.uuid4().hex[:10]}'
        self.database = Database('eoorder_ws').create(postgis=True) \
            if store == 'postgresql' else None
        self.kind = kind
        storage = {'backend': 'directory'} if kind == 'directory' else \
            s3_block(self.gate, self.bucket)
        if kind == 's3':  # an admin's recount aborts every upload left open
            storage['s3']['abandoned_upload_seconds'] = 0
        users = write_users(directory / 'users.yml', USERS)
        block = {'auth': {'authenticators': [{'name': 'basic', 'users_file': str(users)}]},
                 'workspaces': {'storage': storage, 'personal': True, 'stage_out': 'personal',
                                'default_quota_bytes': QUOTA}}
        if self.database:
            block['store'] = {'url': self.database.url}
        self.server = Server(directory, allow_loopback(block)).start()
        self.store_url = self.database.url if self.database else \
            f'sqlite:///{self.server.data_dir}/eoorder.db'

    def restart_s3(self) -> None:
        self.s3.stop()
        self.s3 = start_s3(self.root)
        self.gate.upstream = self.s3.endpoint

    def stop(self) -> None:
        self.gate.close()
        self.server.stop()
        self.s3.stop()
        if self.database:
            self.database.drop()

    def files(self, workspace: str) -> dict[str, int]:
        """{key: size} of what the storage holds for the workspace, read on disk."""
        base = self.root / self.bucket / 'workspaces' / workspace if self.kind == 's3' \
            else self.server.data_dir / 'workspaces' / workspace
        return {p.relative_to(base).as_posix(): p.stat().st_size
                for p in base.rglob('*') if p.is_file()} if base.exists() else {}

    def records(self, workspace: str) -> list[str]:
        engine = create_engine(self.store_url)
        try:
            with engine.connect() as db:
                return [r[0] for r in db.execute(text(
                    'SELECT identifier FROM eoorder_record WHERE collection = :c'),
                    {'c': f'workspace-{workspace}'})]
        finally:
            engine.dispose()


def landcover_site(directory, store: str) -> 'Site':
    """A site on `store` where alice deployed the landcover package."""
    site = Site(directory, store)
    reply = requests.post(f'{site.server.url}/processes', auth=as_('alice'), timeout=30,
                          data=(PACKAGES / 'landcover.ogcapppkg.json').read_bytes(),
                          headers={'Content-Type': 'application/ogcapppkg+json'})
    assert reply.status_code == 201, reply.text
    return site


@pytest.fixture(scope='module', params=['sqlite', 'postgresql'])
def site(request, tmp_path_factory):
    site = landcover_site(tmp_path_factory.mktemp(f'reliability-{request.param}'),
                          request.param)
    yield site
    site.stop()


def personal(server, user: str) -> str:
    listed = requests.get(f'{server.url}/workspaces', auth=as_(user), timeout=30).json()
    return next(w['id'] for w in listed['workspaces'] if w['personal'])


def submit(server, user: str, scene_url: str) -> str:
    reply = requests.post(f'{server.url}/processes/landcover/execution', auth=as_(user),
                          timeout=60, headers={'Prefer': 'respond-async'},
                          json={'inputs': {'source': {'href': scene_url},
                                           'aoi': '5.5,50.1,6.25,51', 'epsg': 32631}})
    assert reply.status_code == 201, reply.text
    return reply.json()['jobID']


def ended(server, user: str, job_id: str, timeout: float = 120) -> dict:
    def done():
        try:
            job = requests.get(f'{server.url}/jobs/{job_id}', auth=as_(user), timeout=10).json()
        except requests.RequestException:
            return None
        return job if job['status'] in ('successful', 'failed', 'dismissed') else None
    return wait_for(done, timeout, 0.2, f'end of job {job_id}')


def held(site: Site) -> None:
    assert site.gate.held.wait(120), 'the stage-out never reached the S3 server: ' \
        + site.server.log()[-3000:] + f'\njobs: {query(site.store_url, JOBS)}'


JOBS = 'SELECT id, status, attempts, message FROM eoorder_job ORDER BY created DESC LIMIT 3'


def job_keys(files: dict, job_id: str) -> set[str]:
    return {k for k in files if k.startswith(f'jobs/{job_id}/')}


def test_upload_retried_across_an_s3_restart(site, scene):
    workspace = personal(site.server, 'erin')
    site.gate.hold(*STAC_PUT)
    job_id = submit(site.server, 'erin', scene)
    held(site)
    site.restart_s3()  # the held upload's connection dies with the old S3 server
    site.gate.release()
    job = ended(site.server, 'erin', job_id)
    assert job['status'] == 'successful', job
    files = site.files(workspace)
    assert {f'jobs/{job_id}/classification', f'jobs/{job_id}/stac/catalog.json'} \
        <= job_keys(files, job_id)
    assert [r.split('/')[0] for r in site.records(workspace)] == [job_id]


def test_s3_down_fails_the_job_and_its_leftovers_are_swept(site, scene):
    workspace = personal(site.server, 'dave')
    site.gate.hold(*STAC_PUT)
    job_id = submit(site.server, 'dave', scene)
    held(site)
    site.s3.stop()
    site.gate.release()
    job = ended(site.server, 'dave', job_id)
    assert job['status'] == 'failed', job
    assert 'object store' in job['message'] and 'attempts' in job['message'], job['message']
    assert site.records(workspace) == []  # nothing registered: an object is missing
    left = job_keys(site.files(workspace), job_id)
    assert left == {f'jobs/{job_id}/classification'}, left  # stored before the stop
    site.restart_s3()
    after = submit(site.server, 'dave', scene)
    assert ended(site.server, 'dave', after)['status'] == 'successful'
    files = site.files(workspace)
    assert job_keys(files, job_id) == set()  # swept by the next stage-out
    assert job_keys(files, after)
    assert {r.split('/')[0] for r in site.records(workspace)} == {after}


def test_server_killed_mid_upload_leaves_nothing(site, scene):
    workspace = personal(site.server, 'carol')
    site.gate.hold(*STAC_PUT)
    job_id = submit(site.server, 'carol', scene)
    held(site)
    assert job_keys(site.files(workspace), job_id) == {f'jobs/{job_id}/classification'}
    site.server.kill()
    site.gate.release(cut=True)  # the held request never reaches the S3 server
    site.server.start()
    job = ended(site.server, 'carol', job_id)
    assert job['status'] == 'failed' and 'interrupted' in job['message'], job
    assert job_keys(site.files(workspace), job_id) == set()
    assert site.records(workspace) == []


def test_workspace_deleted_while_the_job_writes(site, scene):
    workspace = personal(site.server, 'frank')
    site.gate.hold(*STAC_PUT)
    job_id = submit(site.server, 'frank', scene)
    held(site)
    deleted = requests.delete(f'{site.server.url}/workspaces/{workspace}',
                              params={'force': 'true'}, auth=as_('frank'), timeout=60)
    assert deleted.status_code == 204, deleted.text
    site.gate.release()  # the upload goes on into the deleted workspace
    job = ended(site.server, 'frank', job_id)
    assert job['status'] == 'failed', job
    assert f'workspace {workspace!r} was deleted while the job wrote' in job['message']
    assert site.files(workspace) == {}
    assert site.records(workspace) == []
    assert requests.get(f'{site.server.url}/workspaces/{workspace}', auth=as_('frank'),
                        timeout=30).status_code == 404


# -- user uploads ------------------------------------------------------------------------

@pytest.fixture(scope='module', params=['directory', 's3'])
def uploads(request, tmp_path_factory):
    site = Site(tmp_path_factory.mktemp(f'uploads-{request.param}'), 'sqlite', request.param)
    yield site
    site.stop()


def start_upload(server, user: str, workspace: str, key: str, size: int) -> socket.socket:
    """A PUT of `size` bytes whose body is sent half: the rest is up to the test."""
    token = base64.b64encode(':'.join(as_(user)).encode()).decode()
    sock = socket.create_connection(('127.0.0.1', server.port), timeout=60)
    sock.sendall(f'PUT /workspaces/{workspace}/files/{key} HTTP/1.1\r\nHost: '
                 f'127.0.0.1:{server.port}\r\nAuthorization: Basic {token}\r\n'
                 'Content-Type: application/octet-stream\r\nContent-Length: '
                 f'{size}\r\nConnection: close\r\n\r\n'.encode() + b'u' * (size // 2))
    return sock


def partials(site: Site) -> list[Path]:
    return list((site.server.data_dir / 'workspaces' / '.uploads').glob('*'))


def test_user_upload_cut_by_a_crash(uploads):
    workspace = personal(uploads.server, 'gina')
    size = 4_000_000
    sock = start_upload(uploads.server, 'gina', workspace, 'big.bin', size)
    if uploads.kind == 'directory':
        wait_for(lambda: any(p.stat().st_size > 0 for p in partials(uploads)), 30, 0.05,
                 'a partial upload')
    else:
        time.sleep(1)
    uploads.server.kill()
    sock.close()
    for partial in partials(uploads):  # past the 10 s in which a new file may be unlocked
        old = time.time() - 60
        os.utime(partial, (old, old))
    uploads.server.start()
    assert partials(uploads) == []  # the dead writer's partial file is gone
    assert 'big.bin' not in uploads.files(workspace)
    listed = requests.get(f'{uploads.server.url}/workspaces/{workspace}/files',
                          auth=as_('gina'), timeout=30)
    assert listed.status_code == 200 and 'big.bin' not in listed.text


def test_user_upload_into_a_workspace_deleted_meanwhile(uploads):
    created = requests.post(f'{uploads.server.url}/workspaces', auth=as_('hugo'), timeout=30,
                            json={'id': f'gone-{uuid.uuid4().hex[:6]}'})
    assert created.status_code == 201, created.text
    workspace = created.json()['id']
    size = 2_000_000
    sock = start_upload(uploads.server, 'hugo', workspace, 'late.bin', size)
    if uploads.kind == 'directory':
        wait_for(lambda: any(p.stat().st_size > 0 for p in partials(uploads)), 30, 0.05,
                 'a partial upload')
    else:
        time.sleep(1)
    deleted = requests.delete(f'{uploads.server.url}/workspaces/{workspace}',
                              params={'force': 'true'}, auth=as_('hugo'), timeout=60)
    assert deleted.status_code == 204, deleted.text
    sock.sendall(b'u' * (size - size // 2))
    answer = b''
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    head, _, body = answer.partition(b'\r\n\r\n')
    assert head.startswith(b'HTTP/1.1 404'), answer[:500]
    assert b'problem+json' in head and b'deleted during the upload' in body, answer[:800]
    assert uploads.files(workspace) == {}
    assert not (uploads.server.data_dir / 'workspaces' / workspace).exists()


def hidden_uploads(site: Site) -> list:
    """What unfinished uploads keep out of every listing: open multipart uploads in the
    bucket (read from the S3 server), partial files on disk."""
    if site.kind == 's3':
        return multipart_uploads(site.s3, site.bucket)
    return [p for p in partials(site) if p.stat().st_size > 0]


def test_upload_cut_by_a_crash_is_aborted_by_a_recount(uploads):
    """A writer killed mid multipart upload cannot abort it: an admin's recount does, so
    no hidden parts use the bucket."""
    workspace = personal(uploads.server, 'ivan')
    sock = start_upload(uploads.server, 'ivan', workspace, 'huge.bin', 24_000_000)
    wait_for(lambda: hidden_uploads(uploads) or None, 60, 0.1, 'an unfinished upload')
    uploads.server.kill()
    sock.close()
    uploads.server.start()
    for partial in partials(uploads):  # past the 10 s in which a new file may be unlocked
        old = time.time() - 60
        os.utime(partial, (old, old))
    if uploads.kind == 's3':  # on disk, a restart may have removed it already
        assert hidden_uploads(uploads), 'the unfinished upload is still held'
    recount = requests.get(f'{uploads.server.url}/workspaces/{workspace}', auth=as_('root'),
                           params={'refresh': 'true'}, timeout=60)
    assert recount.status_code == 200, recount.text
    assert hidden_uploads(uploads) == []
    assert recount.json()['usage']['usedBytes'] == sum(uploads.files(workspace).values())

"""Shared pieces of the workspace tests: a static-file server on loopback (a scene to
process, the application packages to register), a real S3 server (`rclone serve s3`), a
server with workspaces on either storage backend and either store (SQLite or
PostgreSQL/PostGIS), and readers of what the storage and the store really hold (the
tests' oracles, never the API).

Import the fixtures a module needs by name (`from tests.support.workspaces import s3`)."""

from __future__ import annotations

import functools
import threading
import time
import uuid
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import pytest
import requests
from botocore.exceptions import ClientError
from sqlalchemy import create_engine, text

from tests.support.auth import as_, write_users
from tests.support.cluster import Database
from tests.support.egress import allow_loopback
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, s3_block, start_s3

PACKAGES = Path(__file__).parent.parent / 'data' / 'packages'
PKG = 'application/ogcapppkg+json'
SCENE = bytes(range(256)) * 40
STORES = ['sqlite', 'postgresql']


class _QuietHandler(SimpleHTTPRequestHandler):
    requested: list | None = None  # (the paths asked for, with their queries, if given)

    def log_message(self, *args) -> None:
        """No access log on the test's output; the path noted in `requested`."""
        if self.requested is not None:
            self.requested.append(self.path)


class StaticFiles:
    """The files under `root` over HTTP on 127.0.0.1 (an ephemeral port); `url` is the base;
    `requested`: the paths (and queries) asked for, in order."""

    def __init__(self, root: Path):
        self.requested: list[str] = []
        handler = functools.partial(
            type('_Noting', (_QuietHandler,), {'requested': self.requested}),
            directory=str(root))
        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f'http://127.0.0.1:{self.httpd.server_port}'

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope='module')
def scene(tmp_path_factory):
    """The URL of a scene (`SCENE`) served over HTTP on loopback."""
    root = tmp_path_factory.mktemp('scene')
    (root / 'scene.tif').write_bytes(SCENE)
    files = StaticFiles(root)
    yield f'{files.url}/scene.tif'
    files.stop()


@pytest.fixture(scope='module')
def packages():
    """The base URL of tests/data/packages served over HTTP on loopback."""
    files = StaticFiles(PACKAGES)
    yield files.url
    files.stop()


@pytest.fixture(scope='module')
def s3(tmp_path_factory):
    """A real S3 server (`rclone serve s3`) on loopback for the module."""
    server = start_s3(tmp_path_factory.mktemp('s3') / 'root')
    yield server
    server.stop()


def start_site(directory: Path, users: dict, workspaces: dict, *, store: str = 'sqlite',
               s3=None, **block):
    """A server with basic auth for `users` and the `workspaces` block; its storage on
    `s3` (a bucket of its own, `server.bucket`) when given, else the directory backend;
    its store on SQLite or a fresh PostgreSQL/PostGIS database (`server.store_url`).
    Stop it with `stop_site`."""
    from tests.conftest import Server
    bucket = f'ws-{uuid.uuid4().hex[:10]}'
    storage = s3_block(s3, bucket) if s3 is not None else {'backend': 'directory'}
    users_file = write_users(directory / 'users.yml', users)
    config = {'auth': {'authenticators': [{'name': 'basic', 'users_file': str(users_file)}]},
              'workspaces': {'storage': storage, **workspaces}, **block}
    database = Database('eoorder_ws').create(postgis=True) if store == 'postgresql' else None
    if database:
        config['store'] = {'url': database.url}
    server = Server(directory, allow_loopback(config)).start()
    server.bucket, server.database, server.s3 = bucket, database, s3
    server.store_url = database.url if database else f'sqlite:///{server.data_dir}/eoorder.db'
    return server


def stop_site(server) -> None:
    server.stop()
    if server.database is not None:
        server.database.drop()


def s3_client(s3):
    return boto3.client('s3', endpoint_url=s3.endpoint, aws_access_key_id=ACCESS_KEY,
                        aws_secret_access_key=SECRET_KEY, region_name='us-east-1')


def stored_objects(server, workspace: str, bucket: str | None = None) -> dict[str, bytes]:
    """{key: content} the storage itself holds for a workspace (S3 when `server.s3`)."""
    if getattr(server, 's3', None) is None:
        root = server.data_dir / 'workspaces' / workspace
        return {p.relative_to(root).as_posix(): p.read_bytes()
                for p in root.rglob('*') if p.is_file()} if root.exists() else {}
    client = s3_client(server.s3)
    bucket = bucket or server.bucket
    prefix = f'workspaces/{workspace}/'
    listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get('Contents', ())
    return {o['Key'][len(prefix):]: client.get_object(Bucket=bucket, Key=o['Key'])[
        'Body'].read() for o in listing}


def multipart_uploads(s3, bucket: str) -> list[str]:
    """Keys of the multipart uploads the S3 server still holds open in `bucket`."""
    try:
        answer = s3_client(s3).list_multipart_uploads(Bucket=bucket)
    except ClientError as err:  # rclone's answer for a bucket that never had one
        if err.response['Error']['Code'] == 'NoSuchUpload':
            return []
        raise
    return [u['Key'] for u in answer.get('Uploads', ())]


def query(store_url: str, sql: str, **params) -> list[tuple]:
    """Rows of `sql` read from the store itself (SQLite or PostgreSQL)."""
    engine = create_engine(store_url)
    try:
        with engine.connect() as db:
            return [tuple(row) for row in db.execute(text(sql), params)]
    finally:
        engine.dispose()


def records(server, collection: str) -> dict[str, tuple]:
    """{identifier: (owner, visibility, document text)} of a collection, from the store."""
    return {r[0]: (r[1], r[2], r[3]) for r in query(
        server.store_url, 'SELECT identifier, owner, visibility, CAST(document AS TEXT) '
        'FROM eoorder_record WHERE collection = :c', c=collection)}


def personal(server, user: str) -> str:
    """The id of `user`'s personal workspace (created on first use)."""
    listed = requests.get(f'{server.url}/workspaces', auth=as_(user), timeout=30).json()
    return next(w['id'] for w in listed['workspaces'] if w['personal'])


def deploy_landcover(server, user: str = 'alice') -> None:
    reply = requests.post(f'{server.url}/processes', auth=as_(user), timeout=30,
                          data=(PACKAGES / 'landcover.ogcapppkg.json').read_bytes(),
                          headers={'Content-Type': PKG})
    assert reply.status_code == 201, reply.text


def wait_job(server, user: str, job_id: str, timeout: float = 120) -> dict:
    """The job's status document once it ended."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = requests.get(f'{server.url}/jobs/{job_id}', auth=as_(user), timeout=30).json()
        if job['status'] in ('successful', 'failed', 'dismissed'):
            return job
        time.sleep(0.2)
    raise AssertionError(f'job {job_id} did not finish: {job}')


def put_file(server_url: str, user: str, workspace: str, key: str, body: bytes) -> None:
    """Upload a file into a workspace over HTTP as `user` (201 expected)."""
    reply = requests.put(f'{server_url}/workspaces/{workspace}/files/{key}', data=body,
                         auth=as_(user), timeout=60,
                         headers={'Content-Type': 'application/octet-stream'})
    assert reply.status_code == 201, reply.text

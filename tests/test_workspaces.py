"""Workspace API through a running server, on the embedded directory backend and on a real
S3 server (`rclone serve s3` on loopback): create/list/get/delete, members, files, the
storage quota, the auth matrix (member, non-member → 404, admin), S3 credentials never
in an answer. What the storage holds is checked on the storage itself (boto3 / the
directory), not through the API."""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
import requests

from tests.support.auth import as_, write_users
from tests.support.cluster import Database
from tests.support.egress import allow_loopback
from tests.support.s3 import ACCESS_KEY, SECRET_KEY, s3_block
from tests.support.static_stac import StaticCatalog
from tests.support.workspaces import query, s3

USERS = {'alice': ['user'], 'bob': ['user'], 'carol': ['user'], 'root': ['admin'],
         'guest': ['viewer']}
QUOTA = 1000
OCTETS = {'Content-Type': 'application/octet-stream'}
__all__ = ['s3']


class Client:
    """HTTP calls as a named user; every answer is kept for the credentials check."""

    answers: list[str] = []

    def __init__(self, server):
        self.server = server

    def __call__(self, method: str, user: str, path: str, **kwargs) -> requests.Response:
        reply = requests.request(method, f'{self.server.url}{path}', auth=as_(user),
                                 timeout=60, **kwargs)
        Client.answers.append(json.dumps(dict(reply.headers)) + reply.text)
        return reply


@pytest.fixture(scope='module', params=['directory', 's3', 's3-postgresql'])
def backend(request, tmp_path_factory, s3):
    """(storage kind, server, client); `s3-postgresql`: the store on PostgreSQL/PostGIS."""
    from .conftest import Server
    kind = request.param.split('-')[0]
    directory = tmp_path_factory.mktemp(f'ws-{request.param}')
    users = write_users(directory / 'users.yml', USERS)
    bucket = f'ws-{uuid.uuid4().hex[:10]}'
    storage = s3_block(s3, bucket) if kind == 's3' else {'backend': 'directory'}
    block = {'auth': {'authenticators': [{'name': 'basic', 'users_file': str(users)}]},
             'workspaces': {'storage': storage, 'default_quota_bytes': QUOTA,
                            'personal': True}}
    database = Database('eoorder_ws').create(postgis=True) \
        if request.param.endswith('postgresql') else None
    if database:
        block['store'] = {'url': database.url}
    server = Server(directory, allow_loopback(block)).start()
    server.bucket = bucket
    server.store_url = database.url if database else \
        f'sqlite:///{server.data_dir}/eoorder.db'
    yield kind, server, Client(server)
    server.stop()
    if database:
        database.drop()


def stored_keys(backend, s3, workspace: str) -> dict[str, int]:
    """What the storage itself holds for a workspace: {key: size}."""
    kind, server, _ = backend
    if kind == 'directory':
        root = server.directory / 'data' / 'workspaces' / workspace
        return {p.relative_to(root).as_posix(): p.stat().st_size
                for p in root.rglob('*') if p.is_file()} if root.exists() else {}
    client = boto3.client('s3', endpoint_url=s3.endpoint, aws_access_key_id=ACCESS_KEY,
                          aws_secret_access_key=SECRET_KEY, region_name='us-east-1')
    prefix = f'workspaces/{workspace}/'
    listing = client.list_objects_v2(Bucket=getattr(server, 'bucket', 'workspaces'),
                                     Prefix=prefix)
    return {o['Key'][len(prefix):]: o['Size'] for o in listing.get('Contents', ())}


def create(call, user: str, workspace: str, **extra) -> dict:
    reply = call('POST', user, '/workspaces', json={'id': workspace, **extra})
    assert reply.status_code == 201, reply.text
    return reply.json()


def test_create_get_list(backend):
    kind, server, call = backend
    created = create(call, 'alice', 'alpha', title='Alpha project')
    assert created['owner'] == 'alice' and created['members'] == []
    assert created['usage'] == {'usedBytes': 0, 'quotaBytes': QUOTA,
                                'availableBytes': QUOTA, 'recordBytes': 0}
    assert created['storage']['type'] == kind
    got = call('GET', 'alice', '/workspaces/alpha').json()
    assert got['title'] == 'Alpha project'
    listed = call('GET', 'alice', '/workspaces').json()['workspaces']
    mine = {w['id']: w for w in listed}
    assert 'alpha' in mine
    personal = [w for w in listed if w['personal']]
    assert len(personal) == 1 and personal[0]['owner'] == 'alice'
    assert 'alpha' not in {w['id'] for w in call('GET', 'bob', '/workspaces').json()[
        'workspaces']}
    page = call('GET', 'alice', '/workspaces/alpha', params={'f': 'html'})
    assert page.status_code == 200 and 'Alpha project' in page.text
    assert call('POST', 'alice', '/workspaces', json={'id': 'alpha'}).status_code == 409


def test_files_and_quota(backend, s3):
    _, _, call = backend
    create(call, 'alice', 'quota')
    first = call('PUT', 'alice', '/workspaces/quota/files/dir/a.bin', data=b'x' * 600,
                 headers=OCTETS)
    assert first.status_code == 201, first.text
    refused = call('PUT', 'alice', '/workspaces/quota/files/b.bin', data=b'y' * 401,
                   headers=OCTETS)
    assert refused.status_code == 413, refused.text
    problem = refused.json()
    assert refused.headers['Content-Type'].startswith('application/problem+json')
    assert problem['limit'] == QUOTA and problem['usage'] == 600
    assert str(QUOTA) in problem['detail'] and '600' in problem['detail']
    assert call('PUT', 'alice', '/workspaces/quota/files/b.bin', data=b'y' * 400,
                headers=OCTETS).status_code == 201
    assert stored_keys(backend, s3, 'quota') == {'dir/a.bin': 600, 'b.bin': 400}
    usage = call('GET', 'alice', '/workspaces/quota').json()['usage']
    assert usage == {'usedBytes': 1000, 'quotaBytes': QUOTA, 'availableBytes': 0,
                     'recordBytes': 0}
    # replacing a file counts its new size only
    assert call('PUT', 'alice', '/workspaces/quota/files/b.bin', data=b'z' * 300,
                headers=OCTETS).status_code == 201
    assert call('GET', 'alice', '/workspaces/quota/files/b.bin').content == b'z' * 300
    keys = {f['key']: f['size'] for f in call('GET', 'alice',
                                               '/workspaces/quota/files').json()['files']}
    assert keys == {'dir/a.bin': 600, 'b.bin': 300}
    assert call('DELETE', 'alice', '/workspaces/quota/files/b.bin').status_code == 204
    assert call('DELETE', 'alice', '/workspaces/quota/files/b.bin').status_code == 404
    assert call('GET', 'alice', '/workspaces/quota/files/b.bin').status_code == 404
    assert stored_keys(backend, s3, 'quota') == {'dir/a.bin': 600}
    assert call('GET', 'alice', '/workspaces/quota').json()['usage']['usedBytes'] == 600


def test_delete_refused_while_not_empty(backend, s3):
    _, _, call = backend
    create(call, 'alice', 'full')
    call('PUT', 'alice', '/workspaces/full/files/keep.txt', data=b'data', headers=OCTETS)
    refused = call('DELETE', 'alice', '/workspaces/full')
    assert refused.status_code == 409 and refused.json()['files'] == 1
    assert stored_keys(backend, s3, 'full') == {'keep.txt': 4}
    assert call('GET', 'alice', '/workspaces/full').status_code == 200
    assert call('DELETE', 'alice', '/workspaces/full', params={'force': 'yes'}
                ).status_code == 400
    assert call('DELETE', 'alice', '/workspaces/full', params={'force': 'true'}
                ).status_code == 204
    assert stored_keys(backend, s3, 'full') == {}
    assert call('GET', 'alice', '/workspaces/full').status_code == 404
    create(call, 'alice', 'empty')
    assert call('DELETE', 'alice', '/workspaces/empty').status_code == 204


ROUTES = [('GET', ''), ('DELETE', ''), ('POST', '/members'), ('DELETE', '/members/alice'),
          ('GET', '/files'), ('PUT', '/files/x.txt'), ('GET', '/files/f.txt'),
          ('DELETE', '/files/f.txt')]


def _route(call, user, method, path, workspace):
    kwargs = {'json': {'user': user}} if path == '/members' else {}
    if method == 'PUT':
        kwargs = {'data': b'1', 'headers': OCTETS}
    return call(method, user, f'/workspaces/{workspace}{path}', **kwargs)


def test_auth_matrix(backend):
    _, _, call = backend
    create(call, 'alice', 'shared')
    call('PUT', 'alice', '/workspaces/shared/files/f.txt', data=b'f', headers=OCTETS)
    for method, path in ROUTES:  # a non-member: as if it did not exist
        reply = _route(call, 'bob', method, path, 'shared')
        assert reply.status_code == 404, (method, path, reply.text)
        absent = _route(call, 'bob', method, path, 'no-such-ws').text
        assert reply.text == absent.replace('no-such-ws', 'shared')
    member = call('POST', 'alice', '/workspaces/shared/members', json={'user': 'bob'})
    assert member.json()['members'] == ['bob']
    assert call('GET', 'bob', '/workspaces/shared').status_code == 200
    assert call('PUT', 'bob', '/workspaces/shared/files/bob.txt', data=b'b',
                headers=OCTETS).status_code == 201
    assert call('GET', 'bob', '/workspaces/shared/files/f.txt').content == b'f'
    for method, path in [('DELETE', ''), ('POST', '/members'), ('DELETE', '/members/bob')]:
        assert _route(call, 'bob', method, path, 'shared').status_code == 403
    assert call('GET', 'carol', '/workspaces/shared').status_code == 404
    assert {w['id'] for w in call('GET', 'root', '/workspaces').json()['workspaces']} >= \
        {'shared'}
    assert call('DELETE', 'alice', '/workspaces/shared/members/bob').status_code == 204
    assert call('GET', 'bob', '/workspaces/shared').status_code == 404
    assert call('DELETE', 'root', '/workspaces/shared', params={'force': 'true'}
                ).status_code == 204


def test_who_may_create_and_bad_input(backend):
    _, _, call = backend
    refused = call('POST', 'guest', '/workspaces', json={'id': 'guests'})
    assert refused.status_code == 403 and 'create_workspace' in refused.json()['detail']
    for body in ({'id': 'Bad Name'}, {'id': '../x'}, {'id': 'ok', 'quotaBytes': -1},
                 {'id': 'ok', 'quotaBytes': 'many'}, {'id': 'ok', 'title': 3}, [1]):
        reply = call('POST', 'alice', '/workspaces', json=body)
        assert reply.status_code == 400, (body, reply.text)
        assert reply.headers['Content-Type'].startswith('application/problem+json')
    assert call('POST', 'alice', '/workspaces', data=b'{', headers={
        'Content-Type': 'application/json'}).status_code == 400
    assert call('POST', 'alice', '/workspaces', json={'id': 'big', 'quotaBytes': QUOTA + 1}
                ).status_code == 403
    assert call('POST', 'root', '/workspaces', json={'id': 'big', 'quotaBytes': QUOTA * 5}
                ).status_code == 201
    create(call, 'alice', 'paths')
    for key in ('a/%2E%2E/%2E%2E/x', '%2E%2E', 'a/%00b'):
        reply = call('PUT', 'alice', f'/workspaces/paths/files/{key}', data=b'1',
                     headers=OCTETS)
        assert reply.status_code in (400, 404), (key, reply.text)
        assert reply.status_code != 201
    call('PUT', 'alice', '/workspaces/paths/files/d/f.txt', data=b'1', headers=OCTETS)
    for clash in ('d', 'd/f.txt/g'):  # a file where a folder is, and the reverse
        reply = call('PUT', 'alice', f'/workspaces/paths/files/{clash}', data=b'2',
                     headers=OCTETS)
        assert reply.status_code in (409, 502), (clash, reply.text)
        assert reply.headers['Content-Type'].startswith('application/problem+json')
    unsized = call('PUT', 'alice', '/workspaces/paths/files/u.txt', headers=OCTETS,
                   data=iter([b'chunk']))
    assert unsized.status_code == 411


@pytest.fixture(scope='module')
def stac_catalog(tmp_path_factory):
    """A static STAC catalog of 3 items served over HTTP on loopback."""
    catalog = StaticCatalog(tmp_path_factory.mktemp('stac'), count=3)
    yield catalog.url
    catalog.stop()


def stored_records(server, collection: str) -> set[str]:
    """The identifiers the store itself holds in a collection."""
    return {row[0] for row in store_rows(server, 'SELECT identifier FROM eoorder_record '
                                         'WHERE collection = :c', c=collection)}


def record_bytes(server, collection: str) -> int:
    """Bytes of the record documents the store holds in a collection."""
    return store_rows(server, 'SELECT COALESCE(SUM(LENGTH(CAST(document AS TEXT))), 0) '
                      'FROM eoorder_record WHERE collection = :c', c=collection)[0][0]


def store_rows(server, sql: str, **params) -> list:
    """Rows read from the server's store itself (SQLite or PostgreSQL)."""
    return query(server.store_url, sql, **params)


def test_registered_records_count_in_the_quota(backend, stac_catalog):
    _, server, call = backend
    create(call, 'alice', 'tiny', quotaBytes=100)  # less than one record document
    refused = call('POST', 'alice', '/workspaces/tiny/register', json={'url': stac_catalog})
    assert refused.status_code == 413, refused.text
    assert refused.json()['limit'] == 100 and refused.json()['usage'] == 0
    assert stored_records(server, 'workspace-tiny') == set()


def test_register_and_deregister_stac(backend, stac_catalog):
    _, server, call = backend
    create(call, 'root', 'reg', quotaBytes=QUOTA * 100)  # room for the records
    call('POST', 'root', '/workspaces/reg/members', json={'user': 'alice'})
    assert call('POST', 'bob', '/workspaces/reg/register', json={'url': stac_catalog}
                ).status_code == 404
    reply = call('POST', 'alice', '/workspaces/reg/register', json={'url': stac_catalog})
    assert reply.status_code == 200, reply.text
    assert reply.json()['registered']['inserted'] == 3
    expected = {f'item-{i}' for i in range(3)}
    assert stored_records(server, 'workspace-reg') == expected
    listed = call('GET', 'alice', '/workspaces/reg/records').json()
    assert {f['id'] for f in listed['features']} == expected and listed['numberMatched'] == 3
    assert call('GET', 'alice', '/workspaces/reg').json()['records'] == 3
    usage = call('GET', 'alice', '/workspaces/reg').json()['usage']
    assert usage['recordBytes'] == record_bytes(server, 'workspace-reg') > 0
    assert usage['usedBytes'] == usage['recordBytes']  # no files: the records count
    assert call('GET', 'bob', '/workspaces/reg/records').status_code == 404
    assert call('GET', 'bob', '/workspaces/reg/records/item-0').status_code == 404
    assert call('DELETE', 'bob', '/workspaces/reg/records/item-0').status_code == 404
    assert call('DELETE', 'alice', '/workspaces/reg/records/item-1').status_code == 204
    assert stored_records(server, 'workspace-reg') == expected - {'item-1'}
    assert call('GET', 'alice', '/workspaces/reg/records/item-1').status_code == 404
    for body in ({'url': 'file:///etc/passwd'}, {'url': '/etc'}, {},
                 {'url': stac_catalog, 'type': 'application-package'}):
        refused = call('POST', 'alice', '/workspaces/reg/register', json=body)
        assert refused.status_code == 400, (body, refused.text)
    refused = call('DELETE', 'root', '/workspaces/reg')
    assert refused.status_code == 409 and refused.json()['records'] == 2
    assert call('DELETE', 'root', '/workspaces/reg', params={'force': 'true'}
                ).status_code == 204
    assert stored_records(server, 'workspace-reg') == set()


def test_openapi_declares_the_workspace_api(backend):
    from openapi_spec_validator import validate
    _, server, _ = backend
    document = requests.get(f'{server.url}/openapi', params={'f': 'json'}, timeout=60).json()
    ours = {path: item for path, item in document['paths'].items()
            if path.startswith('/workspaces')}
    assert set(ours['/workspaces']) >= {'get', 'post'}
    assert '413' in ours['/workspaces/{workspaceId}/files/{key}']['put']['responses']
    assert 'post' in ours['/workspaces/{workspaceId}/register']
    validate({'openapi': '3.0.3', 'info': {'title': 'workspaces', 'version': '1'},
              'paths': ours})


def test_credentials_never_answered(backend):
    """Every answer of this module (and of a tour of the routes, so that this test also
    stands alone) is free of the S3 keys."""
    _, _, call = backend
    create(call, 'alice', 'secrets')
    call('PUT', 'alice', '/workspaces/secrets/files/a.txt', data=b'a', headers=OCTETS)
    for user in ('alice', 'root', 'bob'):
        for path in ('', '/secrets', '/secrets/files', '/secrets/files/a.txt',
                     '/secrets/files/none', '/secrets/records'):
            call('GET', user, f'/workspaces{path}')
            call('GET', user, f'/workspaces{path}', params={'f': 'html'})
    call('PUT', 'alice', '/workspaces/secrets/files/big', data=b'x' * (QUOTA + 1),
         headers=OCTETS)
    call('DELETE', 'alice', '/workspaces/secrets')
    call('GET', 'alice', '/openapi', params={'f': 'json'})
    for answer in Client.answers:
        assert SECRET_KEY not in answer and ACCESS_KEY not in answer

"""Robustness of the workspace API against malformed requests (a black-box fuzz's findings),
on the directory backend and on a real S3 server (`rclone serve s3`):

- an upload whose body ends before its `Content-Length` (the client shut its sending side)
  is refused with 400, stores nothing, keeps a previous file of that key and the usage;
- keys over the documented limits (1024 UTF-8 bytes in all, 255 per segment) are refused
  with 400 on PUT, GET and DELETE, never a 500;
- keys with empty, `.` or `..` segments or a trailing slash are refused, not normalised;
- `GET /workspaces/{id}/records` refuses an offset or limit out of range and any query
  parameter it does not support (400 naming it), as `/collections/{id}/items` does.

Requests with such paths and truncated bodies are sent over raw sockets (no client
library normalises them). Oracles: the storage itself (the workspace's directory, the S3
server's bucket) and the store's rows read with SQLAlchemy, not the API's own answers."""

from __future__ import annotations

import base64
import json
import socket
import urllib.parse
import uuid

import pytest
import requests

from tests.support.auth import as_
from tests.support.workspaces import (multipart_uploads, query, s3, start_site, stop_site,
                                      stored_objects)

USERS = {'alice': ['user'], 'bob': ['user']}
QUOTA = 100_000
OCTETS = {'Content-Type': 'application/octet-stream'}
MAX_KEY = 1024
__all__ = ['s3']


@pytest.fixture(scope='module', params=['directory', 's3'])
def site(request, tmp_path_factory, s3):
    server = start_site(tmp_path_factory.mktemp(f'robust-{request.param}'), USERS,
                        {'default_quota_bytes': QUOTA, 'personal': False},
                        s3=s3 if request.param == 's3' else None)
    yield server
    stop_site(server)


def new_workspace(server, user: str = 'alice') -> str:
    workspace = f'rb-{uuid.uuid4().hex[:8]}'
    reply = requests.post(f'{server.url}/workspaces', json={'id': workspace},
                          auth=as_(user), timeout=30)
    assert reply.status_code == 201, reply.text
    return workspace


def raw(server, method: str, path: str, body: bytes = b'', length: int | None = None,
        user: str = 'alice') -> tuple[int, bytes, bytes]:
    """(status, head, body) of a request sent as is over a socket: `path` unnormalised,
    `body` sent whole, then the sending side shut (so `length` > len(body) cuts it).
    Characters outside ASCII are percent-encoded (escapes already there are kept)."""
    path = urllib.parse.quote(path, safe='/%')
    token = base64.b64encode(':'.join(as_(user)).encode()).decode()
    length = len(body) if length is None else length
    head = (f'{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n'
            f'Authorization: Basic {token}\r\nContent-Type: application/octet-stream\r\n'
            f'Content-Length: {length}\r\nConnection: close\r\n\r\n')
    with socket.create_connection(('127.0.0.1', server.port), timeout=60) as sock:
        sock.sendall(head.encode() + body)
        sock.shutdown(socket.SHUT_WR)
        answer = b''
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, content = answer.partition(b'\r\n\r\n')
    return int(head.split()[1]), head, content


def used_bytes(server, workspace: str) -> int:
    """The stored usage, read from the store itself."""
    return query(server.store_url, 'SELECT used_bytes FROM eoorder_workspace WHERE id = :w',
                 w=workspace)[0][0] or 0


def open_bookings(server, workspace: str) -> int:
    return query(server.store_url, 'SELECT COUNT(*) FROM eoorder_workspace_booking '
                 'WHERE workspace = :w', w=workspace)[0][0]


def get_file(server, workspace: str, key: str) -> requests.Response:
    return requests.get(f'{server.url}/workspaces/{workspace}/files/{key}',
                        auth=as_('alice'), timeout=30)


def assert_problem(status: int, head: bytes, content: bytes, code: int, *words: str) -> dict:
    assert status == code, (status, content[:500])
    assert b'application/problem+json' in head, head
    detail = json.loads(content)['detail']
    assert 'Traceback' not in detail and '\n' not in detail, detail
    for word in words:
        assert word in detail, (word, detail)
    return json.loads(content)


# -- 1. an upload cut off before its Content-Length ------------------------------------

def test_cut_off_upload_stores_nothing(site):
    workspace = new_workspace(site)
    path = f'/workspaces/{workspace}/files/trunc1.bin'
    answer = raw(site, 'PUT', path, b'0123456789', length=1000)
    assert_problem(*answer, 400, '10', '1000')
    assert get_file(site, workspace, 'trunc1.bin').status_code == 404
    assert stored_objects(site, workspace) == {}
    assert used_bytes(site, workspace) == 0 and open_bookings(site, workspace) == 0
    if site.s3 is not None:
        assert multipart_uploads(site.s3, site.bucket) == []
    else:  # nothing left aside either
        assert list((site.data_dir / 'workspaces' / '.uploads').iterdir()) == []
    whole = raw(site, 'PUT', path, b'w' * 1000)  # the same request sent whole: stored
    assert whole[0] == 201, whole
    assert stored_objects(site, workspace) == {'trunc1.bin': b'w' * 1000}
    assert used_bytes(site, workspace) == 1000


def test_cut_off_upload_keeps_the_previous_file(site):
    workspace = new_workspace(site)
    good = b'good data ' * 50
    put = requests.put(f'{site.url}/workspaces/{workspace}/files/keep.bin', data=good,
                       headers=OCTETS, auth=as_('alice'), timeout=30)
    assert put.status_code == 201, put.text
    answer = raw(site, 'PUT', f'/workspaces/{workspace}/files/keep.bin', b'bad', length=2000)
    assert_problem(*answer, 400, '3', '2000')
    assert get_file(site, workspace, 'keep.bin').content == good
    assert stored_objects(site, workspace) == {'keep.bin': good}
    assert used_bytes(site, workspace) == len(good) and open_bookings(site, workspace) == 0
    empty = raw(site, 'PUT', f'/workspaces/{workspace}/files/keep.bin', b'', length=10)
    assert_problem(*empty, 400, '0', '10')  # not a byte of the body came
    assert stored_objects(site, workspace) == {'keep.bin': good}


# -- 2. keys over the length limits ------------------------------------------------------

def key_of(total: int, segment: int = 100, char: str = 'a') -> str:
    """A key of `total` UTF-8 bytes in segments of `segment` characters."""
    parts, size = [], 0
    while size + segment * len(char.encode()) + 1 < total:
        parts.append(char * segment)
        size += segment * len(char.encode()) + 1
    parts.append('e' * (total - size))
    return '/'.join(parts)


def test_overlong_keys_are_refused(site):
    workspace = new_workspace(site)
    files = f'/workspaces/{workspace}/files/'
    for key in ('/'.join(['a' * 100] * 50) + '/e', key_of(MAX_KEY + 1),
                key_of(1100, 100, 'é'), 'b/' + 'c' * 256):
        assert len(key.encode()) > MAX_KEY or max(map(len, key.split('/'))) > 255
        assert_problem(*raw(site, 'PUT', files + key, b'x'), 400, 'bytes')
        assert_problem(*raw(site, 'GET', files + key), 400, 'bytes')
        assert_problem(*raw(site, 'DELETE', files + key), 400, 'bytes')
    assert stored_objects(site, workspace) == {} and used_bytes(site, workspace) == 0
    room = MAX_KEY - len(f'workspaces/{workspace}/') if site.s3 is not None else MAX_KEY
    longest = key_of(room, 100, 'é')  # multi-byte characters: counted in bytes
    assert len(longest.encode()) == room
    assert raw(site, 'PUT', files + longest, b'fits')[0] == 201
    assert stored_objects(site, workspace) == {longest: b'fits'}
    assert get_file(site, workspace, urllib.parse.quote(longest)).content == b'fits'
    assert raw(site, 'DELETE', files + longest)[0] == 204
    if site.s3 is not None:  # the bucket prefix leaves less room: said so, no 502
        over = key_of(room + 1)
        assert_problem(*raw(site, 'PUT', files + over, b'x'), 400, str(room))


# -- 5. empty, "." and ".." segments ---------------------------------------------------

def test_dot_and_empty_segments_are_refused(site):
    workspace = new_workspace(site)
    files = f'/workspaces/{workspace}/files/'
    for key in ('x/.', 'x/./y', './x', 'x/', 'x/%2E', 'x/%2e/y', 'x/%2E%2E/y', '..',
                'x/..'):
        status, head, content = raw(site, 'PUT', files + key, b'dot')
        assert_problem(status, head, content, 400)
        assert raw(site, 'GET', files + key)[0] in (400, 404), key
    assert stored_objects(site, workspace) == {}
    assert used_bytes(site, workspace) == 0
    assert get_file(site, workspace, 'x').status_code == 404
    assert raw(site, 'PUT', files + 'x/.y', b'dot')[0] == 201  # a dot inside a name: fine
    assert stored_objects(site, workspace) == {'x/.y': b'dot'}


# -- 3 and 4. the records listing's parameters -----------------------------------------

def records(server, workspace: str, user: str = 'alice', **params) -> requests.Response:
    return requests.get(f'{server.url}/workspaces/{workspace}/records', params=params,
                        auth=as_(user), timeout=30)


def test_records_offset_and_limit_out_of_range(site):
    workspace = new_workspace(site)
    items = requests.get(f'{site.url}/collections/workspace-{workspace}/items',
                         params={'offset': '99999999999999999999'}, auth=as_('alice'),
                         timeout=30)
    assert items.status_code == 400  # the reference: the collection's items route
    for params in ({'offset': '99999999999999999999'}, {'offset': str(2 ** 63)},
                   {'offset': '-1'}, {'offset': 'x'}, {'limit': '99999999999999999999'},
                   {'limit': '0'}, {'limit': '1.5'}):
        reply = records(site, workspace, **params)
        assert reply.status_code == 400, (params, reply.text)
        assert reply.headers['Content-Type'].startswith('application/problem+json')
        assert next(iter(params)) in reply.json()['detail'], reply.text
    fine = records(site, workspace, offset=str(2 ** 62), limit='1000')
    assert fine.status_code == 200, fine.text
    assert fine.json()['features'] == [] and fine.json()['numberReturned'] == 0


def test_records_refuse_unsupported_parameters(site):
    workspace = new_workspace(site)
    for name, value in (('bbox', '1'), ('filter', '(('), ('datetime', '2020'),
                        ('q', 'x'), ('sortby', 'id'), ('foo', 'bar'), ('f', 'html')):
        reply = records(site, workspace, **{name: value})
        assert reply.status_code == 400, (name, reply.text)
        assert reply.headers['Content-Type'].startswith('application/problem+json')
        assert name in reply.json()['detail'], reply.text
    assert records(site, workspace, offset='0', limit='5', f='json').status_code == 200
    hidden = records(site, workspace, user='bob', bbox='1')  # not bob's: as if absent
    assert hidden.status_code == 404, hidden.text
    absent = records(site, 'rb-nosuch', bbox='1')
    assert absent.status_code == 404 and absent.json() == {
        **hidden.json(), 'detail': hidden.json()['detail'].replace(workspace, 'rb-nosuch')}

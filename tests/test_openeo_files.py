"""openEO `/files` (issue #19): a per-user byte quota and largest file size with openEO's
error codes and nothing of a refused upload left behind; with personal workspaces the
files are the user's personal workspace (checked through the workspace API)."""

from __future__ import annotations

import base64
import copy
import socket

import openeo
import pytest
import requests
import yaml

from .conftest import REPO, Server
from .support.auth import as_, write_users

LOCAL = yaml.safe_load((REPO / 'config' / 'local.yml').read_text())
QUOTA, LARGEST = 1000, 600
ERROR_KEYS = {'id', 'code', 'message', 'links'}


def start(directory, **blocks) -> Server:
    block = copy.deepcopy(LOCAL['eoorder'])
    block['data_dir'] = str(directory / 'data')
    users = write_users(directory / 'users.yml', {'alice': ['user'], 'bob': ['user']})
    block['auth'] = {'authenticators': [{'name': 'basic', 'users_file': str(users)}]}
    block.update(blocks)
    return Server(directory, block, LOCAL['resources']).start()


@pytest.fixture(scope='module')
def own(tmp_path_factory):
    running = start(tmp_path_factory.mktemp('openeo-files'), openeo={
        'files_quota_bytes': QUOTA, 'max_file_bytes': LARGEST})
    yield running
    running.stop()


@pytest.fixture(scope='module')
def personal(tmp_path_factory):
    running = start(tmp_path_factory.mktemp('openeo-ws-files'), openeo={
        'max_file_bytes': LARGEST}, workspaces={'personal': True,
                                                'default_quota_bytes': 800})
    yield running
    running.stop()


def put(server: Server, user: str, path: str, data) -> requests.Response:
    return requests.put(f'{server.url}/openeo/1.2/files/{path}', data=data, auth=as_(user),
                        timeout=30)


def listing(server: Server, user: str) -> dict[str, int]:
    reply = requests.get(f'{server.url}/openeo/1.2/files', auth=as_(user), timeout=10)
    assert reply.status_code == 200, reply.text
    return {f['path']: f['size'] for f in reply.json()['files']}


def on_disk(server: Server) -> dict[str, int]:
    """Every file under the server's openEO file areas (hidden ones too)."""
    root = server.data_dir / 'openeo' / 'files'
    return {p.name: p.stat().st_size for p in root.rglob('*') if p.is_file()}


def refused(reply: requests.Response, code: str) -> None:
    assert reply.status_code == 400, reply.text
    assert set(reply.json()) == ERROR_KEYS and reply.json()['code'] == code


def chunks(size: int):
    """A body sent chunked (no Content-Length): the limit is found while reading."""
    for _ in range(size // 100):
        yield b'c' * 100


def test_quota_and_largest_file_in_the_own_area(own):
    assert put(own, 'alice', 'a.bin', b'a' * 500).status_code == 200
    refused(put(own, 'alice', 'big.bin', b'b' * (LARGEST + 1)), 'FileSizeExceeded')
    refused(put(own, 'alice', 'big.bin', chunks(LARGEST + 100)), 'FileSizeExceeded')
    assert put(own, 'alice', 'dir/b.bin', b'b' * 400).status_code == 200
    refused(put(own, 'alice', 'c.bin', b'c' * 101), 'StorageQuotaExceeded')
    refused(put(own, 'alice', 'c.bin', chunks(200)), 'StorageQuotaExceeded')
    assert listing(own, 'alice') == {'a.bin': 500, 'dir/b.bin': 400}
    assert on_disk(own) == {'a.bin': 500, 'b.bin': 400}  # no partial file left
    # replacing a file counts its new size only
    assert put(own, 'alice', 'dir/b.bin', b'b' * 500).status_code == 200
    assert listing(own, 'alice') == {'a.bin': 500, 'dir/b.bin': 500}
    # the quota is each user's
    assert put(own, 'bob', 'a.bin', b'x' * 500).status_code == 200
    assert listing(own, 'bob') == {'a.bin': 500}
    requests.delete(f'{own.url}/openeo/1.2/files/a.bin', auth=as_('alice'), timeout=10)
    assert put(own, 'alice', 'c.bin', b'c' * 400).status_code == 200


def test_a_file_and_a_folder_of_one_name_is_the_callers_error(own):
    """A file uploaded where a folder is (or under a name that is a file) is refused with
    the openEO error, and nothing is lost (it failed in the file system: 500)."""
    before = listing(own, 'bob')
    assert put(own, 'bob', 'x/y.bin', b'y').status_code == 200
    refused(put(own, 'bob', 'x', b'z'), 'FilePathInvalid')  # x is a folder
    refused(put(own, 'bob', 'x/y.bin/z', b'z'), 'FilePathInvalid')  # y.bin is a file
    assert listing(own, 'bob') == {**before, 'x/y.bin': 1}


def test_names_as_long_as_the_file_system_takes(own):
    """A name of up to 255 bytes is stored (its upload's temporary file had a longer
    one: 500 from 244 bytes on); a longer one is the caller's error."""
    for length in (243, 244, 255):
        name = 'n' * (length - 4) + '.txt'
        assert put(own, 'bob', name, b'long').status_code == 200, length
        assert listing(own, 'bob')[name] == 4
    refused(put(own, 'bob', 'n' * 256, b'x'), 'FilePathInvalid')


def test_files_are_the_personal_workspace(personal, tmp_path):
    connection = openeo.connect(f'{personal.url}/openeo/1.2/')
    connection.authenticate_basic(*as_('alice'))
    source = tmp_path / 'aoi.geojson'
    source.write_bytes(b'{"type": "FeatureCollection", "features": []}')
    connection.upload_file(source, target='inputs/aoi.geojson')
    workspaces = requests.get(f'{personal.url}/workspaces', auth=as_('alice'),
                              timeout=10).json()['workspaces']
    mine = next(w for w in workspaces if w['personal'])
    files = requests.get(f'{personal.url}/workspaces/{mine["id"]}/files', auth=as_('alice'),
                         timeout=10).json()
    keys = {f.get('key') or f.get('path') for f in files.get('files', files.get('objects', []))}
    assert 'inputs/aoi.geojson' in keys, files
    stored = requests.put(f'{personal.url}/workspaces/{mine["id"]}/files/notes.txt',
                          data=b'n' * 300, auth=as_('alice'), timeout=10,
                          headers={'Content-Type': 'application/octet-stream'})
    assert stored.status_code == 201, stored.text
    assert listing(personal, 'alice') == {'inputs/aoi.geojson': source.stat().st_size,
                                          'notes.txt': 300}
    connection.get_file('notes.txt').download(tmp_path / 'notes.txt')
    assert (tmp_path / 'notes.txt').read_bytes() == b'n' * 300
    # the workspace's quota (800 bytes; 346 used) applies; nothing refused is kept
    refused(put(personal, 'alice', 'more.bin', b'm' * 500), 'StorageQuotaExceeded')
    refused(put(personal, 'alice', 'huge.bin', chunks(LARGEST + 100)), 'FileSizeExceeded')
    assert set(listing(personal, 'alice')) == {'inputs/aoi.geojson', 'notes.txt'}
    # another user sees none of it
    assert listing(personal, 'bob') == {}
    assert requests.get(f'{personal.url}/openeo/1.2/files/notes.txt', auth=as_('bob'),
                        timeout=10).json()['code'] == 'FileNotFound'
    escape = put(personal, 'alice', 'a/..%2F..%2Fescape.txt', b'x')
    assert escape.status_code in (400, 404) and set(escape.json()) == ERROR_KEYS
    connection.get_file('notes.txt').delete()
    assert set(listing(personal, 'alice')) == {'inputs/aoi.geojson'}


def cut_off_put(server: Server, path: str, sent: bytes, announced: int) -> tuple[int, bytes]:
    """PUT a body that ends (the client half-closes) before its Content-Length."""
    token = base64.b64encode(b'%s:%s' % tuple(s.encode() for s in as_('alice'))).decode()
    with socket.create_connection(('127.0.0.1', server.port), timeout=10) as sock:
        sock.sendall(f'PUT /openeo/1.2/files/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n'
                     f'Authorization: Basic {token}\r\n'
                     'Content-Type: application/octet-stream\r\n'
                     f'Content-Length: {announced}\r\n\r\n'.encode() + sent)
        sock.shutdown(socket.SHUT_WR)
        answer = b''
        while chunk := sock.recv(65536):
            answer += chunk
    status = int(answer.split(b' ', 2)[1])
    return status, answer.partition(b'\r\n\r\n')[2]


@pytest.mark.parametrize('area', ['own', 'personal'])
def test_a_cut_off_upload_keeps_nothing(request, area):
    server = request.getfixturevalue(area)
    assert put(server, 'alice', 'kept.bin', b'k' * 5).status_code == 200
    before = listing(server, 'alice')  # (small: the module's other tests fill the quota)
    for path in ('new.bin', 'kept.bin'):
        status, body = cut_off_put(server, path, b'x' * 10, 40)
        assert status == 400 and b'ended after 10 of the 40 bytes' in body, body
    assert listing(server, 'alice') == before  # nothing new, the old file as it was
    kept = requests.get(f'{server.url}/openeo/1.2/files/kept.bin', auth=as_('alice'),
                        timeout=10)
    assert kept.content == b'k' * 5
    requests.delete(f'{server.url}/openeo/1.2/files/kept.bin', auth=as_('alice'), timeout=10)

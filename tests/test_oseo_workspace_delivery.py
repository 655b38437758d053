"""OSEO orders delivered into the orderer's workspace, through the real OSEO endpoint, on
the directory backend and a real S3 server: GetOptions offers the caller's workspaces
(`deliveryWorkspace`, answers valid for the official OSEO schemas), a Submit naming one
uploads each product there and registers a STAC item owned by the workspace, the
download URLs point at the workspace's files; another user's workspace is refused like
one that does not exist; past the quota the item fails naming the limit and the usage.
The storage is read directly (oracle), the product files are the test's own."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from tests.support import oseo
from tests.support.auth import as_, write_users
from tests.support.s3 import s3_block, start_s3
from tests.test_workspaces import stored_keys

USERS = {'alice': ['user'], 'bob': ['user'], 'root': ['admin']}
NS = oseo.NS
OPTION = 'deliveryWorkspace'


@pytest.fixture(scope='module')
def s3(tmp_path_factory):
    server = start_s3(tmp_path_factory.mktemp('s3') / 'root')
    yield server
    server.stop()


@pytest.fixture(scope='module', params=['directory', 's3'])
def backend(request, tmp_path_factory, s3):
    from .conftest import Server
    directory = tmp_path_factory.mktemp(f'oseo-ws-{request.param}')
    products = directory / 'products'
    oseo.make_products(products, ['P1', 'P2'])
    users = write_users(directory / 'users.yml', USERS)
    storage = s3_block(s3) if request.param == 's3' else {'backend': 'directory'}
    block = oseo.eoorder_block(products, auth={'authenticators': [
        {'name': 'basic', 'users_file': str(users)}]})
    block['workspaces'] = {'storage': storage, 'default_quota_bytes': 100_000,
                           'personal': False}
    server = Server(directory, block).start()
    yield request.param, server, products
    server.stop()


def post(server, user: str, body: str) -> requests.Response:
    return oseo.post(server, body, auth=as_(user))


def get_options(user_server, user: str) -> list[str]:
    body = (f'<GetOptions xmlns="{oseo.OSEO}" service="OS" version="1.0.0">'
            '<collectionId>test-collection</collectionId></GetOptions>')
    root = oseo.payload(post(user_server, user, body))  # validated against the schema
    offered = []
    for field in root.iter('{http://www.opengis.net/swe/2.0}field'):
        if field.get('name') == OPTION:
            offered += [v.text for v in field.iter('{http://www.opengis.net/swe/2.0}value')]
    return offered


def option(workspace: str) -> str:
    return f'<{OPTION}>{workspace}</{OPTION}>'


def wait_order(server, user: str, order_id: str, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        root = oseo.payload(post(server, user, oseo.get_status(order_id)))
        spec = root.find('oseo:orderMonitorSpecification', NS)
        status = spec.findtext('oseo:orderStatusInfo/oseo:status', namespaces=NS)
        if status in ('Completed', 'Failed', 'Cancelled'):
            return {i.findtext('oseo:itemId', namespaces=NS): (
                i.findtext('oseo:orderItemStatusInfo/oseo:status', namespaces=NS),
                i.findtext('oseo:orderItemStatusInfo/oseo:additionalStatusInfo',
                           namespaces=NS)) for i in spec.findall('oseo:orderItem', NS)}
        assert time.monotonic() < deadline, f'order {order_id} still {status}'
        time.sleep(0.2)


def create(server, user: str, workspace: str, **extra) -> None:
    reply = requests.post(f'{server.url}/workspaces', auth=as_(user), timeout=30,
                          json={'id': workspace, **extra})
    assert reply.status_code == 201, reply.text


def test_order_delivered_into_the_workspace(backend, s3):
    kind, server, products = backend
    workspace = f'deliv-{uuid.uuid4().hex[:8]}'
    create(server, 'alice', workspace)
    assert workspace in get_options(server, 'alice')
    assert workspace not in get_options(server, 'bob')
    order_id = oseo.order_id(server, oseo.submit(oseo.item('i1', 'P1'),
                                                 order_options=option(workspace)),
                             auth=as_('alice'))
    assert wait_order(server, 'alice', order_id)['i1'][0] == 'Completed'
    stored = stored_keys(backend, s3, workspace)
    (key, size), = stored.items()
    assert key.startswith(f'orders/{order_id}/') and key.endswith('/P1.dat')
    assert size == (products / 'P1.dat').stat().st_size
    urls = [u.text for u in oseo.payload(post(server, 'alice', oseo.describe(order_id))).iter(
        f'{{{oseo.OSEO}}}URL')]
    assert urls == [f'{server.url}/workspaces/{workspace}/files/{key}']
    assert requests.get(urls[0], auth=as_('alice'), timeout=30).content == \
        (products / 'P1.dat').read_bytes()
    assert requests.get(urls[0], auth=as_('bob'), timeout=30).status_code == 404
    records = requests.get(f'{server.url}/workspaces/{workspace}/records', auth=as_('alice'),
                           timeout=30).json()['features']
    assert [r['assets']['P1.dat']['href'] for r in records] == urls
    usage = requests.get(f'{server.url}/workspaces/{workspace}', auth=as_('root'),
                         params={'refresh': 'false'}, timeout=30).json()['usage']
    recounted = requests.get(f'{server.url}/workspaces/{workspace}', auth=as_('root'),
                             params={'refresh': 'true'}, timeout=30).json()['usage']
    assert usage == recounted and usage['usedBytes'] > size  # the file and the record


def test_foreign_workspace_refused_as_absent(backend):
    _, server, _ = backend
    workspace = f'mine-{uuid.uuid4().hex[:8]}'
    create(server, 'alice', workspace)
    answers = []
    for name in (workspace, 'no-such-workspace'):
        reply = post(server, 'bob', oseo.submit(oseo.item('i1', 'P1', options=option(name))))
        assert reply.status_code == 400, reply.text
        report = oseo.payload(reply)
        exception = report.find('ows:Exception', NS)
        answers.append((exception.get('exceptionCode'), exception.get('locator'),
                        exception.findtext('ows:ExceptionText', namespaces=NS).replace(
                            name, 'X')))
    assert answers[0] == answers[1] and answers[0][0] == 'InvalidParameterValue', answers


def test_quota_refusal_fails_the_item(backend, s3):
    _, server, products = backend
    workspace = f'tiny-{uuid.uuid4().hex[:8]}'
    create(server, 'alice', workspace, quotaBytes=100)
    order_id = oseo.order_id(server, oseo.submit(oseo.item('i1', 'P2'),
                                                 order_options=option(workspace)),
                             auth=as_('alice'))
    status, info = wait_order(server, 'alice', order_id)['i1']
    size = (products / 'P2.dat').stat().st_size
    assert status == 'Failed' and 'quota 100 bytes' in info and '0 bytes used' in info \
        and f'{size} more bytes' in info, info
    assert stored_keys(backend, s3, workspace) == {}

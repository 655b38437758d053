"""OSEO orders delivered into the orderer's workspace, through the real OSEO endpoint, on
the directory backend and a real S3 server: GetOptions offers the caller's workspaces
(`deliveryWorkspace`, answers valid for the official OSEO schemas), a Submit naming one
uploads each product there and registers a STAC item owned by the workspace, the
download URLs point at the workspace's files; another user's workspace is refused like
one that does not exist, by GetQuotation as by Submit; past the quota the item fails
naming the limit and the usage; an order cancelled mid-delivery (an upload held by a
relay in front of the S3 server) leaves no object, no open multipart upload and no
record, and its booking is given back. The storage is read directly (oracle), the
product files are the test's own."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from tests.support import oseo
from tests.support.auth import as_
from tests.support.cluster import wait_for
from tests.support.s3 import start_s3
from tests.support.s3_gate import S3Gate
from tests.support.workspaces import (multipart_uploads, records, s3, start_site, stop_site,
                                      stored_objects)

__all__ = ['s3']
USERS = {'alice': ['user'], 'bob': ['user'], 'root': ['admin']}
NS = oseo.NS
OPTION = 'deliveryWorkspace'
SIDECAR = 'tests.support.sidecar_items.SidecarItemProcessor'
BIG = 12 * 1024 * 1024  # past boto3's 8 MiB threshold: a multipart upload


@pytest.fixture(scope='module', params=['directory', 's3'])
def backend(request, tmp_path_factory, s3):
    directory = tmp_path_factory.mktemp(f'oseo-ws-{request.param}')
    products = directory / 'products'
    oseo.make_products(products, ['P1', 'P2'])
    server = start_site(directory, USERS, {'default_quota_bytes': 100_000, 'personal': False},
                        s3=s3 if request.param == 's3' else None,
                        **oseo.eoorder_block(products))
    yield request.param, server, products
    stop_site(server)


def stored_keys(backend, s3, workspace: str) -> dict[str, int]:
    """{key: size} the storage itself holds for the workspace."""
    return {key: len(body) for key, body in stored_objects(backend[1], workspace).items()}


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


def refusal(reply: requests.Response, name: str) -> tuple:
    """(code, locator, text with the workspace's name masked) of an ows:ExceptionReport."""
    assert reply.status_code == 400, reply.text
    exception = oseo.payload(reply).find('ows:Exception', NS)  # validated
    return (exception.get('exceptionCode'), exception.get('locator'),
            exception.findtext('ows:ExceptionText', namespaces=NS).replace(name, 'X'))


@pytest.mark.parametrize('operation', ['Submit', 'GetQuotation'])
def test_foreign_workspace_refused_as_absent(backend, operation):
    _, server, _ = backend
    request = oseo.submit if operation == 'Submit' else oseo.get_quotation
    workspace = f'mine-{uuid.uuid4().hex[:8]}'
    create(server, 'alice', workspace)
    answers = [refusal(post(server, 'bob', request(oseo.item('i1', 'P1', options=option(
        name)))), name) for name in (workspace, 'no-such-workspace')]
    assert answers[0] == answers[1] and answers[0][:2] == ('InvalidParameterValue', OPTION), \
        answers
    ordered = refusal(post(server, 'bob', request(oseo.item('i1', 'P1'), order_options=option(
        workspace))), workspace)
    assert ordered == answers[0]  # named for the whole order: the same refusal
    accepted = post(server, 'alice', request(oseo.item('i1', 'P1', options=option(workspace))))
    assert accepted.status_code == 200, accepted.text
    assert oseo.payload(accepted).findtext('oseo:status', namespaces=NS) == 'success'


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


# -- cancelled mid-delivery ------------------------------------------------------------

@pytest.fixture(scope='module')
def gated(tmp_path_factory):
    """A server whose workspaces live on an S3 server behind a gate; each product is
    delivered with a checksum sidecar (two uploads per item), BIG is a multipart one."""
    directory = tmp_path_factory.mktemp('oseo-ws-gated')
    products = directory / 'products'
    oseo.make_products(products, ['P1'])
    (products / 'BIG.dat').write_bytes(bytes(range(256)) * (BIG // 256))
    s3 = start_s3(directory / 's3root')
    gate = S3Gate(s3.endpoint)
    block = oseo.eoorder_block(products)
    block['ordering']['collections'][0]['processor'] = SIDECAR
    (directory / 'server').mkdir()
    server = start_site(directory / 'server', USERS, {'default_quota_bytes': 10 * BIG,
                                                      'personal': False}, s3=gate, **block)
    yield server, gate
    gate.close()
    stop_site(server)
    s3.stop()


def usage(server, workspace: str, refresh: bool) -> int:
    return requests.get(f'{server.url}/workspaces/{workspace}', auth=as_('root'), timeout=30,
                        params={'refresh': str(refresh).lower()}).json()['usage']['usedBytes']


def cancel_while_held(server, gate, product: str, *patterns: bytes) -> tuple[str, str]:
    """Order `product` into a fresh workspace, hold the upload whose request holds
    `patterns`, cancel the order meanwhile; (workspace, order id)."""
    workspace = f'cancel-{uuid.uuid4().hex[:8]}'
    create(server, 'alice', workspace)
    assert usage(server, workspace, refresh=True) == 0
    gate.hold(*patterns)
    order_id = oseo.order_id(server, oseo.submit(oseo.item('i1', product),
                                                 order_options=option(workspace)),
                             auth=as_('alice'))
    assert gate.held.wait(120), 'the delivery never reached the S3 server: ' + \
        server.log()[-3000:]
    return workspace, order_id


def test_cancel_after_an_upload_withdraws_it(gated):
    server, gate = gated
    workspace, order_id = cancel_while_held(server, gate, 'BIG', b'PUT /', b'.sha256')
    area = f'orders/{order_id}/'
    stored = [k for k in stored_objects(server, workspace) if k.startswith(area)]
    assert len(stored) == 1 and stored[0].endswith('/BIG.dat')  # the product, before
    assert usage(server, workspace, refresh=False) >= BIG  # booked for both files
    assert post(server, 'alice', oseo.cancel(order_id)).status_code == 200
    gate.release(cut=True)
    assert wait_order(server, 'alice', order_id)['i1'][0] == 'Cancelled'
    wait_for(lambda: stored_objects(server, workspace) == {}, 60, 0.2, 'withdrawal')
    assert multipart_uploads(server.s3, server.bucket) == []
    assert records(server, f'workspace-{workspace}') == {}
    wait_for(lambda: usage(server, workspace, refresh=False) == 0, 60, 0.2, 'booking back')
    assert usage(server, workspace, refresh=True) == 0


def test_cancel_mid_multipart_upload_aborts_its_parts(gated):
    server, gate = gated
    workspace, order_id = cancel_while_held(server, gate, 'BIG', b'PUT /', b'partNumber=2')
    assert [k for k in multipart_uploads(server.s3, server.bucket)
            if k.startswith(f'workspaces/{workspace}/orders/{order_id}/')]  # hidden parts
    assert post(server, 'alice', oseo.cancel(order_id)).status_code == 200
    gate.release(cut=True)
    assert wait_order(server, 'alice', order_id)['i1'][0] == 'Cancelled'
    wait_for(lambda: multipart_uploads(server.s3, server.bucket) == [], 60, 0.2,
             'aborted multipart upload')
    assert stored_objects(server, workspace) == {}
    assert records(server, f'workspace-{workspace}') == {}
    wait_for(lambda: usage(server, workspace, refresh=False) == 0, 60, 0.2, 'booking back')
    assert usage(server, workspace, refresh=True) == 0

"""Issue 18's "Done when", end to end against a real S3 server (`rclone serve s3`): a user
creates a workspace, registers a STAC catalog and an application package into it, runs
the package with its results landing in the bucket and in the workspace's private
collection, orders a product delivered to the bucket, hits each quota (storage bytes,
queued jobs, active order items) and gets a clear refusal naming the limit and the usage,
and another user sees none of it. Oracles: the bucket read with boto3, the store's rows
read with SQLAlchemy, the source catalog's own items."""

from __future__ import annotations

import time
import uuid

import pytest
import requests

from tests.support import oseo
from tests.support.auth import as_
from tests.support.static_stac import StaticCatalog
from tests.support.workspaces import (packages, records, s3, scene, start_site,
                                      stop_site, stored_objects, wait_job)

__all__ = ['packages', 's3', 'scene']
USERS = {'alice': ['user', 'developer'], 'bob': ['user', 'developer'], 'root': ['admin']}
QUOTA = 3_000_000
OPTION = 'deliveryWorkspace'


@pytest.fixture(scope='module')
def source(tmp_path_factory):
    catalog = StaticCatalog(tmp_path_factory.mktemp('done-when-stac'))
    yield catalog
    catalog.stop()


@pytest.fixture(scope='module')
def site(tmp_path_factory, s3):
    directory = tmp_path_factory.mktemp('done-when')
    products = directory / 'products'
    oseo.make_products(products, ['P1', 'P2'])
    block = oseo.eoorder_block(products, jobs={'workers': 1})
    block['quotas'] = {'queued_jobs': 1, 'active_order_items': 1}
    (directory / 'server').mkdir()
    server = start_site(directory / 'server', USERS, {'personal': False}, s3=s3, **block)
    yield server
    stop_site(server)


def call(site, method: str, user: str, path: str, **kwargs) -> requests.Response:
    return requests.request(method, f'{site.url}{path}', auth=as_(user), timeout=60,
                            **kwargs)


def execute(site, user: str, process: str, scene_url: str, **extra) -> requests.Response:
    return call(site, 'POST', user, f'/processes/{process}/execution',
                headers={'Prefer': 'respond-async'},
                json={'inputs': {'source': {'href': scene_url}, 'aoi': '5.5,50.1,6.25,51',
                                 'epsg': 32631}, **extra})


def wait_order(site, user: str, order_id: str) -> str:
    deadline = time.monotonic() + 120
    while True:
        root = oseo.payload(oseo.post(site, oseo.get_status(order_id), auth=as_(user)))
        status = root.findtext('.//oseo:orderItem/oseo:orderItemStatusInfo/oseo:status',
                               namespaces=oseo.NS)
        if status in ('Completed', 'Failed', 'Cancelled'):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.2)


def test_done_when(site, source, packages, scene):
    ws = f'done-{uuid.uuid4().hex[:8]}'
    collection = f'workspace-{ws}'
    # a workspace with a storage area in the bucket and a collection of its own
    created = call(site, 'POST', 'alice', '/workspaces', json={'id': ws, 'quotaBytes': QUOTA})
    assert created.status_code == 201, created.text
    # a STAC catalog registered: its items, private to the workspace
    reply = call(site, 'POST', 'alice', f'/workspaces/{ws}/register', json={'url': source.url})
    assert reply.status_code == 200, reply.text
    catalog_ids = {item['id'] for item in source.items}
    assert {i: (o, v) for i, (o, v, _) in records(site, collection).items()} == {
        i: (f'workspace:{ws}', 'private') for i in catalog_ids}
    # a package registered: a private process of the workspace, run with its results in
    # the bucket and in the workspace's collection
    reply = call(site, 'POST', 'alice', f'/workspaces/{ws}/register',
                 json={'type': 'application-package',
                       'url': f'{packages}/landcover.ogcapppkg.json'})
    assert reply.status_code == 201, reply.text
    process = f'{ws}:landcover'
    started = execute(site, 'alice', process, scene, workspace=ws)
    assert started.status_code == 201, started.text
    job_id = started.json()['jobID']
    job = wait_job(site, 'alice', job_id)
    assert job['status'] == 'successful', job
    bucket = stored_objects(site, ws)
    assert bucket[f'jobs/{job_id}/classification'] and f'jobs/{job_id}/stac/catalog.json' \
        in bucket
    outputs = {i: o for i, (o, v, _) in records(site, collection).items()
               if i.startswith(f'{job_id}/')}
    assert outputs and set(outputs.values()) == {f'workspace:{ws}'}
    # a product ordered through OSEO, delivered to the bucket with its STAC item
    order_id = oseo.order_id(site, oseo.submit(oseo.item('i1', 'P1'), order_options=(
        f'<{OPTION}>{ws}</{OPTION}>')), auth=as_('alice'))
    assert wait_order(site, 'alice', order_id) == 'Completed'
    delivered = [k for k in stored_objects(site, ws) if k.startswith(f'orders/{order_id}/')]
    assert [k.rsplit('/', 1)[1] for k in delivered] == ['P1.dat']
    assert stored_objects(site, ws)[delivered[0]] == \
        (site.directory.parent / 'products' / 'P1.dat').read_bytes()
    assert any(i.startswith(f'order-{order_id}-') for i in records(site, collection))
    _each_quota_refused(site, ws, process, scene)
    _bob_sees_none_of_it(site, ws, process, job_id, order_id, delivered[0])


def _each_quota_refused(site, ws: str, process: str, scene_url: str) -> None:
    usage = call(site, 'GET', 'alice', f'/workspaces/{ws}').json()['usage']
    used = usage['usedBytes']
    stored = sum(len(b) for b in stored_objects(site, ws).values())
    documents = sum(len(t.encode()) for _, _, t in records(site, f'workspace-{ws}').values())
    assert used == stored + documents  # the counter is what the bucket and store hold
    # storage bytes
    big = call(site, 'PUT', 'alice', f'/workspaces/{ws}/files/big.bin',
               data=b'x' * (QUOTA - used + 1),
               headers={'Content-Type': 'application/octet-stream'})
    assert big.status_code == 413, big.text
    assert big.headers['Content-Type'].startswith('application/problem+json')
    assert (big.json()['limit'], big.json()['usage']) == (QUOTA, used)
    assert 'big.bin' not in stored_objects(site, ws)
    # active order items: 1 allowed, 2 asked for
    two = oseo.post(site, oseo.submit(oseo.item('a', 'P1') + oseo.item('b', 'P2')),
                    auth=as_('alice'))
    assert two.status_code == 429, two.text
    assert oseo.exception(two) == ('LimitExceeded', 'orderItem')
    assert 'active_order_items' in two.text and 'at most 1' in two.text
    # queued jobs: 1 allowed, behind the only worker
    answers = [execute(site, 'alice', process, scene_url) for _ in range(3)]
    refused = [a for a in answers if a.status_code == 429]
    assert refused and all(a.status_code == 201 for a in answers if a not in refused), \
        [a.status_code for a in answers]
    assert refused[0].json()['quota'] == {'limit': 'queued_jobs', 'allowed': 1, 'used': 1,
                                          'requested': 1}
    for answer in answers:
        if answer.status_code == 201:
            wait_job(site, 'alice', answer.json()['jobID'])


def _bob_sees_none_of_it(site, ws: str, process: str, job_id: str, order_id: str,
                         key: str) -> None:
    def absent(path: str, twin: str, **params) -> None:
        hidden, missing = (call(site, 'GET', 'bob', p, params=params) for p in (path, twin))
        assert hidden.status_code == missing.status_code == 404, (path, hidden.text)

    listed = call(site, 'GET', 'bob', '/workspaces').json()['workspaces']
    assert ws not in {w['id'] for w in listed}
    absent(f'/workspaces/{ws}', '/workspaces/no-such-ws')
    absent(f'/workspaces/{ws}/files/{key}', f'/workspaces/no-such-ws/files/{key}')
    absent(f'/workspaces/{ws}/records', '/workspaces/no-such-ws/records')
    absent(f'/processes/{process}', '/processes/no-such-ws:landcover')
    absent(f'/jobs/{job_id}', f'/jobs/{uuid.uuid4()}')
    absent(f'/collections/workspace-{ws}/items', '/collections/workspace-no-such-ws/items')
    collections = call(site, 'GET', 'bob', '/collections', params={'f': 'json'}).json()
    assert f'workspace-{ws}' not in {c['id'] for c in collections['collections']}
    found = call(site, 'GET', 'bob', '/stac/search', params={'limit': 1000}).json()
    assert not [f for f in found['features'] if f['collection'] == f'workspace-{ws}']
    status = oseo.post(site, oseo.get_status(order_id), auth=as_('bob'))
    assert oseo.exception(status) == ('InvalidOrderIdentifier', 'orderId')

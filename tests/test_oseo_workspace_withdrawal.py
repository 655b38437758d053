"""Workspace deliveries of OSEO orders that must leave the workspace later (issue 18): a
cancelled delivery whose withdrawal the object store refused (the real S3 server stopped)
is withdrawn by the job engine's sweep once the S3 server is back; a server SIGKILLed
mid-delivery leaves, once restarted, no object and no booked byte (the booking commits
with the delivery's plan, and the sweep withdraws the failed item's delivery); an order
cancelled between the registration of its STAC item and the item's completion keeps
nothing. Store on SQLite and PostgreSQL/PostGIS; oracles: the S3 server's directory on
disk, the store's rows read with SQLAlchemy, an admin's recount of the usage."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.support import oseo
from tests.support.auth import as_
from tests.support.cluster import wait_for
from tests.support.s3 import start_s3
from tests.support.s3_gate import S3Gate
from tests.support.workspaces import query, records, start_site, stop_site

USERS = {'alice': ['user'], 'root': ['admin']}
OPTION = 'deliveryWorkspace'
SIDECAR = 'tests.support.sidecar_items.SidecarItemProcessor'  # product, then .sha256
SHA_PUT = (b'PUT /', b'.sha256')  # the second upload of an item


class Site:
    """A server delivering into workspaces on a real S3 server behind a gate (which a test
    stops and restarts); the engine sweeps every second."""

    def __init__(self, directory: Path, store: str):
        products = directory / 'products'
        oseo.make_products(products, ['P1'])
        self.root = directory / 's3root'
        self.s3 = start_s3(self.root)
        self.gate = S3Gate(self.s3.endpoint)
        block = oseo.eoorder_block(products, jobs={'workers': 2,
                                                   'created_lifetime_seconds': 2})
        block['ordering']['collections'][0]['processor'] = SIDECAR
        (directory / 'server').mkdir()
        self.server = start_site(directory / 'server', USERS,
                                 {'default_quota_bytes': 1_000_000, 'personal': False},
                                 store=store, s3=self.gate, **block)

    def restart_s3(self) -> None:
        self.s3 = start_s3(self.root)
        self.gate.upstream = self.s3.endpoint

    def stop(self) -> None:
        self.gate.close()
        stop_site(self.server)
        self.s3.stop()

    def files(self, workspace: str) -> dict[str, int]:
        """{key: size} of the workspace's objects, read on the S3 server's disk."""
        base = self.root / self.server.bucket / 'workspaces' / workspace
        return {p.relative_to(base).as_posix(): p.stat().st_size
                for p in base.rglob('*') if p.is_file()} if base.exists() else {}

    def used(self, workspace: str) -> int:
        """The stored usage of the workspace, read from the store."""
        return query(self.server.store_url, 'SELECT used_bytes FROM eoorder_workspace '
                     'WHERE id = :w', w=workspace)[0][0] or 0

    def item(self, order_id: str) -> dict:
        row = query(self.server.store_url, 'SELECT status, job_id, files_removed FROM '
                    'eoorder_order_item WHERE order_id = :o', o=order_id)[0]
        return {'status': row[0], 'job_id': row[1], 'files_removed': bool(row[2])}


@pytest.fixture(scope='module', params=['sqlite', 'postgresql'])
def site(request, tmp_path_factory):
    site = Site(tmp_path_factory.mktemp(f'withdrawal-{request.param}'), request.param)
    yield site
    site.stop()


def recounted(site: Site, workspace: str) -> int:
    reply = requests.get(f'{site.server.url}/workspaces/{workspace}', auth=as_('root'),
                         params={'refresh': 'true'}, timeout=60)
    assert reply.status_code == 200, reply.text
    return reply.json()['usage']['usedBytes']


def order_held(site: Site, *patterns: bytes) -> tuple[str, str]:
    """Order P1 into a fresh workspace, its upload holding `patterns` held by the gate;
    (workspace, order id) once held."""
    workspace = f'wd-{uuid.uuid4().hex[:8]}'
    reply = requests.post(f'{site.server.url}/workspaces', auth=as_('alice'), timeout=30,
                          json={'id': workspace})
    assert reply.status_code == 201, reply.text
    site.gate.hold(*patterns)
    order_id = oseo.order_id(site.server, oseo.submit(oseo.item('i1', 'P1'), order_options=(
        f'<{OPTION}>{workspace}</{OPTION}>')), auth=as_('alice'))
    assert site.gate.held.wait(120), 'the delivery never reached the S3 server: ' + \
        site.server.log()[-3000:]
    return workspace, order_id


def left_nothing(site: Site, workspace: str) -> None:
    """Nothing of the delivery stays: no object, no record, no booked byte."""
    wait_for(lambda: site.files(workspace) == {} or None, 60, 0.2, 'objects withdrawn')
    assert records(site.server, f'workspace-{workspace}') == {}
    wait_for(lambda: site.used(workspace) == 0 or None, 60, 0.2, 'booking given back')
    assert recounted(site, workspace) == 0


def test_cancel_while_the_object_store_is_down_is_withdrawn_once_it_is_back(site):
    workspace, order_id = order_held(site, *SHA_PUT)
    (key,) = site.files(workspace)  # the product is stored, its checksum is held
    assert key.startswith(f'orders/{order_id}/') and key.endswith('/P1.dat'), key
    site.s3.stop()
    cancelled = oseo.post(site.server, oseo.cancel(order_id), auth=as_('alice'))
    assert cancelled.status_code == 200, cancelled.text
    site.gate.release(cut=True)
    wait_for(lambda: site.item(order_id)['status'] == 'Cancelled' or None, 60, 0.2,
             'item cancelled')
    # the S3 server is down: the delivered product and its booking are still there
    assert [k.rsplit('/', 1)[1] for k in site.files(workspace)] == ['P1.dat']
    assert site.used(workspace) > 0 and not site.item(order_id)['files_removed']
    site.restart_s3()
    left_nothing(site, workspace)
    assert site.item(order_id)['files_removed']


def test_server_killed_mid_delivery_leaves_no_booking(site):
    workspace, order_id = order_held(site, *SHA_PUT)
    assert site.used(workspace) > 0  # booked with the plan, for both files
    site.server.kill()
    site.gate.release(cut=True)  # the held upload never reaches the S3 server
    site.server.start()
    wait_for(lambda: site.item(order_id)['status'] == 'Failed' or None, 120, 0.2,
             'item failed by recovery')
    left_nothing(site, workspace)
    root = oseo.payload(oseo.post(site.server, oseo.get_status(order_id),
                                  auth=as_('alice')))
    info = root.findtext('.//oseo:orderItem/oseo:orderItemStatusInfo/oseo:status',
                         namespaces=oseo.NS)
    assert info == 'Failed'


# -- cancelled between the registration and the completion -------------------------------

@pytest.fixture(scope='module')
def pg_site(tmp_path_factory):
    site = Site(tmp_path_factory.mktemp('withdrawal-between'), 'postgresql')
    yield site
    site.stop()


def test_cancel_between_registration_and_completion(pg_site):
    """The worker is held after it registered the STAC item and before it completes the
    item by a lock the test takes on the job's row (its progress report waits there); the
    order is cancelled then; once let go, nothing of the delivery stays."""
    site = pg_site
    workspace, order_id = order_held(site, *SHA_PUT)
    job_id = site.item(order_id)['job_id']
    engine = create_engine(site.server.store_url)
    canceller = None
    try:
        with engine.connect() as db:
            db.begin()
            db.execute(text('SELECT id FROM eoorder_job WHERE id = :j FOR UPDATE'),
                       {'j': job_id})
            site.gate.release()
            wait_for(lambda: records(site.server, f'workspace-{workspace}') or None, 60, 0.1,
                     'the STAC item registered')
            assert site.item(order_id)['status'] == 'InProduction'  # not completed yet
            answers: list = []
            canceller = threading.Thread(target=lambda: answers.append(oseo.post(
                site.server, oseo.cancel(order_id), auth=as_('alice'))))
            canceller.start()
            wait_for(lambda: site.item(order_id)['status'] == 'Cancelled' or None, 60, 0.1,
                     'the item cancelled')
            db.commit()
    finally:
        engine.dispose()
    canceller.join(120)
    assert answers and answers[0].status_code == 200, answers
    left_nothing(site, workspace)
    assert site.item(order_id)['status'] == 'Cancelled'

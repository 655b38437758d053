"""No phantom workspace usage after a crash (issue #18): the bytes a stage-out or an upload
booked are recorded with the booking (`eoorder_workspace_booking`) and given back exactly
when the server is SIGKILLed mid-write, so the stored usage equals what an admin's
recount finds without one (and a recount during a stage-out counts it by its booking).
Real processes killed, a real S3 server (`rclone serve s3`) behind a relay that holds the
stage-out mid-upload, the store on SQLite and on PostgreSQL. Oracles: the S3 server's
directory on disk (the files' sizes), and the store's rows read with SQLAlchemy (not
through the API)."""

from __future__ import annotations

import time

import pytest
import requests
from sqlalchemy import create_engine, text

from pygeoapi_eoorder.config import load
from pygeoapi_eoorder.workspaces import make_storage, uploads
from tests.support.auth import as_
from tests.support.cluster import wait_for
from tests.support.workspaces import put_file, scene
from tests.test_workspace_reliability import (STAC_PUT, Site, ended, held, job_keys,
                                              landcover_site,
                                              personal, start_upload, submit)

__all__ = ['scene']


@pytest.fixture(scope='module', params=['sqlite', 'postgresql'])
def site(request, tmp_path_factory):
    site = landcover_site(tmp_path_factory.mktemp(f'bookings-{request.param}'), request.param)
    yield site
    site.stop()


def query(site: Site, sql: str, **params) -> list:
    engine = create_engine(site.store_url)
    try:
        with engine.connect() as db:
            return [tuple(row) for row in db.execute(text(sql), params)]
    finally:
        engine.dispose()


def stored_usage(site: Site, workspace: str) -> int:
    return query(site, 'SELECT used_bytes FROM eoorder_workspace WHERE id = :w',
                 w=workspace)[0][0]


def open_bookings(site: Site, workspace: str) -> list:
    return query(site, 'SELECT purpose, subject, bytes FROM eoorder_workspace_booking '
                 'WHERE workspace = :w', w=workspace)


def recounted(site: Site, workspace: str) -> int:
    """The usage an admin's recount finds (it lists the storage)."""
    reply = requests.get(f'{site.server.url}/workspaces/{workspace}', auth=as_('root'),
                         params={'refresh': 'true'}, timeout=60)
    assert reply.status_code == 200, reply.text
    return reply.json()['usage']['usedBytes']


def put(site: Site, user: str, workspace: str, key: str, body: bytes) -> None:
    put_file(site.server.url, user, workspace, key, body)


def assert_exact(site: Site, workspace: str) -> None:
    """Once no booking is open, the stored usage is what the storage holds (no record is
    registered in these workspaces), and what a recount finds."""
    wait_for(lambda: open_bookings(site, workspace) == [] or None, 60, 0.2,
             'the open bookings given back')
    on_disk = sum(site.files(workspace).values())
    assert site.records(workspace) == []
    assert stored_usage(site, workspace) == on_disk
    assert recounted(site, workspace) == on_disk
    assert stored_usage(site, workspace) == on_disk


def test_job_killed_mid_stage_out_leaves_no_booked_bytes(site, scene):
    workspace = personal(site.server, 'hugo')
    put(site, 'hugo', workspace, 'kept.bin', b'k' * 1234)
    site.gate.hold(*STAC_PUT)  # the first output is stored, the second one held
    job_id = submit(site.server, 'hugo', scene)
    held(site)
    files = site.files(workspace)
    assert job_keys(files, job_id) == {f'jobs/{job_id}/classification'}
    [(purpose, subject, booked)] = open_bookings(site, workspace)
    assert (purpose, subject) == ('job', job_id)
    assert booked > files[f'jobs/{job_id}/classification']  # booked for every output
    assert stored_usage(site, workspace) == 1234 + booked
    assert recounted(site, workspace) == 1234 + booked  # the area counts by its booking
    site.server.kill()
    site.gate.release(cut=True)  # the held request never reaches the S3 server
    site.server.start()
    job = ended(site.server, 'hugo', job_id)
    assert job['status'] == 'failed' and 'interrupted' in job['message'], job
    assert_exact(site, workspace)
    assert site.files(workspace) == {'kept.bin': 1234}


def start_cut_upload(site: Site, user: str, workspace: str, key: str, size: int):
    sock = start_upload(site.server, user, workspace, key, size)
    wait_for(lambda: any(row[1] == key for row in open_bookings(site, workspace)) or None,
             30, 0.05, f'the booking of {key}')
    return sock


def test_uploads_cut_by_a_crash_leave_no_booked_bytes(site):
    workspace = personal(site.server, 'ivan')
    put(site, 'ivan', workspace, 'small.bin', b's' * 500)
    put(site, 'ivan', workspace, 'other.bin', b'o' * 700)
    new = start_cut_upload(site, 'ivan', workspace, 'big.bin', 4_000_000)
    replacing = start_cut_upload(site, 'ivan', workspace, 'small.bin', 3_000_000)
    assert sorted(open_bookings(site, workspace)) == [
        ('upload', 'big.bin', 4_000_000), ('upload', 'small.bin', 3_000_000 - 500)]
    assert stored_usage(site, workspace) == 1200 + 4_000_000 + 3_000_000 - 500
    site.server.kill()
    new.close()
    replacing.close()
    site.server.start()
    assert_exact(site, workspace)
    assert site.files(workspace) == {'small.bin': 500, 'other.bin': 700}
    put(site, 'ivan', workspace, 'small.bin', b'n' * 900)  # settled uploads stay exact
    assert open_bookings(site, workspace) == []
    assert stored_usage(site, workspace) == 1600 == recounted(site, workspace)


def sweep(site: Site) -> int:
    """The job engine's sweep of upload bookings, run here: on the server's host."""
    _, settings = load(site.server.config)
    return uploads.sweep_uploads(None, settings)


def finish_upload(sock, size: int) -> bytes:
    """Send the rest of an upload `start_upload` began; the server's answer."""
    sock.sendall(b'u' * (size - size // 2))
    answer = b''
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    return answer


def test_an_upload_under_way_keeps_its_booking_however_often_swept(site):
    workspace = personal(site.server, 'carol')
    size = 2_000_000
    sock = start_cut_upload(site, 'carol', workspace, 'slow.bin', size)
    for _ in range(3):
        assert sweep(site) == 0
    assert open_bookings(site, workspace) == [('upload', 'slow.bin', size)]
    assert stored_usage(site, workspace) == size
    assert finish_upload(sock, size).startswith(b'HTTP/1.1 201')
    assert_exact(site, workspace)
    assert site.files(workspace) == {'slow.bin': size}


def test_an_upload_cut_by_a_crash_is_given_back_by_the_sweep(site):
    """Its web worker is gone, and no server start gave its booking back: the sweep does."""
    workspace = personal(site.server, 'dave')
    put(site, 'dave', workspace, 'kept.bin', b'k' * 300)
    sock = start_cut_upload(site, 'dave', workspace, 'cut.bin', 3_000_000)
    site.server.kill()  # its job engine too: nothing else sweeps meanwhile
    sock.close()
    try:
        assert open_bookings(site, workspace) == [('upload', 'cut.bin', 3_000_000)]
        assert sweep(site) == 1
        assert open_bookings(site, workspace) == []
        assert stored_usage(site, workspace) == 300
        assert site.files(workspace) == {'kept.bin': 300}
        assert sweep(site) == 0
    finally:
        site.server.start()
    assert_exact(site, workspace)


def test_a_booking_opened_on_another_host_goes_back_whole_after_the_lifetime(site, tmp_path):
    """Its lock is not visible here: its age decides. A writer still there books what it
    kept as it ends, so the usage is exact either way."""
    workspace = personal(site.server, 'erin')
    size = 2_000_000
    sock = start_cut_upload(site, 'erin', workspace, 'far.bin', size)
    _, settings = load(site.server.config)
    storage = make_storage(settings.block['workspaces']['storage'], settings.data_dir)
    elsewhere = uploads.UploadLocks(tmp_path / 'another-host')
    assert uploads.give_back_abandoned(site.store_url, storage, elsewhere, 3600) == 0
    assert open_bookings(site, workspace) == [('upload', 'far.bin', size)]
    time.sleep(1.5)
    assert uploads.give_back_abandoned(site.store_url, storage, elsewhere, 1) == 1
    assert open_bookings(site, workspace) == [] and stored_usage(site, workspace) == 0
    assert finish_upload(sock, size).startswith(b'HTTP/1.1 201')
    assert_exact(site, workspace)
    assert site.files(workspace) == {'far.bin': size}

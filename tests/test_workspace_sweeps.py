"""The job engine's sweep of stage-out bookings (`workspaces.failed_jobs.sweep_bookings`)
and requeued jobs' bookings, attacked end to end: a worker process SIGKILLed mid
stage-out while the object store is down (its recovery cannot remove the area: the sweep
does, once the store is back), a job dismissed mid stage-out, a job still staging out
(its booking must stay, however often the engine sweeps), and an idempotent job requeued
after its worker died (its first attempt's booking must not count with the second's).

A real server whose supervisor sweeps every second, a real S3 server (`rclone serve s3`)
behind a relay that holds the stage-out mid-upload, the store on SQLite and on
PostgreSQL. Oracles: the bytes in the S3 server's directory on disk and the store's rows
read with SQL, against the usage `GET /workspaces/{id}` answers."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest
import requests
import yaml

from pygeoapi_eoorder.config import load
from pygeoapi_eoorder.workspaces import job_areas
from pygeoapi_eoorder.workspaces.failed_jobs import sweep_bookings
from tests.support.auth import as_
from tests.support.cluster import wait_for
from tests.support.workspaces import put_file, query, scene
from tests.test_workspace_reliability import (PACKAGES, STAC_PUT, Site, ended, held,
                                              job_keys, landcover_site, personal, submit)

__all__ = ['scene']
AGAIN = 'landcover-again'  # the landcover package, idempotent: requeued when its worker dies
SWEEP_SECONDS = 1.0
CSV_PUT = (b'PUT /', b'/classification ')  # the classification's upload


def sweeping_site(directory, store: str) -> Site:
    """A landcover site whose supervisor sweeps every `SWEEP_SECONDS` (half the created
    jobs' lifetime), with an idempotent copy of the package deployed too."""
    site = landcover_site(directory, store)
    site.server.stop()
    config = yaml.safe_load(site.server.config.read_text())
    config['eoorder'].setdefault('jobs', {})['created_lifetime_seconds'] = 2 * SWEEP_SECONDS
    site.server.config.write_text(yaml.safe_dump(config))
    site.server.start()
    package = json.loads((PACKAGES / 'landcover.ogcapppkg.json').read_text())
    package['processDescription'].update(id=AGAIN, idempotent=True)
    reply = requests.post(f'{site.server.url}/processes', auth=as_('alice'), timeout=30,
                          json=package, headers={'Content-Type': 'application/ogcapppkg+json'})
    assert reply.status_code == 201, reply.text
    return site


@pytest.fixture(scope='module', params=['sqlite', 'postgresql'])
def site(request, tmp_path_factory):
    site = sweeping_site(tmp_path_factory.mktemp(f'sweeps-{request.param}'), request.param)
    yield site
    site.stop()


@pytest.fixture(autouse=True)
def gate_open(site):
    """Whatever a test left held or stopped is let go before the next one."""
    yield
    site.gate.release(cut=True)
    if site.s3.process.poll() is not None:
        site.restart_s3()


def rows(site: Site, sql: str, **params) -> list[tuple]:
    return query(site.store_url, sql, **params)


def open_bookings(site: Site, workspace: str) -> list[tuple]:
    return rows(site, 'SELECT purpose, subject, bytes FROM eoorder_workspace_booking '
                'WHERE workspace = :w', w=workspace)


def booking_ids(site: Site, workspace: str) -> set[str]:
    return {r[0] for r in rows(site, 'SELECT id FROM eoorder_workspace_booking WHERE '
                                     'workspace = :w', w=workspace)}


def record_bytes(site: Site, workspace: str) -> int:
    """The record documents' bytes, as the quota counts them (their JSON text)."""
    return sum(len(doc) for (doc,) in rows(
        site, 'SELECT CAST(document AS TEXT) FROM eoorder_record WHERE collection = :c',
        c=f'workspace-{workspace}'))


def used(site: Site, user: str, workspace: str) -> int:
    """The stored usage the API answers (no recount)."""
    reply = requests.get(f'{site.server.url}/workspaces/{workspace}', auth=as_(user),
                         timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()['usage']['usedBytes']


def on_disk(site: Site, workspace: str) -> int:
    """Bytes of the workspace's files in the S3 server's directory, plus its records."""
    return sum(site.files(workspace).values()) + record_bytes(site, workspace)


def put(site: Site, user: str, workspace: str, key: str, body: bytes) -> None:
    put_file(site.server.url, user, workspace, key, body)


def job_row(site: Site, job_id: str) -> tuple:
    [row] = rows(site, 'SELECT status, attempts, worker FROM eoorder_job WHERE id = :j',
                 j=job_id)
    return row


def kill_worker(site: Site, job_id: str) -> str:
    """SIGKILL the worker process running the job (only it); its tag."""
    status, _, worker = job_row(site, job_id)
    assert status == 'running' and worker, (status, worker)
    os.kill(int(worker.rsplit(':', 1)[1]), signal.SIGKILL)
    return worker


def sweep_now(site: Site) -> int:
    """One sweep in this process, over the server's own configuration."""
    _, settings = load(site.server.config)
    return sweep_bookings(None, settings)


def staging_out(site: Site, user: str, workspace: str, process: str, scene_url: str):
    """A job of `user` held mid stage-out (its first output stored, the second held): its
    id and the bytes it booked, checked against the usage."""
    before = used(site, user, workspace)
    site.gate.hold(*STAC_PUT)
    job_id = submit_to(site, user, process, scene_url)
    held(site)
    [(purpose, subject, booked)] = open_bookings(site, workspace)
    assert (purpose, subject) == ('job', job_id)
    stored = job_keys(site.files(workspace), job_id)
    assert stored == {f'jobs/{job_id}/classification'}, stored
    assert used(site, user, workspace) == before + booked
    return job_id, booked


def submit_to(site: Site, user: str, process: str, scene_url: str,
              outputs: dict | None = None) -> str:
    if process == 'landcover' and outputs is None:
        return submit(site.server, user, scene_url)
    reply = requests.post(f'{site.server.url}/processes/{process}/execution', auth=as_(user),
                          timeout=60, headers={'Prefer': 'respond-async'},
                          json={'inputs': {'source': {'href': scene_url},
                                           'aoi': '5.5,50.1,6.25,51', 'epsg': 32631},
                                'outputs': outputs or {}})
    assert reply.status_code == 201, reply.text
    return reply.json()['jobID']


def given_back(site: Site, workspace: str) -> None:
    wait_for(lambda: open_bookings(site, workspace) == [] or None, 60, 0.2,
             'the open booking given back by a sweep')


def test_killed_worker_s_booking_is_given_back_once_the_store_is_back(site, scene):
    workspace = personal(site.server, 'carol')
    put(site, 'carol', workspace, 'kept.bin', b'k' * 1234)
    job_id, booked = staging_out(site, 'carol', workspace, 'landcover', scene)
    site.s3.stop()  # recovery cannot remove the area: only a later sweep can
    kill_worker(site, job_id)
    site.gate.release(cut=True)
    job = ended(site.server, 'carol', job_id)
    assert job['status'] == 'failed', job
    assert 'worker process died (signal 9)' in job['message'], job
    time.sleep(3 * SWEEP_SECONDS)  # sweeps against the stopped S3 server change nothing
    assert open_bookings(site, workspace) == [('job', job_id, booked)]
    assert used(site, 'carol', workspace) == 1234 + booked
    site.restart_s3()
    given_back(site, workspace)
    assert site.files(workspace) == {'kept.bin': 1234}
    assert used(site, 'carol', workspace) == 1234 == on_disk(site, workspace)


def test_dismissed_job_s_booking_is_given_back(site, scene):
    workspace = personal(site.server, 'dave')
    put(site, 'dave', workspace, 'kept.bin', b'd' * 4321)
    job_id, _ = staging_out(site, 'dave', workspace, 'landcover', scene)
    reply = requests.delete(f'{site.server.url}/jobs/{job_id}', auth=as_('dave'), timeout=60)
    assert reply.status_code == 200, reply.text
    wait_for(lambda: job_row(site, job_id)[2] is None or None, 30, 0.1,
             'the dismissed job leaving its worker')
    site.gate.release(cut=True)  # the held upload never arrives
    assert job_row(site, job_id)[0] == 'dismissed'
    given_back(site, workspace)
    assert site.files(workspace) == {'kept.bin': 4321}
    assert used(site, 'dave', workspace) == 4321 == on_disk(site, workspace)


def test_booking_of_a_job_still_staging_out_stays(site, scene):
    workspace = personal(site.server, 'erin')
    put(site, 'erin', workspace, 'kept.bin', b'e' * 999)
    job_id, booked = staging_out(site, 'erin', workspace, 'landcover', scene)
    assert sweep_now(site) == 0
    time.sleep(3 * SWEEP_SECONDS)  # and the engine's own sweeps meanwhile
    assert open_bookings(site, workspace) == [('job', job_id, booked)]
    assert f'jobs/{job_id}/classification' in site.files(workspace)
    assert used(site, 'erin', workspace) == 999 + booked
    site.gate.release()
    assert ended(site.server, 'erin', job_id)['status'] == 'successful'
    assert open_bookings(site, workspace) == []
    assert used(site, 'erin', workspace) == on_disk(site, workspace)
    # a sweep that read the booking open just before the job settled it and succeeded
    assert job_areas.ended_jobs(site.store_url, set(), {job_id}) == []
    assert sweep_now(site) == 0
    assert job_keys(site.files(workspace), job_id) >= {f'jobs/{job_id}/classification',
                                                       f'jobs/{job_id}/stac/catalog.json'}
    assert used(site, 'erin', workspace) == on_disk(site, workspace)


def test_requeued_job_counts_one_booking(site, scene):
    """Only the classification (one file, no STAC directory) is asked for: the test is
    about the bookings of the two attempts alone."""
    workspace = personal(site.server, 'frank')
    put(site, 'frank', workspace, 'kept.bin', b'f' * 2468)
    site.gate.hold(*CSV_PUT)
    job_id = submit_to(site, 'frank', AGAIN, scene, {'classification': {}})
    held(site)
    [(purpose, subject, first)] = open_bookings(site, workspace)
    assert (purpose, subject) == ('job', job_id)
    assert used(site, 'frank', workspace) == 2468 + first
    booked_first = booking_ids(site, workspace)
    killed = kill_worker(site, job_id)
    site.gate.cut_and_hold_on()  # the held upload never arrives; the second attempt's
    held(site)                   # is held at the same point
    status, attempts, worker = job_row(site, job_id)
    assert (status, attempts) == ('running', 2) and worker != killed
    assert open_bookings(site, workspace) == [('job', job_id, first)]
    assert booking_ids(site, workspace).isdisjoint(booked_first)  # the first one given back
    assert used(site, 'frank', workspace) == 2468 + first
    assert sweep_now(site) == 0
    site.gate.release()
    job = ended(site.server, 'frank', job_id)
    assert job['status'] == 'successful', job
    assert open_bookings(site, workspace) == []
    assert site.files(workspace) == {'kept.bin': 2468, f'jobs/{job_id}/classification': first}
    assert used(site, 'frank', workspace) == 2468 + first == on_disk(site, workspace)


def test_requeued_job_with_a_stac_output_succeeds(site, scene):
    """The second attempt replaces the STAC directory the first left in its results."""
    workspace = personal(site.server, 'gina')
    job_id, first = staging_out(site, 'gina', workspace, AGAIN, scene)
    kill_worker(site, job_id)
    site.gate.release(cut=True)
    job = ended(site.server, 'gina', job_id)
    assert job['status'] == 'successful', (job.get('message'), job)
    assert open_bookings(site, workspace) == []
    assert used(site, 'gina', workspace) == on_disk(site, workspace)
    assert {r.split('/')[0] for r in site.records(workspace)} == {job_id}


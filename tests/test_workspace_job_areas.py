"""Which jobs' areas a workspace sweep takes, read from a real store (SQLite, PostgreSQL)."""

from __future__ import annotations

import os

import pytest
from sqlalchemy import delete

from pygeoapi_eoorder.jobs.repository import DISMISSED, FAILED, SUCCESSFUL, JobRepository
from pygeoapi_eoorder.store import Job, Store
from pygeoapi_eoorder.workspaces import job_areas
from tests.support.cluster import Database


@pytest.fixture(scope='module')
def pg_url():
    database = Database('eoorder_job_areas').create()
    yield os.environ.get('EOORDER_TEST_POSTGRESQL', database.url)
    database.drop()


@pytest.fixture(params=['sqlite', 'postgresql'])
def jobs(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}" if request.param == 'sqlite' else \
        request.getfixturevalue('pg_url')
    store = Store(url)
    with store.write() as session:
        session.execute(delete(Job))
    yield JobRepository(store)
    store.write_engine.dispose()


def test_areas_of_jobs_dismissed_before_they_succeeded_are_swept(jobs):
    """What a dismissed job's stage-out still wrote after its booking was given back (a
    sweep in another worker) goes with its area; a job dismissed after it succeeded keeps
    what it delivered, as a successful one does; a failed one keeps nothing."""
    def running() -> str:
        job = jobs.add('landcover', job_type='process', inputs={})
        assert jobs.claim_id(job['id'], 'w') is not None
        return job['id']
    cut, delivered, succeeded, failed, held = (running() for _ in range(5))
    assert jobs.transition(cut, DISMISSED)
    for job_id in (delivered, succeeded):
        assert jobs.finish(job_id, SUCCESSFUL, result_file='results/result.json')
    assert jobs.transition(delivered, DISMISSED)
    assert jobs.finish(failed, FAILED, message='no')
    url = jobs.store.url
    found = {cut, delivered, succeeded, failed, held, 'purged-job'}
    assert job_areas.ended_jobs(url, found, set()) == sorted([cut, failed])
    # with a booking open (never one of a job that succeeded: a stage-out settles first):
    # whatever no longer runs and did not succeed
    booked = {cut, succeeded, failed, held, 'purged-job'}
    assert job_areas.ended_jobs(url, set(), booked) == sorted([cut, failed, 'purged-job'])

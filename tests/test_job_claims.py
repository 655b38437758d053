"""A claim moves a queued job to running and, on the local engine, records in the same
statement what the job runs (its provenance's `process`): the worker then starts the job
without a write of its own, and the facts are there while it runs."""

from __future__ import annotations

import json
import time

import pytest
import requests
from sqlalchemy import text

from pygeoapi_eoorder.jobs.repository import JobRepository
from pygeoapi_eoorder.store import get_store
from tests.conftest import TEST_PROCESSES
from tests.support.cluster import Database


@pytest.fixture(params=['sqlite', 'postgresql'])
def store_url(request, tmp_path):
    if request.param == 'sqlite':
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    database = Database('eoorder_claims').create()
    yield database.url
    database.drop()


def _stored_provenance(url: str, job_id: str):
    """The job's provenance column, read with plain SQL (the JSON text parsed)."""
    with get_store(url).write_engine.connect() as connection:
        value = connection.execute(text('SELECT provenance FROM eoorder_job WHERE id = :id'),
                                   {'id': job_id}).scalar()
    return json.loads(value) if isinstance(value, str) else value


def test_a_claim_records_the_provenance_it_is_given_in_the_same_statement(store_url):
    jobs = JobRepository(get_store(store_url))
    job = jobs.add('echo', job_type='process', inputs={})
    facts = {'process': {'id': 'echo', 'kind': 'built-in', 'processor': 'Echo'}}
    claimed = jobs.claim_id(job['id'], 'w1', provenance=facts)
    assert claimed['status'] == 'running' and claimed['worker'] == 'w1'
    assert claimed['provenance'] == facts == _stored_provenance(store_url, job['id'])
    # a second claim (a duplicate delivery) gets nothing and changes nothing
    assert jobs.claim_id(job['id'], 'w2', provenance={'process': {'id': 'other'}}) is None
    assert _stored_provenance(store_url, job['id']) == facts
    # a claim without provenance keeps what the job had
    other = jobs.add('echo', job_type='process', inputs={})
    jobs.record_provenance(other['id'], {'images': [{'reference': 'a:1'}]})
    assert jobs.claim_id(other['id'], 'w1')['provenance'] == {'images': [{'reference': 'a:1'}]}


def test_a_running_jobs_provenance_names_its_process(make_server, tmp_path):
    """While the job runs (held by a file), its PROV document already has the process it
    runs as a prov:Plan with the facts the claim recorded (a built-in: its processor)."""
    server = make_server({'jobs': {'workers': 1}}, {'countdown': TEST_PROCESSES['countdown']})
    hold = tmp_path / 'hold'
    hold.touch()
    reply = requests.post(f'{server.url}/processes/countdown/execution', timeout=30,
                          json={'inputs': {'steps': 0, 'hold_file': str(hold)}},
                          headers={'Prefer': 'respond-async'})
    assert reply.status_code == 201, reply.text
    job_id = reply.json()['jobID']
    deadline = time.monotonic() + 60
    while requests.get(f'{server.url}/jobs/{job_id}', timeout=10).json()['status'] != 'running':
        assert time.monotonic() < deadline
        time.sleep(0.05)
    document = requests.get(f'{server.url}/jobs/{job_id}/prov', timeout=10).json()
    [plan] = [entity for entity in document['entity'].values()
              if entity['prov:type'] == 'prov:Plan']
    assert plan['prov:label'] == 'countdown'
    assert plan['eoorder:kind'] == 'built-in'
    assert plan['eoorder:processor'] == TEST_PROCESSES['countdown']['processor']['name']
    hold.unlink()

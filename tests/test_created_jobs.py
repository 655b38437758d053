"""OGC API - Processes Part 4 jobs kept `created` (issue 15): the execution mode asked for
beside `Prefer: status="created"` is the one the job runs in when `POST /jobs/{id}/results`
starts it (/req/job-management/create-execution-pending), and a job never started is
dismissed after `jobs.created_lifetime_seconds` (default: the retention period).
Status documents are validated against the official Part 1 1.0 statusInfo schema."""

from __future__ import annotations

import time

import pytest
import requests

from .support.ogcapi import validate

LOCKED = 'http://www.opengis.net/def/exceptions/ogcapi-processes-4/1.0/locked'
SLOW = {'steps': 5, 'delay': 0.3}  # at least 1.2 s of work


def _create(server, process: str, prefer: str) -> str:
    reply = requests.post(f'{server.url}/jobs', json={'process': process, 'inputs': SLOW},
                          headers={'Prefer': prefer}, timeout=30)
    assert reply.status_code == 201, reply.text
    assert reply.json()['status'] == 'created'
    assert reply.headers['Preference-Applied'] == 'status="created"'  # and nothing else
    return reply.json()['jobID']


def _start(server, job_id: str) -> dict:
    reply = requests.post(f'{server.url}/jobs/{job_id}/results', timeout=60)
    assert reply.status_code == 200, reply.text
    validate(reply.json(), 'statusInfo.yaml')
    return reply.json()


def test_a_created_job_runs_in_the_mode_asked_when_it_was_created(make_server):
    server = make_server({'jobs': {'workers': 2}})
    # no respond-async, a process that runs synchronously: the start answers when it ends
    synchronous = _create(server, 'countdown', 'status="created"')
    assert _start(server, synchronous)['status'] == 'successful'
    assert server.job(synchronous)['status'] == 'successful'
    # respond-async asked at creation: the start answers at once, the job runs on
    asynchronous = _create(server, 'countdown', 'status="created", respond-async')
    assert _start(server, asynchronous)['status'] in ('accepted', 'running')
    assert server.wait_for(asynchronous)['status'] == 'successful'
    # a process that only runs asynchronously does so even when nothing was asked
    async_only = _create(server, 'countdown-async', 'status="created"')
    assert _start(server, async_only)['status'] in ('accepted', 'running')
    assert server.wait_for(async_only)['status'] == 'successful'


@pytest.mark.parametrize('jobs', [{'created_lifetime_seconds': 1},
                                  {'retention_seconds': 1}],  # the default lifetime
                         ids=['created_lifetime_seconds', 'retention_seconds'])
def test_a_created_job_never_started_is_dismissed_after_its_lifetime(make_server, jobs):
    server = make_server({'jobs': {'workers': 1, **jobs}})
    started = _create(server, 'countdown', 'status="created", respond-async')
    _start(server, started)
    abandoned = _create(server, 'countdown', 'status="created"')
    deadline = time.monotonic() + 20
    while (status := server.job(abandoned))['status'] == 'created':
        if time.monotonic() > deadline:
            pytest.fail(f'a created job outlived its 1 s lifetime: {status}')
        time.sleep(0.2)
    validate(status, 'statusInfo.yaml')
    assert status['status'] == 'dismissed', status
    assert 'never started' in status['message']
    refused = requests.post(f'{server.url}/jobs/{abandoned}/results', timeout=10)
    assert refused.status_code == 423 and refused.json()['type'] == LOCKED, refused.text
    # the job that was started ran to its end; the sweep does not touch it
    assert server.wait_for(started)['status'] == 'successful'
    time.sleep(1.5)
    assert server.job(started)['status'] == 'successful'

"""While a job runs, the cyclic garbage collector passes less often (its passes cost an
openEO graph of the demo ≈ 1 ms); the threshold is the engine's again after the job, and a
local worker collects the job's garbage once the job has ended, before the next job."""

from __future__ import annotations

import gc

import requests

from pygeoapi_eoorder.components import Components
from pygeoapi_eoorder.jobs.worker import JOB_GC_THRESHOLD, run_job
from tests.support.cluster import wait_for

GARBAGE = {'garbage': {'type': 'process',
                       'processor': {'name': 'tests.support.processes.LeavesGarbage'}}}


def test_a_job_runs_with_the_higher_threshold_and_leaves_the_processs_own(make_server,
                                                                          tmp_path):
    server = make_server(None, GARBAGE, start=False)
    runtime = Components.for_config(str(server.config)).runtime()
    jobs = runtime.repo
    job = jobs.add('garbage', job_type='process', inputs={'marker': str(tmp_path / 'm')})
    before = gc.get_threshold()
    assert before[0] < JOB_GC_THRESHOLD  # (Python's default; else the check means nothing)
    assert run_job(runtime, jobs.claim_id(job['id'], 'w'))
    assert gc.get_threshold() == before
    ran = runtime.manager.result(job['id'])[1]
    assert ran == [JOB_GC_THRESHOLD, *before[1:]]


def test_a_local_worker_collects_a_jobs_garbage_when_it_has_ended(make_server, tmp_path):
    server = make_server(None, GARBAGE)
    marker = tmp_path / 'collected'
    job_id = server.submit('garbage', {'marker': str(marker)})
    assert server.wait_for(job_id)['status'] == 'successful'
    ran = requests.get(f'{server.url}/jobs/{job_id}/results', timeout=10).json()
    assert ran == [JOB_GC_THRESHOLD, *gc.get_threshold()[1:]]
    assert wait_for(marker.exists, timeout=10), 'the cycle the job left was not collected'
    assert marker.read_text() == 'collected'

"""Third-party OGC API clients work unchanged against the server."""

import time

import pytest
import requests


def test_owslib_processes_client(server):
    from owslib.ogcapi.processes import Processes
    client = Processes(server.url)
    ids = {p['id'] for p in client.processes()}
    assert {'countdown', 'text'} <= ids
    described = client.process('text')
    assert 'text' in described['inputs']
    result = client.execute('text', inputs={'text': 'eo'}, response='document')
    assert result == {'text': 'EO'}
    started = client.execute('countdown', inputs={'steps': 2}, async_=True)
    job_id = started['jobID']
    assert started['status'] in ('accepted', 'running')
    assert server.wait_for(job_id)['status'] == 'successful'


def test_cuiman_processes_client(server):
    from cuiman import Client
    from gavicore.models import ProcessRequest
    client = Client(api_url=server.url)
    try:
        listed = {p.id for p in client.get_processes().processes}
        assert {'countdown', 'text'} <= listed
        description = client.get_process('countdown')
        assert 'steps' in description.inputs
        # cuiman always expects a created job (201): without a Prefer header the standard
        # runs sync-capable processes synchronously, so it drives an async-only process
        job = client.execute_process('countdown-async', ProcessRequest(inputs={'steps': 3}))
        job_id = job.jobID
        deadline = time.monotonic() + 30
        while (status := client.get_job(job_id).status.value) not in ('successful', 'failed'):
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
        assert status == 'successful'
        assert job_id in {j.jobID for j in client.get_jobs().jobs}
        results = client.get_job_results(job_id)
        assert results.model_dump(mode='json') == {'id': 'count', 'value': 3}  # 3 steps
        long = client.execute_process('countdown-async', ProcessRequest(
            inputs={'steps': 200, 'delay': 0.1}))
        server.wait_for(long.jobID, ('running',))
        assert client.dismiss_job(long.jobID).status.value == 'dismissed'
    finally:
        client.close()

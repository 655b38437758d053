"""pygeoapi's process-manager interface on our Manager, against a running job engine."""

import pytest
from pygeoapi.process.base import JobNotFoundError, JobResultNotFoundError
from pygeoapi.process.manager.base import get_manager
from pygeoapi.util import JobStatus, RequestedProcessExecutionMode

from pygeoapi_eoorder import config as eoconfig


@pytest.fixture
def manager(make_server, monkeypatch):
    server = make_server()
    monkeypatch.setenv('EOORDER_SUPERVISOR', 'external')  # the server's engine runs the jobs
    config, _ = eoconfig.load(server.config)
    return get_manager(config)


def test_execute_process_async_and_sync(manager):
    job_id, mime, outputs, status, headers = manager.execute_process(
        'countdown', {'steps': 1}, RequestedProcessExecutionMode.respond_async)
    assert status == JobStatus.accepted and outputs is None
    assert headers['Preference-Applied'] == 'respond-async'
    assert manager.wait(job_id, 30)['status'] == 'successful'
    assert manager.get_job(job_id)['status'] == 'successful'
    assert manager.get_job_result(job_id) == ('application/json', {'id': 'count', 'value': 1})

    job_id, mime, outputs, status, _ = manager.execute_process('text', {'text': 'eo'})
    assert (mime, outputs, status) == ('text/plain', b'EO', JobStatus.successful)


def test_jobs_listing_and_deletion(manager):
    job_id, *_ = manager.execute_process('countdown', {'steps': 1})
    listing = manager.get_jobs(status=JobStatus.successful)
    assert job_id in {job['identifier'] for job in listing['jobs']}
    assert listing['numberMatched'] >= 1
    assert manager.delete_job(job_id)
    assert manager.get_job(job_id)['status'] == 'dismissed'
    with pytest.raises(JobResultNotFoundError):
        manager.get_job_result(job_id)
    with pytest.raises(JobNotFoundError):
        manager.get_job('nope')

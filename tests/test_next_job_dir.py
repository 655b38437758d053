"""A local worker makes its next job's directory while idle and the job takes it; a job
run again keeps its own directory and log; the supervisor removes the prepared directory
of a worker it replaces, and at its start those a crash left."""

from __future__ import annotations

import os
import time

import requests

from pygeoapi_eoorder.components import Components
from pygeoapi_eoorder.jobs.next_job_dir import NextJobDir, prepared_path, remove_prepared
from pygeoapi_eoorder.jobs.worker import run_job
from tests.conftest import TEST_PROCESSES
from tests.support.cluster import wait_for


def test_a_prepared_directory_becomes_the_jobs_with_its_log_open(tmp_path):
    jobs_dir = tmp_path / 'jobs'
    prepared = NextJobDir(jobs_dir)
    prepared.prepare()
    assert sorted(p.name for p in prepared.path.iterdir()) == ['job.log', 'results', 'work']
    assert prepared.path == jobs_dir / f'.next-{os.getpid()}'
    log_fd = prepared.take(jobs_dir / 'a')
    assert not prepared.path.exists() and (jobs_dir / 'a' / 'results').is_dir()
    os.write(log_fd, b'line\n')
    os.close(log_fd)
    assert (jobs_dir / 'a' / 'job.log').read_text() == 'line\n'
    assert prepared.take(jobs_dir / 'b') is None  # (nothing prepared since)
    prepared.prepare()
    (jobs_dir / 'c').mkdir()
    (jobs_dir / 'c' / 'job.log').write_text('first attempt\n')
    assert prepared.take(jobs_dir / 'c') is None  # it exists: the job keeps its own
    assert (jobs_dir / 'c' / 'job.log').read_text() == 'first attempt\n'
    assert prepared.path.is_dir() and prepared.take(jobs_dir / 'd') is not None


def test_removing_prepared_directories_of_one_worker_or_all(tmp_path):
    for pid in (11, 12):
        (prepared_path(tmp_path, pid) / 'work').mkdir(parents=True)
    (tmp_path / 'a-job').mkdir()
    remove_prepared(tmp_path, 11)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['.next-12', 'a-job']
    remove_prepared(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ['a-job']
    remove_prepared(tmp_path / 'missing')  # (no jobs folder yet)


def test_a_job_whose_directory_exists_keeps_it_and_the_prepared_one_stays(make_server):
    """A job run again (requeued after its worker died) has its directory and log from
    the first attempt: it appends there, the prepared directory waits for the next job."""
    server = make_server(None, {'countdown': TEST_PROCESSES['countdown']}, start=False)
    runtime = Components.for_config(str(server.config)).runtime()
    jobs, prepared = runtime.repo, NextJobDir(runtime.settings.jobs_dir)
    first, again = (jobs.add('countdown', job_type='process', inputs={'steps': 0})
                    for _ in range(2))
    prepared.prepare()
    assert run_job(runtime, jobs.claim_id(first['id'], 'w'), prepared)
    log = runtime.settings.job_dir(first['id']) / 'job.log'
    assert 'started (attempt 1)' in log.read_text() and not prepared.path.exists()
    earlier = runtime.settings.job_dir(again['id']) / 'job.log'
    earlier.parent.mkdir(parents=True)
    earlier.write_text('the first attempt\n')
    prepared.prepare()
    assert run_job(runtime, jobs.claim_id(again['id'], 'w'), prepared)
    assert earlier.read_text().startswith('the first attempt\n')
    assert 'started (attempt 1)' in earlier.read_text()
    assert jobs.get(again['id'])['status'] == 'successful'
    assert (prepared.path / 'job.log').read_text() == ''  # kept for the next job


def _prepared(server) -> set[str]:
    return {p.name for p in (server.data_dir / 'jobs').glob('.next-*')}


def test_workers_prepare_and_the_supervisor_removes_what_it_replaces(make_server, tmp_path):
    server = make_server({'jobs': {'workers': 1}}, {'countdown': TEST_PROCESSES['countdown']},
                         start=False)
    stale = server.data_dir / 'jobs' / '.next-4194304'
    (stale / 'work').mkdir(parents=True)
    server.start()
    first = wait_for(lambda: _prepared(server) - {stale.name}, 30, what='a prepared directory')
    assert not stale.exists(), 'the supervisor kept what a crash left'
    hold = tmp_path / 'hold'
    hold.write_text('')
    job_id = server.submit('countdown', {'steps': 0, 'hold_file': str(hold)})
    server.wait_for(job_id, ('running',))
    log = server.data_dir / 'jobs' / job_id / 'job.log'
    # `running` once claimed; the worker then moves its prepared directory in and logs
    wait_for(lambda: log.is_file() and 'started (attempt 1)' in log.read_text(), 30,
             what='the job started in the prepared directory')
    assert requests.delete(f'{server.url}/jobs/{job_id}', timeout=30).status_code == 200
    assert server.wait_for(job_id)['status'] == 'dismissed'
    replaced = wait_for(lambda: _prepared(server) - first, 30, what="the new worker's")
    time.sleep(0.3)  # (the killed worker's would be gone by now)
    assert _prepared(server) == replaced and len(replaced) == 1

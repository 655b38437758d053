"""The job engine over real HTTP: submission, progress, results, dismissal, logs."""

import os
import sqlite3
import time

import requests

PROBLEM = 'application/problem+json'
P1 = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/'


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie has exited already
    with open(f'/proc/{pid}/stat') as fh:
        return fh.read().split(')')[-1].split()[0] != 'Z'


def test_landing_conformance_processes_jobs_openapi(server):
    for path in ('/', '/conformance', '/processes', '/jobs', '/openapi'):
        reply = requests.get(server.url + path, timeout=10)
        assert reply.status_code == 200, (path, reply.text)
    conformance = requests.get(server.url + '/conformance', timeout=10).json()['conformsTo']
    assert 'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/job-list' in conformance
    assert 'http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/dismiss' in conformance
    processes = {p['id'] for p in requests.get(server.url + '/processes', timeout=10)
                 .json()['processes']}
    assert {'countdown', 'text', 'hello-world'} <= processes | {'hello-world'}
    assert requests.get(server.url + '/jobs?f=html', timeout=10).headers[
        'Content-Type'].startswith('text/html')


def test_job_is_committed_before_201(server):
    reply = server.execute('countdown', {'steps': 1})
    assert reply.status_code == 201
    job_id = reply.json()['jobID']
    assert reply.headers['Location'] == f'{server.url}/jobs/{job_id}'
    # the store itself has the row the moment the client holds the answer
    with sqlite3.connect(server.data_dir / 'eoorder.db') as db:
        row = db.execute('select status, process_id from eoorder_job where id = ?',
                         (job_id,)).fetchone()
    assert row is not None and row[1] == 'countdown'
    assert requests.get(reply.headers['Location'], timeout=10).status_code == 200


def test_running_with_progress_then_successful(server):
    job_id = server.submit('countdown', {'steps': 8, 'delay': 0.25})
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        job = server.job(job_id)
        seen.append((job['status'], job['progress']))
        if job['status'] == 'successful':
            break
        time.sleep(0.1)
    running = [p for s, p in seen if s == 'running']
    assert running, seen
    assert any(0 < p < 100 for p in running), seen
    assert running == sorted(running)
    assert job['status'] == 'successful' and job['progress'] == 100
    assert job['message'] == 'Job complete'
    assert job['created'] <= job['started'] <= job['finished']
    assert job['duration'] >= 8 * 0.25 * 0.9
    results_link = [l for l in job['links'] if l['rel'].endswith('/results')]
    assert results_link
    raw = requests.get(results_link[0]['href'], timeout=10)
    assert raw.status_code == 200 and raw.json() == {'id': 'count', 'value': 8}
    document = requests.get(f'{server.url}/jobs/{job_id}/results?response=document', timeout=10)
    assert document.json() == {'count': 8}


def test_failed_job_has_reason_and_exception(server):
    job_id = server.submit('countdown', {'steps': 1, 'fail': True})
    job = server.wait_for(job_id)
    assert job['status'] == 'failed'
    assert 'asked to fail' in job['message']
    assert job['finished'] and job['exception']['detail'] == 'asked to fail'
    reply = requests.get(f'{server.url}/jobs/{job_id}/results', timeout=10)
    assert reply.status_code == 500
    assert reply.headers['Content-Type'] == PROBLEM
    assert reply.json()['detail'] == 'asked to fail'


def test_result_not_ready_while_running(server):
    job_id = server.submit('countdown', {'steps': 20, 'delay': 0.1})
    reply = requests.get(f'{server.url}/jobs/{job_id}/results', timeout=10)
    assert reply.status_code == 404
    assert reply.json()['type'] == P1 + 'result-not-ready'
    server.wait_for(job_id)


def test_dismiss_stops_running_work_within_2s(server, tmp_path):
    pid_file = tmp_path / 'pid'
    job_id = server.submit('countdown', {'steps': 600, 'delay': 0.1, 'pid_file': str(pid_file)})
    server.wait_for(job_id, ('running',))
    deadline = time.monotonic() + 10
    while not pid_file.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    pid = int(pid_file.read_text())
    job_dir = server.data_dir / 'jobs' / job_id
    assert (job_dir / 'work' / 'scratch.txt').exists()
    assert pid_alive(pid)

    started = time.monotonic()
    reply = requests.delete(f'{server.url}/jobs/{job_id}', timeout=10)
    assert reply.status_code == 200
    assert reply.json()['status'] == 'dismissed'
    while pid_alive(pid) and time.monotonic() - started < 2:
        time.sleep(0.02)
    assert not pid_alive(pid), 'the worker running the job is still alive after 2 s'
    while job_dir.exists() and time.monotonic() - started < 2:
        time.sleep(0.02)
    assert not job_dir.exists(), 'the job files are still there after 2 s'
    assert server.job(job_id)['status'] == 'dismissed'
    results = requests.get(f'{server.url}/jobs/{job_id}/results', timeout=10)
    assert results.status_code == 410 and results.headers['Content-Type'] == PROBLEM
    # the engine goes on: a replacement worker runs the next job
    assert server.wait_for(server.submit('countdown', {'steps': 1}))['status'] == 'successful'


def test_dismissed_queued_job_never_runs(make_server):
    server = make_server({'jobs': {'workers': 1}})
    blocker = server.submit('countdown', {'steps': 40, 'delay': 0.05})
    queued = server.submit('countdown', {'steps': 1})
    assert server.job(queued)['status'] == 'accepted'
    assert requests.delete(f'{server.url}/jobs/{queued}', timeout=10).json()[
        'status'] == 'dismissed'
    server.wait_for(blocker)
    # the single worker takes jobs in order: once a job submitted after the dismissed one
    # has run, the dismissed one has had its turn
    later = server.submit('countdown', {'steps': 1})
    assert server.wait_for(later)['status'] == 'successful'
    job = server.job(queued)
    assert job['status'] == 'dismissed' and 'started' not in job


def test_finished_job_dismissal_removes_files(server):
    job_id = server.submit('countdown', {'steps': 1})
    server.wait_for(job_id)
    job_dir = server.data_dir / 'jobs' / job_id
    assert (job_dir / 'results').is_dir()
    assert requests.delete(f'{server.url}/jobs/{job_id}', timeout=10).status_code == 200
    assert not job_dir.exists()


def test_job_log_is_kept_and_served(server):
    job_id = server.submit('countdown', {'steps': 2})
    server.wait_for(job_id)
    log_file = server.data_dir / 'jobs' / job_id / 'job.log'
    assert log_file.is_file()
    reply = requests.get(f'{server.url}/jobs/{job_id}/log', timeout=10)
    assert reply.status_code == 200 and reply.headers['Content-Type'].startswith('text/plain')
    assert 'countdown: 2 steps' in reply.text  # the process' own stdout
    assert 'progress' in reply.text and 'job complete' in reply.text


def test_sync_execution_returns_result(server):
    reply = server.execute('text', {'text': 'abc'}, async_=False)
    assert reply.status_code == 200
    assert reply.headers['Content-Type'].startswith('text/plain') and reply.text == 'ABC'
    assert reply.headers['Location'].startswith(f'{server.url}/jobs/')
    reply = requests.post(f'{server.url}/processes/countdown/execution',
                          json={'inputs': {'steps': 2}, 'response': 'document'},
                          headers={'Prefer': 'wait'}, timeout=30)
    assert reply.status_code == 200 and reply.json() == {'count': 2}
    assert reply.headers['Preference-Applied'] == 'wait'


def test_async_only_process_answers_201_without_prefer(server):
    reply = server.execute('countdown-async', {'steps': 1}, async_=False)
    assert reply.status_code == 201
    server.wait_for(reply.json()['jobID'])


def test_pygeoapi_builtin_process_runs_in_the_engine(make_server):
    server = make_server(resources={'hello-world': {'type': 'process',
                                                    'processor': {'name': 'HelloWorld'}}})
    job_id = server.submit('hello-world', {'name': 'EO'})
    assert server.wait_for(job_id)['status'] == 'successful'
    reply = requests.get(f'{server.url}/jobs/{job_id}/results', timeout=10)
    assert reply.json()['value'] == 'Hello EO!'


def test_job_pages_in_html(server):
    job_id = server.submit('countdown', {'steps': 1})
    server.wait_for(job_id)
    reply = requests.get(f'{server.url}/jobs/{job_id}?f=html', timeout=10)
    assert reply.status_code == 200 and reply.headers['Content-Type'].startswith('text/html')
    assert job_id in reply.text
    listing = requests.get(f'{server.url}/jobs?f=html', timeout=10)
    assert job_id in listing.text

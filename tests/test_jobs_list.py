"""GET /jobs filters and paging, retention of files, subscriber callbacks."""

import json
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests


@pytest.fixture(scope='module')
def populated(server):
    """Jobs of several processes and outcomes, all finished."""
    ids = {
        'short': [server.submit('countdown', {'steps': 1, 'delay': 0.01}) for _ in range(3)],
        'long': [server.submit('countdown', {'steps': 4, 'delay': 0.4})],
        'failed': [server.submit('countdown', {'steps': 1, 'fail': True})],
        'text': [server.submit('text', {'text': 'x'}) for _ in range(2)],
    }
    for group in ids.values():
        for job_id in group:
            server.wait_for(job_id)
    return ids


def listing(server, **params):
    reply = requests.get(f'{server.url}/jobs', params=params, timeout=10)
    assert reply.status_code == 200, reply.text
    return reply.json()


def ids_of(document):
    return {job['jobID'] for job in document['jobs']}


def test_filter_by_process_status_type(server, populated):
    text_jobs = ids_of(listing(server, processID='text', limit=100))
    assert set(populated['text']) <= text_jobs
    assert not (text_jobs & set(populated['short']))
    failed = listing(server, status='failed', limit=100)
    assert set(populated['failed']) <= ids_of(failed)
    assert all(job['status'] == 'failed' for job in failed['jobs'])
    both = ids_of(listing(server, status='failed,successful', processID='text', limit=100))
    assert both == text_jobs
    assert listing(server, type='process', limit=1)['numberMatched'] >= 7
    assert listing(server, type='harvest')['numberMatched'] == 0


def _durations(server, job_ids) -> dict[str, float]:
    """Each job's run time from its own status document (the oracle of the filters)."""
    seconds = {}
    for job_id in job_ids:
        job = requests.get(f'{server.url}/jobs/{job_id}', timeout=10).json()
        started, finished = (datetime.fromisoformat(job[key].replace('Z', '+00:00'))
                             for key in ('started', 'finished'))
        seconds[job_id] = (finished - started).total_seconds()
    return seconds


def test_filter_by_duration(server, populated):
    durations = _durations(server, populated['short'] + populated['long'])
    assert all(durations[job_id] >= 1.2 for job_id in populated['long'])  # 4 x 0.4 s of work
    slow = ids_of(listing(server, minDuration=1.2, limit=100))
    assert {j for j, d in durations.items() if d >= 1.2} == slow & set(durations)
    fast = ids_of(listing(server, maxDuration=0.5, limit=100))
    assert {j for j, d in durations.items() if d <= 0.5} == fast & set(durations)
    assert not (fast & set(populated['long']))


def test_filter_by_datetime(server, populated):
    now = datetime.now(timezone.utc)
    past = (now - timedelta(days=1)).strftime('%Y-%m-%dT%H:%M:%SZ')
    future = (now + timedelta(days=1)).strftime('%Y-%m-%dT%H:%M:%SZ')
    everything = listing(server, limit=1)['numberMatched']
    assert listing(server, datetime=f'{past}/{future}', limit=1)['numberMatched'] == everything
    assert listing(server, datetime=f'{past}/..', limit=1)['numberMatched'] == everything
    assert listing(server, datetime=f'../{past}', limit=1)['numberMatched'] == 0
    assert listing(server, datetime=f'{future}/..', limit=1)['numberMatched'] == 0


def test_paging_with_next_and_prev(server, populated):
    total = listing(server, limit=1)['numberMatched']
    seen, url, pages = [], f'{server.url}/jobs?limit=2&processID=countdown', 0
    while url and pages < 50:
        page = requests.get(url, timeout=10).json()
        seen.extend(job['jobID'] for job in page['jobs'])
        nxt = [link['href'] for link in page['links'] if link['rel'] == 'next']
        url = nxt[0] if nxt else None
        pages += 1
        if pages == 2:
            assert any(link['rel'] == 'prev' for link in page['links'])
    countdown_total = listing(server, processID='countdown', limit=1)['numberMatched']
    assert len(seen) == len(set(seen)) == countdown_total <= total
    assert 'processID=countdown' in page['links'][0]['href']


@pytest.mark.parametrize('params, fragment', [
    ({'status': 'done'}, 'status'),
    ({'limit': '0'}, 'limit'),
    ({'limit': 'x'}, 'limit'),
    ({'minDuration': 'fast'}, 'minDuration'),
    ({'datetime': 'yesterday'}, 'datetime'),
    ({'datetime': '2026-01-02T00:00:00Z/2025-01-01T00:00:00Z'}, 'datetime'),
    ({'offset': '-1'}, 'offset'),
])
def test_bad_list_parameters_are_400(server, params, fragment):
    reply = requests.get(f'{server.url}/jobs', params=params, timeout=10)
    assert reply.status_code == 400
    assert reply.headers['Content-Type'] == 'application/problem+json'
    assert fragment in reply.json()['detail']


def test_retention_removes_old_job_files(make_server):
    server = make_server({'jobs': {'retention_seconds': 1}})
    job_id = server.submit('countdown', {'steps': 1})
    server.wait_for(job_id)
    job_dir = server.data_dir / 'jobs' / job_id
    deadline = time.monotonic() + 10
    while job_dir.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not job_dir.exists()
    assert server.job(job_id)['status'] == 'successful'
    assert requests.get(f'{server.url}/jobs/{job_id}/results', timeout=10).status_code == 410
    assert requests.get(f'{server.url}/jobs/{job_id}/log', timeout=10).status_code == 410


class Collector(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        Collector.received.append((self.path, json.loads(body or b'null')))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def callback_server():
    Collector.received = []
    httpd = ThreadingHTTPServer(('127.0.0.1', 0), Collector)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()


def wait_received(count, timeout=15):
    deadline = time.monotonic() + timeout
    while len(Collector.received) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    return dict(Collector.received)


def subscriber(base):
    return {'successUri': f'{base}/success', 'inProgressUri': f'{base}/progress',
            'failedUri': f'{base}/failed'}


def test_callbacks_success_and_progress(server, callback_server):
    job_id = server.submit('countdown', {'steps': 2}, subscriber=subscriber(callback_server))
    got = wait_received(2)
    assert got['/progress']['jobID'] == job_id and got['/progress']['status'] == 'running'
    assert got['/success'] == {'count': 2}
    assert '/failed' not in got


def test_callback_on_failure(server, callback_server):
    job_id = server.submit('countdown', {'steps': 1, 'fail': True},
                           subscriber=subscriber(callback_server))
    got = wait_received(2)
    assert got['/failed']['jobID'] == job_id and got['/failed']['status'] == 'failed'
    assert '/success' not in got


def test_callbacks_to_internal_hosts_need_permission(server, callback_server):
    job_id = server.submit('countdown-external', {'steps': 1},
                           subscriber=subscriber(callback_server))
    server.wait_for(job_id)
    # the success callback is the last thing a job does: once its refusal is logged, every
    # callback of the job has been handled
    refused = f'callback to {callback_server}/success refused'
    deadline = time.monotonic() + 15
    log = ''
    while refused not in log and time.monotonic() < deadline:
        log = requests.get(f'{server.url}/jobs/{job_id}/log', timeout=10).text
        time.sleep(0.05)
    assert refused in log and 'internal addresses are not allowed' in log, log
    assert f'callback to {callback_server}/progress refused' in log
    assert Collector.received == []

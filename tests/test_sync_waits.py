"""Synchronous requests hold a web thread until their job ends: past `jobs.max_sync_waits`
(`auto`: an `eoorder serve` web process's threads less two) each protocol refuses one
with 503 and Retry-After in its own error format, before anything is queued, and the
server goes on answering everything else."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from pygeoapi_eoorder.jobs import sync_waits
from tests.support.wps_schemas import assert_valid

from .conftest import TEST_PROCESSES, embedded_default

THREADS = 4  # one web process of 4 threads: `auto` lets 2 requests wait
OWS11 = '{http://www.opengis.net/ows/1.1}'
OWS20 = '{http://www.opengis.net/ows/2.0}'


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    running = embedded_default(tmp_path_factory.mktemp('sync-waits'), {
        'countdown': TEST_PROCESSES['countdown']}, web=(1, THREADS)).start()
    yield running
    running.stop()


def job_count(server) -> int:
    return requests.get(f'{server.url}/jobs', params={'limit': 1000}, timeout=30
                        ).json()['numberMatched']


def execute(server, inputs: dict, **headers) -> requests.Response:
    return requests.post(f'{server.url}/processes/countdown/execution', json={
        'inputs': inputs}, headers=headers, timeout=120)


def test_limits_follow_the_settings():
    assert sync_waits.limit_of('auto', {sync_waits.ENV_WEB_THREADS: '8'}) == 6
    assert sync_waits.limit_of('auto', {sync_waits.ENV_WEB_THREADS: '2'}) == 1
    assert sync_waits.limit_of('auto', {}) is None  # (another WSGI server: not known)
    assert sync_waits.limit_of('none') is None and sync_waits.limit_of(3) == 3


def test_requests_past_the_limit_are_refused_in_each_protocol(server, tmp_path):
    hold = tmp_path / 'hold'
    hold.write_text('')
    jobs_before = job_count(server)
    answers: list[requests.Response] = []
    waiting = [threading.Thread(target=lambda: answers.append(execute(server, {
        'steps': 1, 'hold_file': str(hold)}))) for _ in range(THREADS - 2)]
    for thread in waiting:
        thread.start()
    deadline = time.monotonic() + 30
    while job_count(server) < jobs_before + len(waiting) and time.monotonic() < deadline:
        time.sleep(0.05)
    queued = job_count(server)
    assert queued == jobs_before + len(waiting)
    try:
        refused = execute(server, {'steps': 1})  # OGC API - Processes: problem+json
        assert refused.status_code == 503, refused.text
        assert refused.headers['Content-Type'] == 'application/problem+json'
        assert refused.headers['Retry-After'] == str(sync_waits.RETRY_AFTER)
        assert 'synchronous' in refused.json()['detail']

        openeo = requests.post(f'{server.url}/openeo/1.2/result', timeout=30, json={
            'process': {'process_graph': {'a': {'process_id': 'add', 'arguments': {
                'x': 1, 'y': 2}, 'result': True}}}})
        assert openeo.status_code == 503 and openeo.json()['code'] == 'ServiceUnavailable'
        assert openeo.headers['Retry-After'] == str(sync_waits.RETRY_AFTER)

        wps2 = requests.post(f'{server.url}/wps', headers={'Content-Type': 'application/xml'},
                             timeout=30, data=(
            '<wps:Execute xmlns:wps="http://www.opengis.net/wps/2.0" '
            'xmlns:ows="http://www.opengis.net/ows/2.0" service="WPS" version="2.0.0" '
            'mode="sync" response="document"><ows:Identifier>countdown</ows:Identifier>'
            '<wps:Input id="steps"><wps:Data>1</wps:Data></wps:Input></wps:Execute>'))
        assert wps2.status_code == 503 and wps2.headers['Retry-After']
        report = assert_valid(wps2.content)
        assert report.find(f'{OWS20}Exception').get('exceptionCode') == 'ServerBusy'

        wps1 = requests.get(f'{server.url}/wps', timeout=30, params={
            'service': 'WPS', 'version': '1.0.0', 'request': 'Execute',
            'identifier': 'countdown', 'DataInputs': 'steps=1'})
        assert wps1.status_code == 503, wps1.text
        report = assert_valid(wps1.content, '1.0.0')
        assert report.find(f'{OWS11}Exception').get('exceptionCode') == 'ServerBusy'

        assert job_count(server) == queued  # nothing queued for the refused
        # the rest of the server answers, asynchronous executes too
        assert requests.get(f'{server.url}/', timeout=10).status_code == 200
        later = execute(server, {'steps': 1}, Prefer='respond-async')
        assert later.status_code == 201, later.text
    finally:
        hold.unlink()
        for thread in waiting:
            thread.join(60)
    assert [a.status_code for a in answers] == [200] * len(waiting)
    again = execute(server, {'steps': 2})  # the slots are free again
    assert again.status_code == 200 and again.json()['value'] == 2, again.text

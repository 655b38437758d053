"""Bad requests get OGC problem+json with the right status and type, and lose nothing."""

import http.client
import json
import socket
import sqlite3

import pytest
import requests

PROBLEM = 'application/problem+json'
P1 = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/'
P2 = 'http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/'


def job_count(server):
    with sqlite3.connect(server.data_dir / 'eoorder.db') as db:
        return db.execute('select count(*) from eoorder_job').fetchone()[0]


def post(server, path, data, content_type='application/json'):
    return requests.post(server.url + path, data=data, timeout=10,
                         headers={'Content-Type': content_type, 'Prefer': 'respond-async'})


def assert_problem(reply, status, type_uri, fragment=''):
    assert reply.status_code == status, reply.text
    assert reply.headers['Content-Type'] == PROBLEM
    body = reply.json()
    assert body['type'] == type_uri and body['status'] == status
    assert fragment in body['detail'], body['detail']
    assert 'Traceback' not in reply.text


EXECUTE = '/processes/countdown/execution'


@pytest.mark.parametrize('body, fragment', [
    (b'{"inputs": {', 'not valid JSON'),
    (b'[1, 2]', 'must be a JSON object'),
    (b'{"inputs": [1]}', 'inputs: must be an object'),
    (b'{"inputs": {"steps": "many"}}', 'inputs.steps'),
    (b'{"inputs": {"steps": -1}}', 'inputs.steps'),
    (b'{"inputs": {"stepz": 1}}', 'inputs.stepz: not an input'),
    (b'{"inputs": {}, "outputs": {"nope": {}}}', 'outputs.nope'),
    (b'{"inputs": {}, "response": "pdf"}', 'response'),
    (b'{"inputs": {}, "subscriber": {"failedUri": "http://x"}}', 'subscriber.successUri'),
    (b'{"inputs": {}, "subscriber": {"successUri": "ftp://x"}}', 'subscriber.successUri'),
    (b'{"inputs": {"steps": [1, 2]}}', 'at most 1'),
    (b'{"a":' * 100 + b'1' + b'}' * 100, 'nested deeper'),
    (b'{"inputs": {"steps": 1, "delay": {"value": "\\ud800"}}}', 'surrogate'),
])
def test_malformed_execute_bodies(server, body, fragment):
    before = job_count(server)
    assert_problem(post(server, EXECUTE, body), 400, P1 + 'invalid-parameter', fragment)
    assert job_count(server) == before


def test_missing_required_input(server):
    before = job_count(server)
    assert_problem(post(server, '/processes/text/execution', b'{"inputs": {}}'), 400,
                   P1 + 'invalid-parameter', 'inputs.text: missing')
    assert job_count(server) == before


def test_wrong_media_type(server):
    before = job_count(server)
    assert_problem(post(server, EXECUTE, b'<execute/>', 'application/xml'), 415,
                   P2 + 'unsupported-media-type', 'application/json')
    assert job_count(server) == before


def test_unknown_process(server):
    assert_problem(post(server, '/processes/nope/execution', b'{}'), 404,
                   P1 + 'no-such-process')
    assert_problem(requests.get(server.url + '/processes/nope', timeout=10), 404,
                   P1 + 'no-such-process')


@pytest.mark.parametrize('method, suffix', [
    ('get', ''), ('delete', ''), ('get', '/results'), ('get', '/log')])
def test_unknown_job(server, method, suffix):
    reply = getattr(requests, method)(f'{server.url}/jobs/no-such-id{suffix}', timeout=10)
    assert_problem(reply, 404, P1 + 'no-such-job', 'no-such-id')


def test_unknown_route_and_method(server):
    assert_problem(requests.get(server.url + '/nowhere', timeout=10), 404, 'about:blank')
    assert_problem(requests.put(server.url + '/jobs', timeout=10), 405, 'about:blank')


def test_bad_results_response_parameter(server):
    job_id = server.submit('countdown', {'steps': 1})
    server.wait_for(job_id)
    assert_problem(requests.get(f'{server.url}/jobs/{job_id}/results?response=xml',
                                timeout=10), 400, P1 + 'invalid-parameter', 'response')


def test_empty_body_runs_with_defaults(server):
    """No body at all is an execute request without inputs (all optional here)."""
    reply = post(server, EXECUTE, b'')
    assert reply.status_code == 201
    assert server.wait_for(reply.json()['jobID'])['status'] == 'successful'


def raw(server, request: bytes) -> tuple[int, dict, bytes]:
    """Send `request` as it is; the status, headers and body of the answer."""
    with socket.create_connection(('127.0.0.1', server.port), timeout=10) as sock:
        sock.sendall(request)
        answer = http.client.HTTPResponse(sock)
        answer.begin()
        return answer.status, dict(answer.getheaders()), answer.read()


@pytest.mark.parametrize('request_bytes, status', [
    (b'GET /collections?q=' + b'x' * 9000 + b' HTTP/1.1\r\nHost: h\r\n\r\n', 414),
    (b'GET / HTTP/1.1\r\nHost: h\r\nBad Header: x\r\n\r\n', 400),
    (b'GET / HTTP/1.1\r\nHost: h\r\n' + b''.join(b'X-%d: y\r\n' % i for i in range(120))
     + b'\r\n', 431),
    (b'GET / HTTP/9.9\r\nHost: h\r\n\r\n', 400),
])
def test_requests_the_web_server_cannot_read_are_problems_too(server, request_bytes, status):
    """Refused by the web server before the app (gunicorn): problem+json, not a page."""
    answered, headers, body = raw(server, request_bytes)
    assert answered == status, body
    assert headers['Content-Type'] == PROBLEM
    problem = json.loads(body)
    assert problem['status'] == status and problem['detail'] and problem['title']


def test_a_request_line_of_8_kib_is_read(server):
    reply = requests.get(f'{server.url}/collections', params={'q': 'x' * 7000}, timeout=10)
    assert reply.status_code == 200, reply.text[:300]

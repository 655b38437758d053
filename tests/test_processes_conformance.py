"""OGC API - Processes conformance details (issue 15): status documents, the monitor link of
a synchronous answer, the OpenAPI declarations of what the server answers, and Part 2's
exception types. Bodies are validated against the official Part 1 1.0 schemas
(tests/support/ogcapi.py), not by the server's own code."""

from __future__ import annotations

import json
from pathlib import Path

import requests

from .support.ogcapi import validate

PACKAGES = Path(__file__).parent / 'data' / 'packages'
PKG = 'application/ogcapppkg+json'
PROBLEM = 'application/problem+json'
P2 = 'http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/'


def _echo_package(pid: str) -> dict:
    return {'processDescription': {'id': pid, 'version': '1.0.0',
                                   'inputs': {'message': {'schema': {'type': 'string'}}},
                                   'outputs': {'result': {'schema': {'type': 'string'}}}},
            'executionUnit': {'type': 'docker', 'image': 'eoorder-test/echo:1.0'}}


def test_status_documents_omit_unknown_started_and_finished(make_server):
    """The 201 status, the job list and the dismiss answer of a job that never started are
    valid statusInfo documents: no `null` for what is not known yet."""
    server = make_server({'jobs': {'workers': 1}})
    blocker = server.submit('countdown', {'steps': 40, 'delay': 0.05})
    reply = server.execute('countdown', {'steps': 1})
    assert reply.status_code == 201, reply.text
    accepted = reply.json()
    validate(accepted, 'statusInfo.yaml')
    assert accepted['status'] == 'accepted'
    assert 'started' not in accepted and 'finished' not in accepted

    listing = requests.get(f'{server.url}/jobs', timeout=10).json()
    validate(listing, 'jobList.yaml')
    queued = next(job for job in listing['jobs'] if job['jobID'] == accepted['jobID'])
    assert queued['status'] == 'accepted' and 'started' not in queued

    dismissed = requests.delete(f"{server.url}/jobs/{accepted['jobID']}", timeout=10)
    assert dismissed.status_code == 200, dismissed.text
    validate(dismissed.json(), 'statusInfo.yaml')
    assert dismissed.json()['status'] == 'dismissed' and 'started' not in dismissed.json()

    done = server.wait_for(blocker)
    validate(done, 'statusInfo.yaml')
    assert done['created'] <= done['started'] <= done['finished']


def test_synchronous_answer_links_its_job_as_monitor(server):
    reply = server.execute('text', {'text': 'abc'}, async_=False)
    assert reply.status_code == 200, reply.text
    assert reply.text == 'ABC'
    job_url = reply.headers['Location']
    assert reply.links['monitor']['url'] == job_url  # Link: <…/jobs/{id}>; rel="monitor"
    status = requests.get(job_url, timeout=10)
    assert status.status_code == 200
    validate(status.json(), 'statusInfo.yaml')
    assert status.json()['status'] == 'successful'


def test_openapi_declares_what_the_server_answers(server):
    """`limit` of GET /processes is declared (and works); DELETE /jobs/{jobId} declares the
    200 it answers (statusInfo) and no 204 it never sends."""
    document = requests.get(f'{server.url}/openapi', params={'f': 'json'}, timeout=30).json()
    listing = document['paths']['/processes']['get']
    [limit] = [p for p in listing['parameters'] if p.get('name') == 'limit']
    assert limit['in'] == 'query' and limit['schema']['type'] == 'integer'
    processes = requests.get(f'{server.url}/processes', params={'limit': 1}, timeout=10)
    assert processes.status_code == 200 and len(processes.json()['processes']) == 1

    dismiss = document['paths']['/jobs/{jobId}']['delete']['responses']
    assert '204' not in dismiss
    assert dismiss['200']['$ref'].endswith('/responses/Status.yaml')
    job_id = server.submit('countdown', {'steps': 1})
    server.wait_for(job_id)
    answered = requests.delete(f'{server.url}/jobs/{job_id}', timeout=10)
    assert str(answered.status_code) in dismiss
    validate(answered.json(), 'statusInfo.yaml')
    missing = requests.delete(f'{server.url}/jobs/no-such-job', timeout=10)
    assert str(missing.status_code) in dismiss and missing.status_code == 404


def test_deploying_the_id_of_a_builtin_is_immutable_process(server):
    reply = requests.post(f'{server.url}/processes', data=json.dumps(_echo_package('countdown')),
                          headers={'Content-Type': PKG}, timeout=30)
    assert reply.status_code == 403, reply.text
    assert reply.headers['Content-Type'] == PROBLEM
    validate(reply.json(), 'exception.yaml')
    assert reply.json()['type'] == P2 + 'immutable-process'
    assert reply.headers['Location'] == f'{server.url}/processes/countdown'
    # the built-in is untouched: still no package, still runs
    assert requests.get(f'{server.url}/processes/countdown/package',
                        timeout=10).status_code == 404
    job_id = server.submit('countdown', {'steps': 1})
    assert server.wait_for(job_id)['status'] == 'successful'


def test_unknown_workflow_is_workflow_not_found(server):
    for name in ('echo-workflow.cwl', 'echo.cwl'):
        reply = requests.post(f'{server.url}/processes', params={'w': 'unknown'},
                              data=(PACKAGES / name).read_bytes(), timeout=30,
                              headers={'Content-Type': 'application/cwl+yaml'})
        assert reply.status_code == 400, reply.text
        assert reply.headers['Content-Type'] == PROBLEM
        validate(reply.json(), 'exception.yaml')
        assert reply.json()['type'] == P2 + 'workflow-not-found'
        assert "'unknown'" in reply.json()['detail']
    assert requests.get(f'{server.url}/processes/unknown', timeout=10).status_code == 404

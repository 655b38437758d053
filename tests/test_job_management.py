"""OGC API - Processes Part 4 "Job Management" (draft, issue 15 item 2) over HTTP against a
real server with Basic auth: `POST /jobs` (at once, or kept `created`), `PATCH /jobs/{id}`,
`POST /jobs/{id}/results` to start, `/definition`, `/inputs`, and `/prov` as W3C PROV-JSON
(read back with the `prov` package, the W3C PROV reference implementation for Python).

Status documents are validated against the official Part 1 1.0 statusInfo schema and the
Part 4 draft's (which adds `created` and requires `id`); Part 1 1.0's `statusCode` has no
`created`, so a `created` document is checked against 1.0 with its status apart. `/inputs`
is validated against the draft's inputs.yaml (local copies in tests/data)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import docker
import pytest
from prov.model import ProvDocument

from .security.conftest import call, deploy_package, start_secure_server
from .support.ogcapi import validate, validate_part4

PACKAGES = Path(__file__).parent / 'data' / 'packages'
CREATED = {'Prefer': 'status="created"'}
PROBLEM = 'application/problem+json'
P4_TYPE = 'http://www.opengis.net/def/exceptions/ogcapi-processes-4/1.0/'
LOCKED = P4_TYPE + 'locked'  # with 423 Locked (/req/job-management/update-response-locked)
P4 = 'http://www.opengis.net/spec/ogcapi-processes-4/1.0/conf/'


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    server = start_secure_server(tmp_path_factory.mktemp('jm'), jobs={'workers': 2})
    yield server
    server.stop()


def _status(document: dict) -> dict:
    """Validate a statusInfo (Part 4 draft, and Part 1 1.0 with `created` apart)."""
    validate_part4(document, 'statusInfo.yaml')
    assert document['id'] == document['jobID']
    if document['status'] == 'created':
        validate({**document, 'status': 'accepted'}, 'statusInfo.yaml')
    else:
        validate(document, 'statusInfo.yaml')
    return document


def _create(server, user: str, body: dict, headers: dict | None = None):
    return call(server, 'POST', '/jobs', user, json=body, headers=headers or {})


def _wait(server, user: str, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        job = call(server, 'GET', f'/jobs/{job_id}', user).json()
        if job['status'] in ('successful', 'failed', 'dismissed'):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def test_created_job_does_not_run_until_started(server, tmp_path):
    marker = tmp_path / 'ran.pid'
    reply = _create(server, 'alice', {'process': f'{server.url}/processes/countdown',
                                      'inputs': {'steps': 1, 'pid_file': str(marker)}},
                    CREATED)
    assert reply.status_code == 201, reply.text
    job = _status(reply.json())
    assert job['status'] == 'created'
    assert reply.headers['Location'] == f"{server.url}/jobs/{job['jobID']}"
    assert reply.headers['Preference-Applied'] == 'status="created"'

    time.sleep(2)  # the workers poll every quarter second: a queued job would have run
    assert not marker.exists()
    assert _status(call(server, 'GET', f"/jobs/{job['jobID']}", 'alice').json())['status'] \
        == 'created'
    listing = call(server, 'GET', '/jobs', 'alice', params={'limit': 1000}).json()
    validate_part4(listing, 'jobList.yaml')  # `$.jobs[*].id` names the created job
    assert job['jobID'] in {listed['id'] for listed in listing['jobs']}
    for page in (f"/jobs/{job['jobID']}", '/jobs'):
        html = call(server, 'GET', page, 'alice', params={'f': 'html'})
        assert html.status_code == 200 and 'created' in html.text, html.text[-2000:]
    unrun = call(server, 'GET', f"/jobs/{job['jobID']}/prov", 'alice')  # nothing ran yet
    assert unrun.status_code == 200, unrun.text
    assert ProvDocument.deserialize(content=unrun.text, format='json').get_records()
    early = call(server, 'GET', f"/jobs/{job['jobID']}/results", 'alice')
    assert early.status_code == 404 and early.headers['Content-Type'] == PROBLEM, early.text

    started = call(server, 'POST', f"/jobs/{job['jobID']}/results", 'alice')
    assert started.status_code == 200, started.text
    assert _status(started.json())['status'] in ('accepted', 'running', 'successful')
    assert _wait(server, 'alice', job['jobID'])['status'] == 'successful'
    assert marker.exists()
    again = call(server, 'POST', f"/jobs/{job['jobID']}/results", 'alice')
    assert again.status_code == 423 and again.json()['type'] == LOCKED, again.text


def test_post_jobs_executes_at_once_by_id_or_uri(server):
    reply = _create(server, 'alice', {'process': 'countdown', 'inputs': {'steps': 1}},
                    {'Prefer': 'respond-async'})
    assert reply.status_code == 201, reply.text
    assert _status(reply.json())['status'] in ('accepted', 'running', 'successful')
    assert _wait(server, 'alice', reply.json()['jobID'])['status'] == 'successful'

    sync = _create(server, 'alice', {'process': f'{server.url}/processes/countdown',
                                     'inputs': {'steps': 1}, 'response': 'document'},
                   {'Content-Schema': 'https://raw.githubusercontent.com/opengeospatial/ogcapi-'
                    'processes/master/openapi/schemas/processes-workflows/execute-workflows.yaml'})
    assert sync.status_code == 200, sync.text
    assert sync.json() == {'count': 1}
    assert 'rel="monitor"' in sync.headers['Link'] and sync.headers['Location']


def test_patch_updates_a_created_job_and_a_started_one_is_locked(server):
    job_id = _create(server, 'alice', {'process': 'countdown', 'inputs': {'steps': 1}},
                     CREATED).json()['jobID']
    patched = call(server, 'PATCH', f'/jobs/{job_id}', 'alice',
                   json={'inputs': {'steps': 2, 'delay': 0.01}, 'response': 'document'},
                   headers={'Content-Type': 'application/merge-patch+json'})
    assert patched.status_code == 204, patched.text
    definition = call(server, 'GET', f'/jobs/{job_id}/definition', 'alice').json()
    assert definition['process'] == f'{server.url}/processes/countdown'
    assert definition['inputs'] == {'steps': 2, 'delay': 0.01}
    assert definition['response'] == 'document'
    removed = call(server, 'PATCH', f'/jobs/{job_id}', 'alice',
                   json={'inputs': {'delay': None}})  # merge patch: null removes
    assert removed.status_code == 204, removed.text
    inputs = call(server, 'GET', f'/jobs/{job_id}/inputs', 'alice').json()
    validate_part4(inputs, 'inputs.yaml')  # `outputs` is required, even when none was asked
    assert inputs['inputs'] == {'steps': 2} and inputs['outputs'] == {}

    for body, content_type, status in (
            ({'inputs': {'nope': 1}}, 'application/json', 400),
            ({'process': 'text'}, 'application/json', 400),
            ({'colour': 'red'}, 'application/json', 400),
            ('[1, 2', 'application/json', 400),
            ('{"inputs": ' + '{"a": ' * 900 + '1' + '}' * 901, 'application/json', 400),
            ('steps=3', 'application/x-www-form-urlencoded', 415)):
        data = body if isinstance(body, str) else None
        reply = call(server, 'PATCH', f'/jobs/{job_id}', 'alice', data=data,
                     json=None if data is not None else body,
                     headers={'Content-Type': content_type})
        assert reply.status_code == status and reply.headers['Content-Type'] == PROBLEM, \
            (body, reply.text)
    unsupported = call(server, 'PATCH', f'/jobs/{job_id}', 'alice', json={'inputs': {}},
                       headers={'Content-Schema': '<https://example.org/graph.json>'})
    assert unsupported.status_code == 422 and unsupported.json()['type'].endswith(
        '/unsupported-schema'), unsupported.text
    assert call(server, 'GET', f'/jobs/{job_id}/inputs', 'alice').json()['inputs'] \
        == {'steps': 2}

    assert call(server, 'POST', f'/jobs/{job_id}/results', 'alice').status_code == 200
    locked = call(server, 'PATCH', f'/jobs/{job_id}', 'alice', json={'inputs': {'steps': 9}})
    assert locked.status_code == 423, locked.text
    assert locked.json()['type'] == LOCKED
    assert _wait(server, 'alice', job_id)['status'] == 'successful'
    assert call(server, 'GET', f'/jobs/{job_id}/results', 'alice').json() == {'count': 2}


def test_bad_job_definitions_are_refused_and_create_nothing(server):
    before = call(server, 'GET', '/jobs', 'bob', params={'limit': 1}).json()['numberMatched']
    for body, headers, status in (
            ({'inputs': {}}, CREATED, 400),                         # no process
            ({'process': 'no-such'}, CREATED, 404),
            ({'process': 'http://elsewhere.example/processes/countdown'}, CREATED, 400),
            ({'process': 'countdown', 'inputs': {'steps': 'x' * 5, 'nope': 1}}, CREATED, 400),
            ([1, 2], CREATED, 400),
            ({'process': 'countdown', 'inputs': {'nope': 1}}, {}, 400)):
        reply = _create(server, 'bob', body, headers)
        assert reply.status_code == status and reply.headers['Content-Type'] == PROBLEM, \
            (body, reply.text)
    text = call(server, 'POST', '/jobs', 'bob', data='process=countdown',
                headers={'Content-Type': 'text/plain', **CREATED})
    assert text.status_code == 415, text.text
    validate(text.json(), 'exception.yaml')
    assert text.json()['type'] == P4_TYPE + 'unsupported-media-type'
    for simple in ('text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data'):
        # bodies a cross-site page sends without a preflight never run anything
        forged = call(server, 'POST', '/jobs', 'bob', headers={'Content-Type': simple},
                      data='{"process": "countdown", "inputs": {"steps": 1}}')
        assert forged.status_code == 415, forged.text
    for prefer in (CREATED, {}):  # /req/job-management/create-unsupported-schema
        other = _create(server, 'bob', {'process': 'countdown', 'inputs': {'steps': 1}},
                        {**prefer, 'Content-Schema': 'https://example.org/openeo-graph.json'})
        assert other.status_code == 422 and other.headers['Content-Type'] == PROBLEM, other.text
        validate(other.json(), 'exception.yaml')
        assert other.json()['type'] == P4_TYPE + 'unsupported-schema'
    assert call(server, 'GET', '/jobs', 'bob', params={'limit': 1}).json()['numberMatched'] \
        == before


def test_others_jobs_do_not_exist_on_any_new_route(server):
    job_id = _create(server, 'alice', {'process': 'countdown', 'inputs': {'steps': 1}},
                     CREATED).json()['jobID']
    routes = [('GET', f'/jobs/{job_id}/definition'), ('GET', f'/jobs/{job_id}/inputs'),
              ('GET', f'/jobs/{job_id}/prov'), ('PATCH', f'/jobs/{job_id}'),
              ('POST', f'/jobs/{job_id}/results')]
    for user in ('bob', 'admin', None):  # a created job: only its owner, not even admins
        for method, path in [*routes, ('GET', f'/jobs/{job_id}')]:
            reply = call(server, method, path, user, json={'inputs': {'steps': 5}})
            assert reply.status_code in ((404,) if user else (401, 404)), (user, path, reply.text)
            assert 'countdown' not in reply.text and 'created' not in reply.text
    listed = call(server, 'GET', '/jobs', 'admin', params={'limit': 1000}).json()
    assert job_id not in {job['jobID'] for job in listed['jobs']}
    assert call(server, 'GET', f'/jobs/{job_id}/inputs', 'alice').json()['inputs'] \
        == {'steps': 1}
    assert call(server, 'GET', f'/jobs/{job_id}', 'alice').json()['status'] == 'created'

    assert call(server, 'POST', f'/jobs/{job_id}/results', 'alice').status_code == 200
    _wait(server, 'alice', job_id)
    for method, path in routes:  # started: still another user's job for bob
        reply = call(server, method, path, 'bob', json={'inputs': {'steps': 5}})
        assert reply.status_code == 404, (path, reply.text)
    assert call(server, 'GET', f'/jobs/{job_id}/definition', 'admin').status_code == 200


@pytest.mark.parametrize('kind', ['docker', 'cwl'])
def test_prov_is_w3c_prov_json_of_what_ran(server, kind):
    pid = f'echo-prov-{kind}'
    if kind == 'docker':
        deployed = deploy_package(server, 'dev', {'processDescription': {
            'id': pid, 'version': '1.0.0',
            'inputs': {'message': {'schema': {'type': 'string'}}},
            'outputs': {'result': {'schema': {'type': 'string'}}}},
            'executionUnit': {'type': 'docker', 'image': 'eoorder-test/echo:1.0'}})
    else:
        deployed = deploy_package(server, 'dev', (PACKAGES / 'echo.cwl').read_text().replace(
            '\nid: echo\n', f'\nid: {pid}\n'), 'application/cwl+yaml')
    assert deployed.status_code == 201, deployed.text
    stored = call(server, 'GET', f'/processes/{pid}/package', 'dev').content
    reply = _create(server, 'dev', {'process': pid, 'inputs': {'message': 'hello'},
                                    'response': 'document'}, {'Prefer': 'respond-async'})
    assert reply.status_code == 201, reply.text
    job_id = reply.json()['jobID']
    job = _wait(server, 'dev', job_id, timeout=180)
    assert job['status'] == 'successful', job

    answer = call(server, 'GET', f'/jobs/{job_id}/prov', 'dev')
    assert answer.status_code == 200 and answer.headers['Content-Type'].startswith(
        'application/json'), answer.text
    document = ProvDocument.deserialize(content=answer.text, format='json')
    records = {record.identifier.localpart: record for record in document.get_records()
               if record.identifier is not None}
    attributes = {name: {str(k.localpart): v for k, v in record.attributes}
                  for name, record in records.items()}

    run = records[f'run-{job_id}']
    assert run.get_startTime().isoformat().startswith(job['started'].rstrip('Z')[:19])
    assert run.get_endTime().isoformat().startswith(job['finished'].rstrip('Z')[:19])
    assert attributes['user-dev']['label'] == 'dev'
    assert attributes[f'process-{pid}']['packageDigest'] == \
        'sha256:' + hashlib.sha256(stored).hexdigest()
    image_id = docker.from_env().images.get('eoorder-test/echo:1.0').id
    assert attributes['image-0']['imageId'] == image_id
    assert attributes['image-0']['label'] == 'eoorder-test/echo:1.0'
    assert attributes['input-message']['value'] == 'hello'
    assert 'output-result' in records
    relations = {type(record).__name__ for record in document.get_records()}
    assert {'ProvUsage', 'ProvGeneration', 'ProvAssociation'} <= relations


def test_conformance_and_openapi_declare_job_management(server):
    conforms = call(server, 'GET', '/conformance', None, params={'f': 'json'}).json()
    assert {P4 + 'job-management', P4 + 'provenance'} <= set(conforms['conformsTo'])
    paths = call(server, 'GET', '/openapi', None, params={'f': 'json'}).json()['paths']
    assert 'post' in paths['/jobs'] and 'get' in paths['/jobs']
    assert 'patch' in paths['/jobs/{jobId}'] and 'delete' in paths['/jobs/{jobId}']
    assert 'post' in paths['/jobs/{jobId}/results'] and 'get' in paths['/jobs/{jobId}/results']
    for name in ('definition', 'inputs', 'prov'):
        assert 'get' in paths[f'/jobs/{{jobId}}/{name}']


def test_dismissing_a_created_job(server):
    job_id = _create(server, 'alice', {'process': 'countdown', 'inputs': {'steps': 1}},
                     CREATED).json()['jobID']
    dismissed = call(server, 'DELETE', f'/jobs/{job_id}', 'alice')
    assert dismissed.status_code == 200 and dismissed.json()['status'] == 'dismissed'
    start = call(server, 'POST', f'/jobs/{job_id}/results', 'alice')
    assert start.status_code == 423 and start.json()['type'] == LOCKED, start.text




def test_created_jobs_with_the_embedded_default_configuration(make_server):
    """Without authentication (config/local.yml's default) the anonymous caller owns the
    jobs it creates: it lists, reads and starts them."""
    server = make_server()
    reply = _create(server, None, {'process': 'countdown', 'inputs': {'steps': 1}}, CREATED)
    assert reply.status_code == 201, reply.text
    job_id = reply.json()['jobID']
    listed = call(server, 'GET', '/jobs', None, params={'status': 'created'}).json()
    assert [job['jobID'] for job in listed['jobs']] == [job_id]
    assert call(server, 'POST', f'/jobs/{job_id}/results', None).status_code == 200
    assert _wait(server, None, job_id)['status'] == 'successful'

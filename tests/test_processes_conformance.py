"""OGC API - Processes conformance details (issue 15): status documents, the monitor link of
a synchronous answer, the OpenAPI declarations of what the server answers, and Part 2's
exception types. Bodies are validated against the official Part 1 1.0 schemas
(tests/support/ogcapi.py), not by the server's own code."""

from __future__ import annotations

import email
import email.policy
import json
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from .conftest import Server
from .support.ogcapi import validate, validate_any_of

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
    validate_any_of(processes.json(), 'processList.yaml')

    dismiss = document['paths']['/jobs/{jobId}']['delete']['responses']
    assert '204' not in dismiss
    assert dismiss['200']['$ref'].endswith('/responses/Status.yaml')
    job_id = server.submit('countdown', {'steps': 1})
    server.wait_for(job_id)
    answered = requests.delete(f'{server.url}/jobs/{job_id}', timeout=10)
    assert str(answered.status_code) in dismiss
    validate(answered.json(), 'statusInfo.yaml')
    for path in ('/jobs/{jobId}/results', '/jobs/{jobId}/results/{name}'):  # removed: 410
        assert '410' in document['paths'][path]['get']['responses'], path
    removed = requests.get(f'{server.url}/jobs/{job_id}/results', timeout=10)
    assert removed.status_code == 410, removed.text
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


# -- results (OGC 18-062r2 /req/core/process-execute-sync-*, results-*) --------------------
ECHO_TEXT = 'echo-text'  # one text/plain file output
ECHO_LITERAL = 'echo-literal'  # one string literal output


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope='module')
def ades(tmp_path_factory):
    """A server with the landcover, a text-file echo and a literal echo deployed, and a
    loopback file server (allowed by the egress policy) serving `scene.tif` and `value.txt`."""
    root = tmp_path_factory.mktemp('files')
    (root / 'scene.tif').write_bytes(bytes(range(256)) * 8)
    (root / 'value.txt').write_text('hello by reference\n')
    files = ThreadingHTTPServer(('127.0.0.1', 0), partial(_Quiet, directory=str(root)))
    threading.Thread(target=files.serve_forever, daemon=True).start()
    server = Server(tmp_path_factory.mktemp('ades'),
                    {'jobs': {'workers': 2}, 'egress': {'allowed_hosts': ['127.0.0.1']}}).start()
    text = json.loads((PACKAGES / 'echo.ogcapppkg.json').read_text())
    text['processDescription']['id'] = ECHO_TEXT
    for package in (json.loads((PACKAGES / 'landcover.ogcapppkg.json').read_text()), text,
                    _echo_package(ECHO_LITERAL)):
        reply = requests.post(f'{server.url}/processes', json=package, timeout=60,
                              headers={'Content-Type': PKG})
        assert reply.status_code == 201, reply.text
    server.files = f'http://127.0.0.1:{files.server_address[1]}'
    yield server
    server.stop()
    files.shutdown()


def _landcover(ades, **body) -> requests.Response:
    inputs = {'source': {'href': f'{ades.files}/scene.tif'}, 'aoi': '5,50,6,51'}
    return ades.execute('landcover', inputs, async_=False, **body)


def test_document_honours_transmission_mode_per_output(ades):
    reply = _landcover(ades, response='document', outputs={
        'classification': {'transmissionMode': 'value'},
        'stac': {'transmissionMode': 'reference'}})
    assert reply.status_code == 200, reply.text
    document = reply.json()
    validate_any_of(document, 'results.yaml')
    assert document['classification']['mediaType'] == 'text/csv'
    assert 'source_bytes,2048' in document['classification']['value']  # the CSV itself
    assert document['stac']['href'].endswith('/results/stac/catalog.json')

    literal = ades.execute(ECHO_LITERAL, {'message': 'by value'}, async_=False,
                           response='document',
                           outputs={'result': {'transmissionMode': 'reference'}})
    assert literal.status_code == 200, literal.text
    validate_any_of(literal.json(), 'results.yaml')
    href = literal.json()['result']['href']  # a literal asked by reference: a link to it
    fetched = requests.get(href, timeout=10)
    assert fetched.text == 'by value' and fetched.headers['Content-Type'].startswith(
        'text/plain')


def test_raw_with_one_output_is_the_output_with_its_media_type(ades):
    reply = ades.execute(ECHO_TEXT, {'message': 'just me'}, async_=False, response='raw')
    assert reply.status_code == 200, reply.text
    assert reply.content == b'just me'
    assert reply.headers['Content-Type'].startswith('text/plain')


def test_raw_with_several_outputs_is_multipart_related(ades):
    reply = _landcover(ades, response='raw')
    assert reply.status_code == 200, reply.text
    assert reply.headers['Content-Type'].startswith('multipart/related')
    message = email.message_from_bytes(
        b'Content-Type: ' + reply.headers['Content-Type'].encode() + b'\r\n\r\n'
        + reply.content, policy=email.policy.HTTP)
    assert message.is_multipart() and not message.defects
    parts = {part['Content-ID']: part for part in message.iter_parts()}
    assert set(parts) == {'<classification>', '<stac>'}
    assert parts['<classification>'].get_content_type() == 'text/csv'
    assert b'source_bytes,2048' in parts['<classification>'].get_payload(decode=True)
    catalog = json.loads(parts['<stac>'].get_payload(decode=True))
    assert catalog['type'] == 'Catalog'


def test_raw_with_every_output_by_reference_is_204_with_links(ades):
    reply = _landcover(ades, response='raw', outputs={
        'classification': {'transmissionMode': 'reference'},
        'stac': {'transmissionMode': 'reference'}})
    assert reply.status_code == 204, reply.text
    assert reply.content == b''
    links = requests.utils.parse_header_links(reply.headers['Link'])
    by_rel = {link['rel']: link for link in links}
    assert by_rel['classification']['type'] == 'text/csv'
    assert by_rel['stac']['type'] == 'application/json'
    assert by_rel['monitor']['url'] == reply.headers['Location']
    csv = requests.get(by_rel['classification']['url'], timeout=10)
    assert csv.status_code == 200 and 'source_bytes,2048' in csv.text


def test_text_plain_output_file_is_served_as_text_plain(ades):
    job_id = ades.submit(ECHO_TEXT, {'message': 'plain text'})
    assert ades.wait_for(job_id)['status'] == 'successful'
    reply = requests.get(f'{ades.url}/jobs/{job_id}/results/result', timeout=10)
    assert reply.status_code == 200 and reply.text == 'plain text'
    assert reply.headers['Content-Type'].startswith('text/plain')
    assert reply.headers['X-Content-Type-Options'] == 'nosniff'


def test_literal_input_by_reference_reaches_the_application_as_its_content(ades):
    reply = ades.execute(ECHO_LITERAL, {'message': {'href': f'{ades.files}/value.txt'}},
                         async_=False, response='document')
    assert reply.status_code == 200, reply.text
    validate_any_of(reply.json(), 'results.yaml')
    assert reply.json() == {'result': 'hello by reference'}  # the content, not a path


def test_unknown_transmission_mode_is_400(ades):
    reply = ades.execute(ECHO_LITERAL, {'message': 'x'}, async_=False,
                         outputs={'result': {'transmissionMode': 'telepathy'}})
    assert reply.status_code == 400, reply.text
    assert reply.headers['Content-Type'] == PROBLEM
    validate(reply.json(), 'exception.yaml')
    assert 'outputs.result.transmissionMode' in reply.json()['detail']


def test_results_of_an_undeployed_process_stay_readable(ades):
    reply = requests.post(f'{ades.url}/processes', json=_echo_package('echo-short-lived'),
                          headers={'Content-Type': PKG}, timeout=60)
    assert reply.status_code == 201, reply.text
    job_id = ades.submit('echo-short-lived', {'message': 'outlives it'})
    assert ades.wait_for(job_id)['status'] == 'successful'
    assert requests.delete(f'{ades.url}/processes/echo-short-lived',
                           timeout=10).status_code == 204
    for mode in ('document', 'raw'):
        results = requests.get(f'{ades.url}/jobs/{job_id}/results', params={'response': mode},
                               timeout=10)
        assert results.status_code == 200, results.text
        assert results.json() == {'result': 'outlives it'}


# -- /openapi -----------------------------------------------------------------------------
PROCESSES_1 = Path(__file__).parent / 'data' / 'ogcapi-processes-1.0' / 'schemas'


class _FeaturesResponses(dict):
    """The responses of OGC API - Features' openapi document, referenced by fragment."""

    def __missing__(self, name: str) -> dict:
        return {'description': f'{name} (OGC API - Features Part 1)'}


def _offline(uri: str) -> dict:
    """The documents the OpenAPI document references on schemas.opengis.net, offline: the
    Part 1 schemas from their local copies, the shared responses as described stubs."""
    name = uri.rsplit('/', 1)[-1]
    if name == 'ogcapi-features-1.yaml':
        return {'components': {'responses': _FeaturesResponses()}}
    if '/processes/part1/1.0/openapi/schemas/' in uri:
        import yaml
        return yaml.safe_load((PROCESSES_1 / name).read_text())
    if '/processes/part1/1.0/openapi/responses/' in uri:
        return {'description': f'{name} (OGC API - Processes Part 1)'}
    raise LookupError(f'unexpected reference {uri}')


def test_openapi_has_the_templated_process_path_and_is_valid(server):
    """`GET /processes/{processId}` is declared beside the concrete process paths, and the
    whole document passes openapi-spec-validator (references resolved offline)."""
    from jsonschema_path import SchemaPath
    from jsonschema_path.handlers import default_handlers
    from openapi_spec_validator import OpenAPIV30SpecValidator

    document = requests.get(f'{server.url}/openapi', params={'f': 'json'}, timeout=60).json()
    describe = document['paths']['/processes/{processId}']['get']
    assert describe['parameters'][0]['name'] == 'processId'
    assert describe['responses']['200']['$ref'].endswith('/responses/ProcessDescription.yaml')
    assert '/processes/countdown' in document['paths']  # the concrete ones stay
    assert requests.get(f'{server.url}/processes/countdown', timeout=10).status_code == 200
    assert requests.get(f'{server.url}/processes/nope', timeout=10).status_code in \
        {int(code) for code in describe['responses']}

    path = SchemaPath.from_dict(document, handlers={**default_handlers, 'http': _offline,
                                                    'https': _offline})
    errors = [str(error)[:300] for error in OpenAPIV30SpecValidator(path).iter_errors()]
    assert errors == []


# -- Part 2: CWL $graph and packages without a processDescription -------------------------
def _two_workflows() -> str:
    """echo-workflow.cwl with two Workflows, `first-flow` then `second-flow`, and the tool
    `echo` they both run."""
    text = (PACKAGES / 'echo-workflow.cwl').read_text()
    head, graph = text.split('$graph:\n', 1)
    workflow, tool = graph.split('\n\n  - class: CommandLineTool', 1)
    first = workflow.replace('id: main', 'id: first-flow').replace('Echo workflow', 'One')
    second = workflow.replace('id: main', 'id: second-flow').replace('Echo workflow', 'Two')
    return f'{head}$graph:\n{first}\n{second}\n\n  - class: CommandLineTool{tool}'


def test_cwl_graph_with_several_workflows_deploys_the_first_or_the_chosen_one(server):
    text = _two_workflows()
    assert text.count('class: Workflow') == 2
    for params, expected in ((None, 'first-flow'), ({'w': 'second-flow'}, 'second-flow')):
        reply = requests.post(f'{server.url}/processes', params=params, data=text.encode(),
                              headers={'Content-Type': 'application/cwl+yaml'}, timeout=30)
        assert reply.status_code == 201, reply.text
        assert reply.json()['id'] == expected  # the workflow's id, no slug of its label
        validate_any_of(reply.json(), 'processSummary.yaml')  # deploy-response-body
        assert reply.headers['Location'] == f'{server.url}/processes/{expected}'
        described = requests.get(f'{server.url}/processes/{expected}', timeout=10)
        assert described.status_code == 200
        validate_any_of(described.json(), 'process.yaml')
        assert described.json()['id'] == expected and 'message' in described.json()['inputs']
        assert requests.delete(f'{server.url}/processes/{expected}',
                               timeout=10).status_code == 204


def test_ogcapppkg_with_only_an_execution_unit_is_described_by_its_cwl(server):
    package = {'executionUnit': {'type': 'application/cwl',
                                 'value': (PACKAGES / 'echo.cwl').read_text()
                                 .replace('\nid: echo\n', '\nid: echo-unit-only\n')}}
    reply = requests.post(f'{server.url}/processes', json=package, timeout=30,
                          headers={'Content-Type': PKG})
    assert reply.status_code == 201, reply.text
    assert reply.json()['id'] == 'echo-unit-only'
    validate_any_of(reply.json(), 'processSummary.yaml')
    described = requests.get(f'{server.url}/processes/echo-unit-only', timeout=10).json()
    validate_any_of(described, 'process.yaml')
    assert set(described['inputs']) == {'message'} and set(described['outputs']) == {'result'}
    requests.delete(f'{server.url}/processes/echo-unit-only', timeout=10)

    docker_only = {'executionUnit': {'type': 'docker', 'image': 'eoorder-test/echo:1.0'}}
    refused = requests.post(f'{server.url}/processes', json=docker_only, timeout=30,
                            headers={'Content-Type': PKG})
    assert refused.status_code == 400, refused.text
    validate(refused.json(), 'exception.yaml')
    assert 'processDescription' in refused.json()['detail']


# -- from the 2.0 draft: rel=logs, 410 for removed results --------------------------------
def test_status_links_the_job_log_as_logs(ades):
    job_id = ades.submit(ECHO_TEXT, {'message': 'logged'})
    status = ades.wait_for(job_id)
    validate(status, 'statusInfo.yaml')
    [logs] = [link for link in status['links'] if link['rel'] == 'logs']
    assert logs['href'] == f'{ades.url}/jobs/{job_id}/log' and logs['type'] == 'text/plain'
    reply = requests.get(logs['href'], timeout=10)
    assert reply.status_code == 200 and 'container:' in reply.text


def test_results_removed_by_dismissal_or_retention_are_410(ades, make_server):
    job_id = ades.submit(ECHO_TEXT, {'message': 'soon gone'})
    assert ades.wait_for(job_id)['status'] == 'successful'
    assert requests.get(f'{ades.url}/jobs/{job_id}/results/result', timeout=10).text == \
        'soon gone'
    assert requests.delete(f'{ades.url}/jobs/{job_id}', timeout=10).status_code == 200
    for path in ('results', 'results/result'):
        for params in ({}, {'response': 'document'}):
            reply = requests.get(f'{ades.url}/jobs/{job_id}/{path}', params=params, timeout=10)
            assert reply.status_code == 410, (path, reply.text)
            assert reply.headers['Content-Type'] == PROBLEM
            validate(reply.json(), 'exception.yaml')

    kept_briefly = make_server({'jobs': {'retention_seconds': 1}})
    job_id = kept_briefly.submit('countdown', {'steps': 1})
    kept_briefly.wait_for(job_id)
    job_dir = kept_briefly.data_dir / 'jobs' / job_id
    for _ in range(100):
        if not job_dir.exists():
            break
        time.sleep(0.1)
    assert not job_dir.exists()
    status = kept_briefly.job(job_id)
    assert status['status'] == 'successful'
    assert not [link for link in status['links'] if link['rel'].endswith('/results')]
    reply = requests.get(f'{kept_briefly.url}/jobs/{job_id}/results', timeout=10)
    assert reply.status_code == 410 and reply.headers['Content-Type'] == PROBLEM
    validate(reply.json(), 'exception.yaml')
    assert 'retention' in reply.json()['detail']


def test_landing_page_links_conformance_and_processes_by_their_ogc_relations(server):
    """/req/core/landingpage-success: the conformance and processes links carry the OGC
    relation URIs (Part 1 1.0, Table 'link relations'); each one resolves."""
    landing = requests.get(server.url + '/', params={'f': 'json'}, timeout=10)
    assert landing.status_code == 200
    body = landing.json()
    validate(body, 'landingPage.yaml')
    by_rel = {link['rel']: link['href'] for link in body['links']}
    ogc = 'http://www.opengis.net/def/rel/ogc/1.0/'
    for relation, path in (('conformance', '/conformance'), ('processes', '/processes')):
        href = by_rel.get(ogc + relation)
        assert href is not None, f'no link with rel {ogc}{relation}: {sorted(by_rel)}'
        assert href.split('?')[0].rstrip('/') == server.url + path
        assert requests.get(href, params={'f': 'json'}, timeout=10).status_code == 200
    assert by_rel.get('conformance') == by_rel[ogc + 'conformance']  # the short form stays
    rels = [(link['rel'], link['href']) for link in body['links']]
    assert len(rels) == len(set(rels)), 'a link is repeated'

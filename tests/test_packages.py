"""Every package format deploys into the same kind of process (one inline CWL package is run
in its container too)."""

import json
from pathlib import Path

import pytest
import requests

PACKAGES = Path(__file__).parent / 'data' / 'packages'
P2 = 'http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/'

FORMATS = [
    ('echo.ogcapppkg.json', 'application/ogcapppkg+json', 'echo', None),
    ('echo.ogcapppkg-wrapped.json', 'application/ogcapppkg+json', 'echo', None),
    ('echo.cwl', 'application/cwl+yaml', 'echo', None),
    ('echo-workflow.cwl', 'application/cwl+yaml', 'main', 'main'),  # the Workflow's id
    ('echo.tb13.xml', 'application/atom+xml', 'echo', None),
]


def deploy(server, name, media_type, params=None):
    return requests.post(f'{server.url}/processes', data=(PACKAGES / name).read_bytes(),
                         headers={'Content-Type': media_type}, params=params, timeout=30)


@pytest.mark.parametrize('name, media_type, process_id, workflow', FORMATS)
def test_each_format_deploys_the_echo_process(server, name, media_type, process_id, workflow):
    reply = deploy(server, name, media_type, {'w': workflow} if workflow else None)
    assert reply.status_code == 201, reply.text
    assert reply.json()['id'] == process_id
    process = requests.get(f'{server.url}/processes/{process_id}', timeout=10).json()
    assert 'message' in process['inputs'] and 'result' in process['outputs']
    assert process['mutable'] is True
    stored = requests.get(f'{server.url}/processes/{process_id}/package', timeout=10)
    assert stored.content == (PACKAGES / name).read_bytes()
    assert stored.headers['Content-Type'].startswith(media_type)
    assert requests.delete(f'{server.url}/processes/{process_id}',
                           timeout=10).status_code == 204


def test_landcover_packages_describe_the_same_interface(server):
    seen = {}
    for name, media_type in (('landcover.ogcapppkg.json', 'application/ogcapppkg+json'),
                             ('landcover.cwl', 'application/cwl+yaml'),
                             ('landcover.tb13.xml', 'application/atom+xml')):
        reply = deploy(server, name, media_type)
        assert reply.status_code == 201, (name, reply.text)
        pid = reply.json()['id']
        process = requests.get(f'{server.url}/processes/{pid}', timeout=10).json()
        seen[name] = (set(process['inputs']), set(process['outputs']))
        requests.delete(f'{server.url}/processes/{pid}', timeout=10)
    assert len(set(map(lambda v: (frozenset(v[0]), frozenset(v[1])), seen.values()))) == 1, seen


def test_cwl_graph_workflow_selection(server):
    reply = deploy(server, 'echo-workflow.cwl', 'application/cwl+yaml', {'w': 'nope'})
    assert reply.status_code == 400
    assert reply.json()['type'] == P2 + 'workflow-not-found'
    assert "w: no process 'nope'" in reply.json()['detail']
    reply = deploy(server, 'echo-workflow.cwl', 'application/cwl+yaml', {'w': 'echo'})
    assert reply.status_code == 201, reply.text  # the tool itself can be deployed too
    requests.delete(f'{server.url}/processes/echo', timeout=10)


@pytest.mark.parametrize('body, fragment', [
    (b'cwlVersion: v1.2\nclass: Nonsense\n', 'class'),
    (b'class: CommandLineTool\n', 'cwlVersion'),
    (b'cwlVersion: v1.2\nclass: CommandLineTool\ninputs: 3\noutputs: []\n', 'invalid CWL'),
    (b': : :\n', 'not valid CWL'),
])
def test_invalid_cwl_is_400(server, body, fragment):
    reply = requests.post(f'{server.url}/processes', data=body, timeout=30,
                          headers={'Content-Type': 'application/cwl+yaml'})
    assert reply.status_code == 400, reply.text
    assert fragment in reply.json()['detail']


@pytest.mark.parametrize('body, fragment', [
    (b'<feed xmlns="http://www.w3.org/2005/Atom"/>', 'atom:entry'),
    (b'<feed', 'not well-formed'),
    (b'<!DOCTYPE x [<!ENTITY a "b">]><feed/>', 'document type'),
])
def test_invalid_owc_is_400(server, body, fragment):
    reply = requests.post(f'{server.url}/processes', data=body, timeout=30,
                          headers={'Content-Type': 'application/atom+xml'})
    assert reply.status_code == 400, reply.text
    assert fragment in reply.json()['detail']


def test_cwl_inside_ogcapppkg_by_value(server):
    """A CWL tool given by value inside an OGC application package deploys and runs (in its
    container, through cwltool): the job echoes the message."""
    body = {'processDescription': {
        'id': 'echo-by-value', 'inputs': {'message': {'schema': {'type': 'string'}}},
        'outputs': {'result': {'schema': {'type': 'string', 'contentMediaType': 'text/plain'}}}},
        'executionUnit': {'value': (PACKAGES / 'echo.cwl').read_text(),
                          'mediaType': 'application/cwl+yaml'}}
    reply = requests.post(f'{server.url}/processes', data=json.dumps(body), timeout=30,
                          headers={'Content-Type': 'application/ogcapppkg+json'})
    assert reply.status_code == 201, reply.text
    try:
        job_id = server.submit('echo-by-value', {'message': 'inline CWL ran'})
        job = server.wait_for(job_id, timeout=120)
        assert job['status'] == 'successful', job
        result = requests.get(f'{server.url}/jobs/{job_id}/results/result', timeout=10)
        assert result.status_code == 200, result.text
        assert result.text.strip() == 'inline CWL ran'
    finally:
        requests.delete(f'{server.url}/processes/echo-by-value', timeout=10)


def test_testbed13_deploy_and_undeploy_processes(server):
    package = (PACKAGES / 'echo.tb13.xml').read_text()
    reply = requests.post(f'{server.url}/processes/DeployProcess/execution', timeout=60,
                          json={'inputs': {'applicationPackage': package},
                                'response': 'document'})
    assert reply.status_code == 200, reply.text
    result = reply.json()['DeployResult']
    assert result['deploymentDone'] is True and result['processSummary']['id'] == 'echo'
    assert requests.get(f'{server.url}/processes/echo', timeout=10).status_code == 200

    again = requests.post(f'{server.url}/processes/DeployProcess/execution', timeout=60,
                          json={'inputs': {'applicationPackage': package}})
    assert again.status_code == 409 and 'exists already' in again.json()['detail']

    reply = requests.post(f'{server.url}/processes/UndeployProcess/execution', timeout=60,
                          json={'inputs': {'processIdentifier': 'echo'},
                                'response': 'document'})
    assert reply.status_code == 200, reply.text
    assert reply.json()['UndeployResult'] == {'undeploymentDone': True, 'identifier': 'echo'}
    assert requests.get(f'{server.url}/processes/echo', timeout=10).status_code == 404
    refused = requests.post(f'{server.url}/processes/UndeployProcess/execution', timeout=60,
                            json={'inputs': {'processIdentifier': 'countdown'}})
    assert 'built in' in refused.json()['detail']

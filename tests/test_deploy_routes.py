"""OGC API - Processes Part 2 routes: deploy, replace, undeploy, package, errors."""

import json

import pytest
import requests

P2 = 'http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/'
P1 = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/'
PKG = 'application/ogcapppkg+json'


def package(pid='echo-app', image='eoorder-test/echo:1.0', **process):
    description = {'id': pid, 'version': '1.0.0', 'title': 'Echo',
                   'inputs': {'message': {'schema': {'type': 'string'}}},
                   'outputs': {'result': {'schema': {'type': 'string'}}}, **process}
    return {'processDescription': description,
            'executionUnit': {'type': 'docker', 'image': image,
                              'config': {'cpu': 1, 'memory': '256m', 'timeout': 60}}}


def deploy(server, body, content_type=PKG, raw=None, params=None):
    data = raw if raw is not None else json.dumps(body)
    return requests.post(f'{server.url}/processes', data=data, params=params, timeout=30,
                         headers={'Content-Type': content_type})


def assert_problem(reply, status, type_uri, fragment=''):
    assert reply.status_code == status, reply.text
    assert reply.headers['Content-Type'] == 'application/problem+json'
    assert reply.json()['type'] == type_uri
    assert fragment in reply.json()['detail'], reply.json()['detail']


def test_deploy_lifecycle(server):
    reply = deploy(server, package())
    assert reply.status_code == 201, reply.text
    assert reply.headers['Location'] == f'{server.url}/processes/echo-app'
    summary = reply.json()
    assert summary['id'] == 'echo-app' and summary['mutable'] is True
    described = requests.get(f'{server.url}/processes/echo-app', timeout=10).json()
    assert described['mutable'] is True and 'message' in described['inputs']
    listing = {p['id']: p for p in requests.get(f'{server.url}/processes', timeout=10)
               .json()['processes']}
    assert listing['echo-app']['mutable'] is True
    assert listing['countdown']['mutable'] is False
    assert '/processes/echo-app/execution' in requests.get(
        f'{server.url}/openapi', timeout=10).json()['paths']

    stored = requests.get(f'{server.url}/processes/echo-app/package', timeout=10)
    assert stored.status_code == 200 and stored.headers['Content-Type'].startswith(PKG)
    assert stored.json() == package()

    assert_problem(deploy(server, package()), 409, P2 + 'duplicated-process', 'PUT')

    replaced = package(title='Echo v2', version='2.0.0')
    reply = requests.put(f'{server.url}/processes/echo-app', data=json.dumps(replaced),
                         headers={'Content-Type': PKG}, timeout=10)
    assert reply.status_code == 204, reply.text
    described = requests.get(f'{server.url}/processes/echo-app', timeout=10).json()
    assert described['version'] == '2.0.0' and described['title'] == 'Echo v2'

    assert requests.delete(f'{server.url}/processes/echo-app', timeout=10).status_code == 204
    assert requests.get(f'{server.url}/processes/echo-app', timeout=10).status_code == 404
    assert_problem(requests.delete(f'{server.url}/processes/echo-app', timeout=10), 404,
                   P1 + 'no-such-process')


def test_missing_image_warns_but_deploys(server):
    reply = deploy(server, package('ghost', image='eoorder-test/not-there:9'))
    assert reply.status_code == 201
    assert any('not-there' in w or 'could not check' in w for w in reply.json()['warnings'])
    requests.delete(f'{server.url}/processes/ghost', timeout=10)


def test_builtin_processes_are_immutable(server):
    assert_problem(requests.delete(f'{server.url}/processes/countdown', timeout=10), 403,
                   P2 + 'immutable-process')
    assert_problem(requests.put(f'{server.url}/processes/countdown',
                                data=json.dumps(package('countdown')),
                                headers={'Content-Type': PKG}, timeout=10),
                   403, P2 + 'immutable-process')
    assert_problem(deploy(server, package('countdown')), 403, P2 + 'immutable-process')
    assert requests.get(f'{server.url}/processes/countdown/package',
                        timeout=10).status_code == 404


def test_replace_must_keep_the_id(server):
    assert deploy(server, package('keep-id')).status_code == 201
    assert_problem(requests.put(f'{server.url}/processes/keep-id',
                                data=json.dumps(package('other-id')),
                                headers={'Content-Type': PKG}, timeout=10),
                   400, P1 + 'invalid-parameter', 'processDescription.id')
    assert_problem(requests.put(f'{server.url}/processes/never-deployed',
                                data=json.dumps(package('never-deployed')),
                                headers={'Content-Type': PKG}, timeout=10),
                   404, P1 + 'no-such-process')
    requests.delete(f'{server.url}/processes/keep-id', timeout=10)


def test_unsupported_media_type(server):
    assert_problem(deploy(server, None, 'text/plain', raw='hello'), 415,
                   P2 + 'unsupported-media-type', 'application/ogcapppkg+json')


def broken(change):
    body = package('broken')
    change(body)
    return body


@pytest.mark.parametrize('body, fragment', [
    (broken(lambda b: b.pop('executionUnit')), 'executionUnit: missing'),
    (broken(lambda b: b.pop('processDescription')), 'processDescription: missing'),
    (broken(lambda b: b['processDescription'].pop('id')), 'processDescription.id'),
    (broken(lambda b: b['processDescription'].update(id='bad id!')), 'processDescription.id'),
    (broken(lambda b: b['processDescription'].update(outputs={})),
     'processDescription.outputs'),
    (broken(lambda b: b['processDescription']['inputs'].update(x={'schema': 3})),
     'processDescription.inputs.x.schema'),
    (broken(lambda b: b['executionUnit'].pop('image')), 'executionUnit.image'),
    (broken(lambda b: b['executionUnit']['config'].update(memory='lots')),
     'executionUnit.config.memory'),
    (broken(lambda b: b['executionUnit']['config'].update(timeout=-1)),
     'executionUnit.config.timeout'),
    (broken(lambda b: b.update(executionUnit={'type': 'vm'})), 'executionUnit.type'),
    ('not json', 'not valid JSON'),
])
def test_invalid_packages_name_the_field(server, body, fragment):
    raw = body if isinstance(body, str) else json.dumps(body)
    assert_problem(deploy(server, None, raw=raw), 400, P1 + 'invalid-parameter', fragment)
    assert requests.get(f'{server.url}/processes/broken', timeout=10).status_code == 404


def test_nested_process_description_and_unit_list(server):
    body = package('nested')
    body['processDescription'] = {'process': body['processDescription']}
    body['executionUnit'] = [body['executionUnit']]
    assert deploy(server, body).status_code == 201
    assert requests.get(f'{server.url}/processes/nested', timeout=10).status_code == 200
    requests.delete(f'{server.url}/processes/nested', timeout=10)


def test_conformance_declares_part2(server):
    conforms = requests.get(f'{server.url}/conformance', timeout=10).json()['conformsTo']
    for name in ('deploy-replace-undeploy', 'ogcapppkg', 'docker', 'cwl'):
        assert f'http://www.opengis.net/spec/ogcapi-processes-2/1.0/conf/{name}' in conforms

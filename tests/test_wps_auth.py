"""WPS under authentication: a job started over WPS belongs to its caller (the same job under
/jobs); another user's jobs and private processes answer as if they did not exist; only
developers deploy through WPS."""

from __future__ import annotations

import pytest
import requests
from lxml import etree

from tests.support.auth import as_, deploy, write_users
from tests.support.wps_schemas import assert_valid

WPS = 'http://www.opengis.net/wps/2.0'
OWS = 'http://www.opengis.net/ows/2.0'
NS = {'wps': WPS, 'ows': OWS}
USERS = {'alice': ['user'], 'bob': ['user'], 'root': ['admin'], 'dev': ['developer']}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    from .conftest import TEST_PROCESSES, Server
    directory = tmp_path_factory.mktemp('wps-auth')
    users = write_users(directory / 'users.yml', USERS)
    block = {'auth': {'authenticators': [{'name': 'basic', 'users_file': str(users)}]}}
    server = Server(directory, block, {'countdown': TEST_PROCESSES['countdown']}).start()
    assert deploy(server, 'dev', 'secret-tool', visibility='private').status_code == 201
    yield server
    server.stop()


def wps(server, user: str, body: str | None = None, **params) -> requests.Response:
    if body is None:
        return requests.get(f'{server.url}/wps', params={'service': 'WPS', 'version': '2.0.0',
                                                         **params}, auth=as_(user), timeout=30)
    return requests.post(f'{server.url}/wps', data=body.encode(), auth=as_(user), timeout=60,
                         headers={'Content-Type': 'application/xml'})


def code(reply: requests.Response) -> str:
    root = assert_valid(reply.content)
    assert root.tag == f'{{{OWS}}}ExceptionReport', reply.text
    return root.find(f'{{{OWS}}}Exception').get('exceptionCode')


EXECUTE = (f'<wps:Execute xmlns:wps="{WPS}" xmlns:ows="{OWS}" service="WPS" version="2.0.0" '
           'mode="{mode}" response="document"><ows:Identifier>{pid}</ows:Identifier>'
           '{inputs}</wps:Execute>')


def test_jobs_belong_to_their_caller(server):
    body = EXECUTE.format(mode='sync', pid='countdown',
                          inputs='<wps:Input id="steps"><wps:Data>1</wps:Data></wps:Input>')
    job_id = assert_valid(wps(server, 'alice', body).content).findtext(f'{{{WPS}}}JobID')
    assert requests.get(f'{server.url}/jobs/{job_id}', auth=as_('alice'),
                        timeout=10).status_code == 200
    assert requests.get(f'{server.url}/jobs/{job_id}', auth=as_('bob'),
                        timeout=10).status_code == 404
    for operation in ('GetStatus', 'GetResult', 'Dismiss'):
        assert code(wps(server, 'bob', request=operation, jobId=job_id)) == 'NoSuchJob'
        unknown = wps(server, 'bob', request=operation, jobId='0' * 32)
        assert code(unknown) == 'NoSuchJob'
    status = assert_valid(wps(server, 'root', request='GetStatus', jobId=job_id).content)
    assert status.findtext(f'{{{WPS}}}Status') == 'Succeeded'
    assert assert_valid(wps(server, 'alice', request='GetResult', jobId=job_id).content).xpath(
        '//wps:LiteralValue/text()', namespaces=NS) == ['1']


def test_private_processes_are_absent_for_others(server):
    def listed(user):
        root = etree.fromstring(wps(server, user, request='GetCapabilities').content)
        return root.xpath('//wps:ProcessSummary/ows:Identifier/text()', namespaces=NS)
    assert 'secret-tool' in listed('dev') and 'secret-tool' in listed('root')
    assert 'secret-tool' not in listed('bob')
    assert code(wps(server, 'bob', request='DescribeProcess',
                    identifier='secret-tool')) == 'NoSuchProcess'
    body = EXECUTE.format(mode='async', pid='secret-tool', inputs='')
    assert code(wps(server, 'bob', body)) == 'NoSuchProcess'


def test_only_developers_deploy(server):
    body = EXECUTE.format(mode='sync', pid='UndeployProcess', inputs=(
        '<wps:Input id="processIdentifier"><wps:Data>secret-tool</wps:Data></wps:Input>'))
    reply = wps(server, 'alice', body)
    assert code(reply) == 'NotAuthorized' and reply.status_code == 403
    reply = wps(server, 'dev', body)
    assert b'UndeploymentDone>true<' in reply.content, reply.text


def test_refusals_before_the_adapter_are_exception_reports(server):
    """What the shared layers refuse on /wps (no credentials, wrong ones, a body of the
    wrong media type, a method /wps does not take) is an ows:ExceptionReport of the
    request's WPS version, with the HTTP status and headers of the refusal."""
    anonymous = requests.get(f'{server.url}/wps', params={
        'service': 'WPS', 'request': 'GetCapabilities'}, timeout=30)
    assert anonymous.status_code == 401 and 'WWW-Authenticate' in anonymous.headers
    assert code(anonymous) == 'NotAuthorized'
    wrong = requests.get(f'{server.url}/wps', params={'service': 'WPS', 'version': '1.0.0',
                                                      'request': 'GetCapabilities'},
                         auth=('alice', 'not-her-password'), timeout=30)
    assert wrong.status_code == 401
    root = assert_valid(wrong.content, '1.0.0')
    assert root.tag == '{http://www.opengis.net/ows/1.1}ExceptionReport'
    media = requests.post(f'{server.url}/wps', data=b'<x/>', auth=as_('alice'), timeout=30,
                          headers={'Content-Type': 'text/plain'})
    assert media.status_code == 415 and code(media) == 'InvalidParameterValue'
    method = requests.delete(f'{server.url}/wps', auth=as_('alice'), timeout=30)
    assert method.status_code == 405 and code(method) == 'OperationNotSupported'
    assert 'GET' in method.headers['Allow']

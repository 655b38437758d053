"""The REST-XML binding of WPS 2.0 (CubeWerx, OGC 17-024 §6.6.4) at /wps/rest: deploy,
describe, execute, monitor, fetch, dismiss and undeploy as resources; OPTIONS on each."""

from __future__ import annotations

import time

import pytest
import requests
from lxml import etree

from tests.support.wps_schemas import assert_valid
from tests.test_wps_transactions import WPS_T

WPS = 'http://www.opengis.net/wps/2.0'
OWS = 'http://www.opengis.net/ows/2.0'
ATOM = 'http://www.w3.org/2005/Atom'
NS = {'wps': WPS, 'ows': OWS, 'atom': ATOM}
XML = {'Content-Type': 'application/xml'}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    from .conftest import Server
    server = Server(tmp_path_factory.mktemp('wps-rest')).start()
    yield server
    server.stop()


def test_capabilities_and_processes(server):
    root = f'{server.url}/wps/rest'
    assert assert_valid(requests.get(root, timeout=10).content).tag == f'{{{WPS}}}Capabilities'
    contents = assert_valid(requests.get(f'{root}/process', timeout=10).content)
    assert 'countdown' in contents.xpath('wps:ProcessSummary/ows:Identifier/text()',
                                         namespaces=NS)
    offering = assert_valid(requests.get(f'{root}/process/countdown', timeout=10).content)
    assert offering.xpath('//wps:Process/ows:Identifier/text()', namespaces=NS) == ['countdown']
    missing = requests.get(f'{root}/process/nope', timeout=10)
    assert missing.status_code == 400 and b'NoSuchProcess' in missing.content


def test_options_list_the_methods(server):
    for path, methods in (('', {'GET'}), ('/process', {'GET', 'POST'}),
                          ('/process/countdown', {'GET', 'DELETE'}), ('/job', {'GET', 'POST'}),
                          ('/job/x', {'GET', 'DELETE'}), ('/job/x/result', {'GET'})):
        reply = requests.options(f'{server.url}/wps/rest{path}', timeout=10)
        assert reply.status_code in (200, 204), path
        assert methods <= {m.strip() for m in reply.headers['Allow'].split(',')}, path


def linked_status(reply: requests.Response, location: str) -> etree._Element:
    """A REST StatusInfo: atom:link monitor and cancel to the job resource inside it (the
    ER's binding) and in the Link header; without them it is schema-valid WPS 2.0."""
    info = etree.fromstring(reply.content)
    assert info.tag == f'{{{WPS}}}StatusInfo', reply.text
    links = {link.get('rel'): link.get('href') for link in info.findall(f'{{{ATOM}}}link')}
    assert links == {'monitor': location, 'cancel': location}
    assert requests.utils.parse_header_links(reply.headers['Link']) == [
        {'url': location, 'rel': 'monitor'}, {'url': location, 'rel': 'cancel'}]
    for link in info.findall(f'{{{ATOM}}}link'):
        info.remove(link)
    return assert_valid(info)


def test_job_lifecycle(server):
    root = f'{server.url}/wps/rest'
    body = (f'<wps:Execute xmlns:wps="{WPS}" xmlns:ows="{OWS}" service="WPS" version="2.0.0" '
            'mode="async" response="document"><ows:Identifier>countdown</ows:Identifier>'
            '<wps:Input id="steps"><wps:Data>2</wps:Data></wps:Input></wps:Execute>')
    reply = requests.post(f'{root}/job', data=body, headers=XML, timeout=30)
    assert reply.status_code == 201, reply.text
    location = reply.headers['Location']
    job_id = linked_status(reply, location).findtext(f'{{{WPS}}}JobID')
    assert location == f'{root}/job/{job_id}'
    deadline = time.monotonic() + 30
    while linked_status(requests.get(location, timeout=10), location).findtext(
            f'{{{WPS}}}Status') != 'Succeeded':
        assert time.monotonic() < deadline
        time.sleep(0.1)
    result = assert_valid(requests.get(f'{location}/result', timeout=10).content)
    assert result.xpath('//wps:LiteralValue/text()', namespaces=NS) == ['2']
    feed = etree.fromstring(requests.get(f'{root}/job', timeout=10).content)
    assert location in feed.xpath('//atom:entry/atom:link[@rel="monitor"]/@href',
                                  namespaces=NS)
    dismissed = linked_status(requests.delete(location, timeout=10), location)
    assert dismissed.findtext(f'{{{WPS}}}Status') == 'Dismissed'
    assert b'NoSuchJob' in requests.get(f'{location}/result', timeout=10).content


def test_kvp_and_xml_status_stay_schema_valid_with_link_headers(server):
    """The KVP/XML bindings keep StatusInfo valid WPS 2.0: no atom:link in it, the monitor
    and cancel controls in the Link header only."""
    body = (f'<wps:Execute xmlns:wps="{WPS}" xmlns:ows="{OWS}" service="WPS" version="2.0.0" '
            'mode="async" response="document"><ows:Identifier>countdown</ows:Identifier>'
            '<wps:Input id="steps"><wps:Data>1</wps:Data></wps:Input></wps:Execute>')
    submitted = requests.post(f'{server.url}/wps', data=body, headers=XML, timeout=30)
    job_id = assert_valid(submitted.content).findtext(f'{{{WPS}}}JobID')
    status = requests.get(f'{server.url}/wps', timeout=10, params={
        'service': 'WPS', 'version': '2.0.0', 'request': 'GetStatus', 'jobId': job_id})
    for reply in (submitted, status):
        assert assert_valid(reply.content).find(f'{{{ATOM}}}link') is None
        links = requests.utils.parse_header_links(reply.headers['Link'])
        assert [link['rel'] for link in links] == ['monitor', 'cancel']
        assert 'request=GetStatus' in links[0]['url'] and job_id in links[0]['url']
        assert 'request=Dismiss' in links[1]['url'] and job_id in links[1]['url']


def test_deploy_and_undeploy(server):
    root = f'{server.url}/wps/rest'
    reply = requests.post(f'{root}/process', data=WPS_T, headers=XML, timeout=60)
    assert reply.status_code == 201, reply.text
    assert reply.headers['Location'] == f'{root}/process/echo-t'
    assert requests.get(reply.headers['Location'], timeout=10).status_code == 200
    again = requests.post(f'{root}/process', data=WPS_T, headers=XML, timeout=60)
    assert b'DuplicateProcess' in again.content
    gone = requests.delete(f'{root}/process/echo-t', timeout=60)
    assert b'UndeploymentDone>true<' in gone.content
    assert b'NoSuchProcess' in requests.get(f'{root}/process/echo-t', timeout=10).content


@pytest.mark.parametrize('body', [b'<data>en</data>', b'<Foo xmlns="urn:x"/>',
                                  f'<wps:GetCapabilities xmlns:wps="{WPS}" '
                                  'service="WPS"/>'.encode()])
def test_a_body_that_is_not_the_resource_s_operation_is_a_bad_parameter(server, body):
    """The path names the operation: another document is the client's error (400 with
    InvalidParameterValue), not an unsupported operation (501)."""
    reply = requests.post(f'{server.url}/wps/rest/process', data=body, headers=XML,
                          timeout=30)
    assert reply.status_code == 400, reply.text
    report = etree.fromstring(reply.content)
    assert report.xpath('ows:Exception/@exceptionCode', namespaces=NS) == [
        'InvalidParameterValue']

"""Testbed-13 transactions through WPS: the DeployProcess/UndeployProcess processes run by
WPS Execute (input applicationPackage, outputs deployResult/undeployResult) and the WPS-T
DeployProcess/UndeployProcess operations; the deployed Docker application then runs."""

from __future__ import annotations

import json
import re
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.support.egress import allow_loopback
from tests.support.wps_schemas import assert_valid

WPS = 'http://www.opengis.net/wps/2.0'
OWS = 'http://www.opengis.net/ows/2.0'
NS = {'wps': WPS, 'ows': OWS, 'xlink': 'http://www.w3.org/1999/xlink'}
PACKAGE = Path(__file__).parent / 'data' / 'packages' / 'echo.tb13.xml'


@pytest.fixture(scope='module')
def files(tmp_path_factory):
    root = tmp_path_factory.mktemp('packages')
    (root / 'echo.xml').write_bytes(PACKAGE.read_bytes())
    (root / 'message.txt').write_text('staged over HTTP')
    httpd = ThreadingHTTPServer(('127.0.0.1', 0),
                                partial(SimpleHTTPRequestHandler, directory=str(root)))
    httpd.RequestHandlerClass.log_message = lambda *a: None
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f'http://127.0.0.1:{httpd.server_address[1]}'
    httpd.shutdown()


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    from .conftest import Server
    server = Server(tmp_path_factory.mktemp('wps-t'), allow_loopback()).start()
    yield server
    server.stop()


def post(server, body: str) -> requests.Response:
    return requests.post(f'{server.url}/wps', data=body.encode(), timeout=60,
                         headers={'Content-Type': 'application/xml'})


def capabilities_ids(server) -> list[str]:
    root = assert_valid(requests.get(f'{server.url}/wps?service=WPS&request=GetCapabilities',
                                     timeout=10).content)
    return root.xpath('//wps:ProcessSummary/ows:Identifier/text()', namespaces=NS)


def execute(process: str, input_xml: str, mode: str = 'sync') -> str:
    return (f'<wps:Execute xmlns:wps="{WPS}" xmlns:ows="{OWS}" '
            'xmlns:xlink="http://www.w3.org/1999/xlink" service="WPS" version="2.0.0" '
            f'mode="{mode}" response="document"><ows:Identifier>{process}</ows:Identifier>'
            f'{input_xml}</wps:Execute>')


def package_inline() -> str:
    text = PACKAGE.read_text()
    text = re.sub(r'<\?xml[^>]*\?>', '', text)
    return re.sub(r'<!--.*?-->', '', text, flags=re.S)


def exception_code(reply: requests.Response) -> str:
    root = assert_valid(reply.content)
    return root.find(f'{{{OWS}}}Exception').get('exceptionCode')


def test_describe_shows_the_er_outputs(server):
    root = assert_valid(requests.get(
        f'{server.url}/wps?service=WPS&version=2.0.0&request=DescribeProcess'
        '&identifier=DeployProcess,UndeployProcess', timeout=10).content)
    assert root.xpath('//wps:Input/ows:Identifier/text()', namespaces=NS) == [
        'applicationPackage', 'processIdentifier']
    assert root.xpath('//wps:Output/ows:Identifier/text()', namespaces=NS) == [
        'deployResult', 'undeployResult']


def test_deploy_and_undeploy_by_execute(server, files):
    body = execute('DeployProcess', '<wps:Input id="applicationPackage"><wps:Data '
                   f'mimeType="application/atom+xml">{package_inline()}</wps:Data></wps:Input>')
    reply = post(server, body)
    assert reply.status_code == 200, reply.text
    result = assert_valid(reply.content)
    deployed = result.xpath('wps:Output[@id="deployResult"]/wps:Data/wps:DeployResult',
                            namespaces=NS)[0]
    assert deployed.findtext(f'{{{WPS}}}DeploymentDone') == 'true'
    assert deployed.xpath('wps:ProcessSummary/ows:Identifier/text()', namespaces=NS) == ['echo']
    assert 'echo' in capabilities_ids(server)
    again = execute('DeployProcess', '<wps:Input id="applicationPackage"><wps:Reference '
                    f'xlink:href="{files}/echo.xml"/></wps:Input>')
    reply = post(server, again)
    assert exception_code(reply) == 'DuplicateProcess' and reply.status_code == 400
    assert 'exists already' in reply.text
    reply = post(server, execute('UndeployProcess', '<wps:Input id="processIdentifier">'
                                 '<wps:Data>echo</wps:Data></wps:Input>'))
    undeployed = assert_valid(reply.content).xpath('//wps:UndeployResult', namespaces=NS)[0]
    assert undeployed.findtext(f'{{{WPS}}}UndeploymentDone') == 'true'
    assert 'echo' not in capabilities_ids(server)
    reply = post(server, again)  # by reference this time: deploys again
    assert assert_valid(reply.content).xpath('//wps:DeploymentDone/text()',
                                             namespaces=NS) == ['true']
    post(server, execute('UndeployProcess', '<wps:Input id="processIdentifier">'
                         '<wps:Data>echo</wps:Data></wps:Input>'))


WPS_T = f"""<wps:DeployProcess xmlns:wps="{WPS}" xmlns:ows="{OWS}"
    xmlns:xlink="http://www.w3.org/1999/xlink" service="WPS" version="2.0.0">
  <wps:ProcessOffering jobControlOptions="async-execute dismiss"
                       outputTransmission="value reference">
    <wps:Process>
      <ows:Title>Echo (WPS-T)</ows:Title>
      <ows:Identifier>echo-t</ows:Identifier>
      <wps:Input>
        <ows:Title>Message</ows:Title>
        <ows:Identifier>message</ows:Identifier>
        <wps:LiteralData xmlns="">
          <wps:Format mimeType="text/plain" default="true"/>
          <LiteralDataDomain default="true"><ows:AnyValue/>
            <ows:DataType ows:reference="http://www.w3.org/2001/XMLSchema#string"
              >string</ows:DataType>
          </LiteralDataDomain>
        </wps:LiteralData>
      </wps:Input>
      <wps:Output>
        <ows:Title>Result</ows:Title>
        <ows:Identifier>result</ows:Identifier>
        <wps:ComplexData><wps:Format mimeType="text/plain" default="true"/></wps:ComplexData>
      </wps:Output>
    </wps:Process>
  </wps:ProcessOffering>
  <wps:DeploymentProfile>
    <wps:DeploymentProfileName
      >http://www.opengis.net/profiles/eoc/dockerizedApplication</wps:DeploymentProfileName>
    <wps:ExecutionUnit><wps:Reference xlink:href="eoorder-test/echo:1.0"/></wps:ExecutionUnit>
  </wps:DeploymentProfile>
</wps:DeployProcess>"""


def test_wps_t_deploy_run_undeploy(server):
    reply = post(server, WPS_T)
    assert reply.status_code == 200, reply.text
    assert reply.content.count(b'DeploymentDone>true<') == 1
    assert 'echo-t' in capabilities_ids(server)
    duplicate = post(server, WPS_T)
    assert exception_code(duplicate) == 'DuplicateProcess'
    reply = post(server, execute('echo-t', '<wps:Input id="message"><wps:Data>hi T'
                                 '</wps:Data></wps:Input>', mode='async'))
    job_id = assert_valid(reply.content).findtext(f'{{{WPS}}}JobID')
    deadline = time.monotonic() + 120
    while server.job(job_id)['status'] not in ('successful', 'failed'):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    result = assert_valid(requests.get(
        f'{server.url}/wps?service=WPS&version=2.0.0&request=GetResult&jobId={job_id}',
        timeout=10).content)
    assert result.xpath('wps:Output[@id="result"]/wps:Data/text()',
                        namespaces=NS)[0].strip() == 'hi T'
    reply = post(server, f'<wps:UndeployProcess xmlns:wps="{WPS}" xmlns:ows="{OWS}" '
                 'service="WPS" version="2.0.0"><ows:Identifier>echo-t</ows:Identifier>'
                 '</wps:UndeployProcess>')
    assert b'UndeploymentDone>true<' in reply.content
    assert 'echo-t' not in capabilities_ids(server)


def test_wps_t_without_execution_unit(server):
    body = WPS_T.replace('<wps:ExecutionUnit><wps:Reference xlink:href="eoorder-test/echo:1.0"'
                         '/></wps:ExecutionUnit>', '')
    assert exception_code(post(server, body)) == 'MissingParameterValue'


def test_inputs_by_reference_are_staged_in(server, files):
    package = json.loads((PACKAGE.parent / 'echo.ogcapppkg.json').read_text())
    package['processDescription']['id'] = 'echo-ref'
    reply = requests.post(f'{server.url}/processes', json=package, timeout=30,
                          headers={'Content-Type': 'application/ogcapppkg+json'})
    assert reply.status_code == 201, reply.text
    body = execute('echo-ref', '<wps:Input id="message"><wps:Reference '
                   f'xlink:href="{files}/message.txt"/></wps:Input>'
                   '<wps:Output id="result" transmission="value"/>')
    result = assert_valid(post(server, body).content)
    assert result.xpath('wps:Output[@id="result"]/wps:Data/text()',
                        namespaces=NS)[0].strip() == 'staged over HTTP'
    refused = execute('echo-ref', '<wps:Input id="message"><wps:Reference '
                      'xlink:href="http://169.254.169.254/latest/meta-data"/></wps:Input>')
    reply = post(server, refused)
    assert exception_code(reply) == 'NoApplicableCode' and reply.status_code == 500
    assert '169.254.169.254' in reply.text

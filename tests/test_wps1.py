"""WPS 1.0.0 at /wps: capabilities, descriptions, Execute (RawDataOutput, ResponseDocument,
stored with status updates at the status location, lineage), KVP and XML, and OWSLib's
WebProcessingService driving a deployed Docker package end to end."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import pytest
import requests

from tests.support.wps_schemas import assert_valid

WPS1 = 'http://www.opengis.net/wps/1.0.0'
OWS1 = 'http://www.opengis.net/ows/1.1'
NS = {'wps': WPS1, 'ows': OWS1, 'xlink': 'http://www.w3.org/1999/xlink'}
PACKAGES = Path(__file__).parent / 'data' / 'packages'
WPS2_NS = {'wps2': 'http://www.opengis.net/wps/2.0', 'ows2': 'http://www.opengis.net/ows/2.0'}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    from .conftest import Server
    server = Server(tmp_path_factory.mktemp('wps1')).start()
    reply = requests.post(f'{server.url}/processes', timeout=30,
                          data=(PACKAGES / 'echo.ogcapppkg.json').read_bytes(),
                          headers={'Content-Type': 'application/ogcapppkg+json'})
    assert reply.status_code == 201, reply.text
    yield server
    server.stop()


def kvp(server, **params) -> requests.Response:
    return requests.get(f'{server.url}/wps', timeout=60,
                        params={'service': 'WPS', 'version': '1.0.0', **params})


def execute(process: str, inputs: dict, form: str) -> bytes:
    data = ''.join(f'<wps:Input><ows:Identifier>{k}</ows:Identifier><wps:Data>'
                   f'<wps:LiteralData>{v}</wps:LiteralData></wps:Data></wps:Input>'
                   for k, v in inputs.items())
    return (f'<wps:Execute xmlns:wps="{WPS1}" xmlns:ows="{OWS1}" service="WPS" '
            f'version="1.0.0"><ows:Identifier>{process}</ows:Identifier>'
            f'<wps:DataInputs>{data}</wps:DataInputs><wps:ResponseForm>{form}'
            '</wps:ResponseForm></wps:Execute>').encode()


def post(server, body: bytes) -> requests.Response:
    return requests.post(f'{server.url}/wps', data=body, timeout=60,
                         headers={'Content-Type': 'text/xml'})


def test_capabilities_and_descriptions(server):
    root = assert_valid(kvp(server, request='GetCapabilities').content, '1.0.0')
    ids = root.xpath('//wps:Process/ows:Identifier/text()', namespaces=NS)
    assert {'echo', 'countdown', 'DeployProcess'} <= set(ids)
    root = assert_valid(kvp(server, request='DescribeProcess', identifier='echo,countdown')
                        .content, '1.0.0')
    assert root.xpath('ProcessDescription/ows:Identifier/text()', namespaces=NS) == [
        'echo', 'countdown']
    assert root.xpath('ProcessDescription[ows:Identifier="echo"]/@storeSupported',
                      namespaces=NS) == ['true']


def test_response_document_with_lineage(server):
    form = ('<wps:ResponseDocument lineage="true"><wps:Output><ows:Identifier>count'
            '</ows:Identifier></wps:Output></wps:ResponseDocument>')
    root = assert_valid(post(server, execute('countdown', {'steps': 2, 'delay': 0}, form))
                        .content, '1.0.0')
    assert root.find(f'{{{WPS1}}}Status/{{{WPS1}}}ProcessSucceeded') is not None
    assert root.xpath('wps:DataInputs/wps:Input[ows:Identifier="steps"]//wps:LiteralData'
                      '/text()', namespaces=NS) == ['2']
    assert root.xpath('wps:OutputDefinitions/wps:Output/ows:Identifier/text()',
                      namespaces=NS) == ['count']
    assert root.xpath('wps:ProcessOutputs/wps:Output/wps:Data/wps:LiteralData/text()',
                      namespaces=NS) == ['2']


def test_raw_data_output(server):
    form = '<wps:RawDataOutput><ows:Identifier>text</ows:Identifier></wps:RawDataOutput>'
    reply = post(server, execute('text', {'text': 'abc'}, form))
    assert reply.status_code == 200 and reply.text == 'ABC'
    reply = kvp(server, request='Execute', identifier='text', DataInputs='text=x%3By',
                RawDataOutput='text')
    assert reply.text == 'X;Y'


def test_text_xml_cannot_hold_is_given_in_base64(server):
    """An output holding characters XML text cannot hold (a control character from the
    input) is answered in base64 (ComplexData's `encoding`), not as a server error."""
    reply = kvp(server, request='Execute', identifier='text', DataInputs='text=a%01b%00')
    assert reply.status_code == 200, reply.text
    data = assert_valid(reply.content, '1.0.0').find(f'.//{{{WPS1}}}ComplexData')
    assert data.get('encoding') == 'base64'
    assert base64.b64decode(data.text) == 'A\x01B\x00'.encode()


def test_stored_execution_updates_its_status_location(server):
    form = ('<wps:ResponseDocument storeExecuteResponse="true" status="true">'
            '<wps:Output asReference="true"><ows:Identifier>count</ows:Identifier>'
            '</wps:Output></wps:ResponseDocument>')
    root = assert_valid(post(server, execute('countdown', {'steps': 8, 'delay': 0.25}, form))
                        .content, '1.0.0')
    location = root.get('statusLocation')
    assert root.find(f'{{{WPS1}}}Status/{{{WPS1}}}ProcessAccepted') is not None or \
        root.find(f'{{{WPS1}}}Status/{{{WPS1}}}ProcessStarted') is not None
    seen, deadline = set(), time.monotonic() + 30
    while True:
        status = assert_valid(requests.get(location, timeout=10).content, '1.0.0')
        state = status.find(f'{{{WPS1}}}Status')[0].tag.split('}')[1]
        seen.add(state)
        if state == 'ProcessSucceeded':
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert 'ProcessStarted' in seen
    link = status.xpath('//wps:Output/wps:Reference/@href', namespaces=NS)[0]
    assert requests.get(link, timeout=10).text == '8'
    job_id = location.rstrip('/').rsplit('/', 1)[-1]
    assert requests.get(f'{server.url}/jobs/{job_id}', timeout=10).json()['status'] == \
        'successful'


def test_errors_are_ows_1_1_reports(server):
    reply = kvp(server, request='DescribeProcess', identifier='nope')
    root = assert_valid(reply.content, '1.0.0')
    assert root.tag == f'{{{OWS1}}}ExceptionReport' and reply.status_code == 400
    assert root.find(f'{{{OWS1}}}Exception').get('exceptionCode') == 'NoSuchProcess'
    reply = kvp(server, request='Execute', identifier='countdown', DataInputs='steps=x')
    assert assert_valid(reply.content, '1.0.0').find(f'{{{OWS1}}}Exception').get(
        'exceptionCode') == 'InvalidParameterValue'


def test_owslib_runs_a_docker_package(server):
    from owslib.wps import WebProcessingService
    wps = WebProcessingService(f'{server.url}/wps', version='1.0.0', skip_caps=True)
    wps.getcapabilities()
    assert 'echo' in [p.identifier for p in wps.processes]
    process = wps.describeprocess('echo')
    assert [i.identifier for i in process.dataInputs] == ['message']
    assert [o.identifier for o in process.processOutputs] == ['result']
    execution = wps.execute('echo', [('message', 'hello WPS')],
                            output=[('result', True)], mode='ASYNC')
    assert execution.statusLocation
    deadline = time.monotonic() + 120
    while not execution.isComplete():
        assert time.monotonic() < deadline
        execution.checkStatus(sleepSecs=0.5)
    assert execution.isSucceded(), execution.errors
    output = execution.processOutputs[0]
    assert output.identifier == 'result'
    assert requests.get(output.reference, timeout=10).text.strip() == 'hello WPS'
    job_id = execution.statusLocation.rstrip('/').rsplit('/', 1)[-1]
    assert server.job(job_id)['processID'] == 'echo'


def test_owslib_deploys_runs_and_undeploys_through_wps(server):
    """OWSLib alone, WPS 1.0.0 only: the Testbed-13 package deployed by executing
    DeployProcess, the new Docker process run asynchronously and monitored, its output
    fetched, then UndeployProcess."""
    from owslib.wps import SYNC, ComplexDataInput, WebProcessingService
    package = (PACKAGES / 'echo.tb13.xml').read_text().split('?>', 1)[1] \
        .replace('<dc:identifier>echo<', '<dc:identifier>echo-owslib<') \
        .replace('<ows:Identifier>echo<', '<ows:Identifier>echo-owslib<')
    wps = WebProcessingService(f'{server.url}/wps', version='1.0.0', skip_caps=True)
    deployed = wps.execute('DeployProcess', [('applicationPackage', ComplexDataInput(
        package, mimeType='application/atom+xml'))], output=[('deployResult', False)],
        mode=SYNC)
    assert deployed.isSucceded(), deployed.errors
    result = assert_valid(deployed.response, '1.0.0')
    assert result.xpath('//wps2:DeploymentDone/text()', namespaces=WPS2_NS) == ['true']
    assert result.xpath('//wps2:ProcessSummary/ows2:Identifier/text()',
                        namespaces=WPS2_NS) == ['echo-owslib']
    wps.getcapabilities()
    assert 'echo-owslib' in [p.identifier for p in wps.processes]
    assert [i.identifier for i in wps.describeprocess('echo-owslib').dataInputs] == ['message']
    execution = wps.execute('echo-owslib', [('message', 'deployed by WPS')],
                            output=[('result', False)])
    deadline = time.monotonic() + 120
    while not execution.isComplete():
        assert time.monotonic() < deadline
        execution.checkStatus(sleepSecs=0.5)
    assert execution.isSucceded(), execution.errors
    [output] = execution.processOutputs
    assert output.identifier == 'result' and output.data[0].strip() == 'deployed by WPS'
    gone = wps.execute('UndeployProcess', [('processIdentifier', 'echo-owslib')],
                       output=[('undeployResult', False)], mode=SYNC)
    assert gone.isSucceded(), gone.errors
    assert assert_valid(gone.response, '1.0.0').xpath(
        '//wps2:UndeploymentDone/text()', namespaces=WPS2_NS) == ['true']
    wps.getcapabilities()
    assert 'echo-owslib' not in [p.identifier for p in wps.processes]

"""WPS 2.0.2 and 1.0.0 at /wps on the processes and job engine of OGC API - Processes:
every answer checked against the official schemas shipped with the package."""

from __future__ import annotations

import base64
import time

import pytest
import requests

from tests.support.wps_schemas import assert_valid

WPS = 'http://www.opengis.net/wps/2.0'
WPS1 = 'http://www.opengis.net/wps/1.0.0'
OWS = 'http://www.opengis.net/ows/2.0'
OWS1 = 'http://www.opengis.net/ows/1.1'
NS = {'wps': WPS, 'ows': OWS, 'wps1': WPS1, 'ows1': OWS1,
      'xlink': 'http://www.w3.org/1999/xlink'}


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    from .conftest import Server
    server = Server(tmp_path_factory.mktemp('wps')).start()
    yield server
    server.stop()


def kvp(server, **params) -> requests.Response:
    return requests.get(f'{server.url}/wps', params={'service': 'WPS', **params}, timeout=30)


def post(server, body: str | bytes) -> requests.Response:
    data = body.encode() if isinstance(body, str) else body
    return requests.post(f'{server.url}/wps', data=data, timeout=60,
                         headers={'Content-Type': 'application/xml'})


def exception_code(reply: requests.Response, version: str = '2.0.0') -> str:
    root = assert_valid(reply.content, version)
    ows = OWS1 if version == '1.0.0' else OWS
    assert root.tag == f'{{{ows}}}ExceptionReport'
    return root.find(f'{{{ows}}}Exception').get('exceptionCode')


def execute2(process: str, inputs: dict, mode: str = 'async', response: str = 'document',
             outputs: dict | None = None) -> str:
    parts = ''.join(f'<wps:Input id="{k}"><wps:Data>{v}</wps:Data></wps:Input>'
                    for k, v in inputs.items())
    outs = ''.join(f'<wps:Output id="{k}" transmission="{t}"/>'
                   for k, t in (outputs or {}).items())
    return (f'<wps:Execute xmlns:wps="{WPS}" xmlns:ows="{OWS}" service="WPS" version="2.0.0" '
            f'mode="{mode}" response="{response}"><ows:Identifier>{process}</ows:Identifier>'
            f'{parts}{outs}</wps:Execute>')


# -- WPS 2.0 ---------------------------------------------------------------------------
def test_capabilities_list_every_public_process(server):
    reply = kvp(server, request='GetCapabilities')
    assert reply.status_code == 200
    root = assert_valid(reply.content)
    ids = root.xpath('//wps:ProcessSummary/ows:Identifier/text()', namespaces=NS)
    listed = [p['id'] for p in requests.get(f'{server.url}/processes?limit=1000', timeout=10)
              .json()['processes']]
    assert sorted(ids) == sorted(listed)
    assert 'countdown' in ids and 'DeployProcess' in ids
    assert not [i for i in ids if i.startswith('_')]


def test_describe_process_kvp_and_xml(server):
    reply = kvp(server, request='DescribeProcess', version='2.0.0', identifier='countdown,text')
    root = assert_valid(reply.content)
    assert root.xpath('wps:ProcessOffering/wps:Process/ows:Identifier/text()',
                      namespaces=NS) == ['countdown', 'text']
    steps = root.xpath('//wps:Input[ows:Identifier="steps"]', namespaces=NS)[0]
    assert steps.get('minOccurs') == '0'
    assert steps.xpath('.//ows:DataType/@ows:reference', namespaces=NS) == [
        'http://www.w3.org/2001/XMLSchema#integer']
    body = (f'<wps:DescribeProcess xmlns:wps="{WPS}" xmlns:ows="{OWS}" service="WPS" '
            'version="2.0.0"><ows:Identifier>text</ows:Identifier></wps:DescribeProcess>')
    assert assert_valid(post(server, body).content).tag == f'{{{WPS}}}ProcessOfferings'


def test_unknown_process_and_internal_ones_are_no_such_process(server):
    for pid in ('nope', '_oseo_order_item'):
        reply = kvp(server, request='DescribeProcess', version='2.0.0', identifier=pid)
        assert reply.status_code == 400
        assert exception_code(reply) == 'NoSuchProcess'


def test_sync_document_is_the_same_job_as_ogc_api(server):
    reply = post(server, execute2('countdown', {'steps': 2, 'delay': 0.01}, mode='sync'))
    assert reply.status_code == 200, reply.text
    root = assert_valid(reply.content)
    assert root.tag == f'{{{WPS}}}Result'
    job_id = root.findtext(f'{{{WPS}}}JobID')
    assert root.xpath('wps:Output[@id="count"]/wps:Data/wps:LiteralValue/text()',
                      namespaces=NS) == ['2']
    job = server.job(job_id)
    assert job['status'] == 'successful' and job['processID'] == 'countdown'
    assert requests.get(f'{server.url}/jobs/{job_id}/results', timeout=10).json() == {
        'count': 2}


def test_sync_raw_is_the_output_itself(server):
    reply = post(server, execute2('text', {'text': 'hello'}, mode='sync', response='raw'))
    assert reply.status_code == 200
    assert reply.headers['Content-Type'].startswith('text/plain')
    assert reply.text == 'HELLO'


def test_async_status_result_and_links(server):
    reply = post(server, execute2('countdown', {'steps': 5, 'delay': 0.2}))
    assert reply.status_code == 200, reply.text
    info = assert_valid(reply.content)
    assert info.tag == f'{{{WPS}}}StatusInfo'
    job_id = info.findtext(f'{{{WPS}}}JobID')
    assert info.findtext(f'{{{WPS}}}Status') in ('Accepted', 'Running')
    assert 'rel="monitor"' in reply.headers['Link'] and 'rel="cancel"' in reply.headers['Link']
    early = kvp(server, request='GetResult', version='2.0.0', jobId=job_id)
    assert exception_code(early) == 'ResultNotReady'
    deadline = time.monotonic() + 30
    while True:
        status = assert_valid(kvp(server, request='GetStatus', version='2.0.0',
                                  jobId=job_id).content)
        if status.findtext(f'{{{WPS}}}Status') == 'Succeeded':
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    body = (f'<wps:GetResult xmlns:wps="{WPS}" service="WPS" version="2.0.0">'
            f'<wps:JobID>{job_id}</wps:JobID></wps:GetResult>')
    result = assert_valid(post(server, body).content)
    assert result.xpath('wps:Output/wps:Data/wps:LiteralValue/text()', namespaces=NS) == ['5']
    assert result.find(f'{{{WPS}}}ExpirationDate') is not None


def test_output_by_reference(server):
    reply = post(server, execute2('countdown', {'steps': 1, 'delay': 0}, mode='sync',
                                  outputs={'count': 'reference'}))
    root = assert_valid(reply.content)
    link = root.xpath('wps:Output/wps:Reference/@xlink:href', namespaces=NS)[0]
    assert requests.get(link, timeout=10).text == '1'


def test_text_xml_cannot_hold_is_given_in_base64(server):
    """GetResult of an output holding a control character (given through OGC API -
    Processes): base64 in wps:Data, not a server error."""
    job_id = server.submit('text', {'text': 'x\x02y'})
    assert server.wait_for(job_id)['status'] == 'successful'
    result = assert_valid(kvp(server, request='GetResult', version='2.0.0', jobId=job_id)
                          .content)
    data = result.find(f'{{{WPS}}}Output/{{{WPS}}}Data')
    assert data.get('encoding') == 'base64'
    assert base64.b64decode(data.text) == b'X\x02Y'


def test_dismiss_then_no_such_job(server):
    job_id = assert_valid(post(server, execute2('countdown', {'steps': 50, 'delay': 0.2}))
                          .content).findtext(f'{{{WPS}}}JobID')
    body = (f'<wps:Dismiss xmlns:wps="{WPS}" service="WPS" version="2.0.0">'
            f'<wps:JobID>{job_id}</wps:JobID></wps:Dismiss>')
    reply = post(server, body)
    assert assert_valid(reply.content).findtext(f'{{{WPS}}}Status') == 'Dismissed'
    assert server.job(job_id)['status'] == 'dismissed'
    assert exception_code(kvp(server, request='GetResult', version='2.0.0',
                              jobId=job_id)) == 'NoSuchJob'


@pytest.mark.parametrize('params, code', [
    ({'request': 'GetStatus', 'version': '2.0.0', 'jobId': 'nope'}, 'NoSuchJob'),
    ({'request': 'GetStatus', 'version': '2.0.0'}, 'MissingParameterValue'),
    ({'request': 'Frobnicate', 'version': '2.0.0'}, 'OperationNotSupported'),
    ({'request': 'DescribeProcess', 'version': '3.0.0', 'identifier': 'x'},
     'VersionNegotiationFailed'),
    ({'request': 'GetCapabilities', 'acceptVersions': '9.9.9'}, 'VersionNegotiationFailed'),
])
def test_kvp_errors(server, params, code):
    reply = kvp(server, **params)
    assert exception_code(reply) == code
    assert reply.status_code == (501 if code == 'OperationNotSupported' else 400)


def test_execute_errors(server):
    cases = [(execute2('countdown', {'nope': 1}, mode='sync'), 'NoSuchInput'),
             (execute2('countdown', {'steps': 'many'}, mode='sync'), 'InvalidParameterValue'),
             (execute2('text', {}, mode='sync'), 'MissingParameterValue'),
             (execute2('countdown-async', {}, mode='sync'), 'NoSuchMode'),
             (execute2('countdown', {}, mode='sync', outputs={'zzz': 'value'}), 'NoSuchOutput'),
             (b'<not-xml', 'NoApplicableCode')]
    for body, code in cases:
        reply = post(server, body)
        assert exception_code(reply) == code, body
        assert reply.status_code == 400, body
    handler = execute2('countdown', {}).replace(  # the Extension comes first (RequestBase)
        '<ows:Identifier>countdown</ows:Identifier>', '<wps:Extension><ows:ResponseHandler>'
        'mailto:a@example.org</ows:ResponseHandler></wps:Extension>'
        '<ows:Identifier>countdown</ows:Identifier>')
    reply = post(server, handler)  # this server has no SMTP: mailto: is not offered
    assert exception_code(reply) == 'OptionNotSupported' and reply.status_code == 501
    assert 'SMTP' in reply.text
    capabilities = assert_valid(kvp(server, request='GetCapabilities').content)
    assert capabilities.xpath('//ows:Operation[@name="Execute"]/ows:Constraint[@name='
                              '"ResponseHandler"]//ows:Value/text()',
                              namespaces=NS) == ['http', 'https']


def test_failed_sync_job_is_an_exception_report(server):
    reply = post(server, execute2('countdown', {'steps': 1, 'delay': 0, 'fail': 'true'},
                                  mode='sync'))
    assert reply.status_code == 500
    assert exception_code(reply) == 'NoApplicableCode'


def test_auto_mode_follows_the_process(server):
    quick = assert_valid(post(server, execute2('countdown', {'steps': 1, 'delay': 0},
                                               mode='auto')).content)
    assert quick.tag == f'{{{WPS}}}Result'
    queued = assert_valid(post(server, execute2('countdown-async', {'steps': 1, 'delay': 0},
                                                mode='auto')).content)
    assert queued.tag == f'{{{WPS}}}StatusInfo'

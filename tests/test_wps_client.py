"""A WPS 2.0 client written from the standard (OGC 14-065r2 XML and KVP encodings, plain
requests + lxml, no WPS library) drives the Testbed-13 ADES cycle end to end on one server:
discover, deploy a Docker application package by executing DeployProcess as the ER does,
run it asynchronously with push notification (webhook and e-mail), monitor, fetch, see the
same job through OGC API - Processes, undeploy. Every WPS answer is checked against the
official WPS 2.0 schema shipped with the package."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import requests
from lxml import etree

from tests.support.egress import allow_loopback
from tests.support.wps_schemas import assert_valid
from tests.test_notifications import attachment, mailbox, smtp_block  # mailbox: a fixture

WPS = 'http://www.opengis.net/wps/2.0'
OWS = 'http://www.opengis.net/ows/2.0'
XLINK = 'http://www.w3.org/1999/xlink'
NS = {'wps': WPS, 'ows': OWS, 'xlink': XLINK}
PACKAGE = Path(__file__).parent / 'data' / 'packages' / 'echo.tb13.xml'
PROCESS = 'echo-wps2'


@pytest.fixture(scope='module')
def server(tmp_path_factory, mailbox):
    from .conftest import Server
    block = allow_loopback({'notifications': smtp_block(mailbox)})
    server = Server(tmp_path_factory.mktemp('wps-client'), block).start()
    yield server
    server.stop()



def kvp(server, request: str, **params) -> etree._Element:
    reply = requests.get(f'{server.url}/wps', timeout=30, params={
        'service': 'WPS', 'version': '2.0.0', 'request': request, **params})
    return assert_valid(reply.content)


def post(server, body: str) -> requests.Response:
    return requests.post(f'{server.url}/wps', data=body.encode(), timeout=120,
                         headers={'Content-Type': 'application/xml'})


def execute(process: str, inputs: str, outputs: str, mode: str, handlers=()) -> str:
    """An Execute request as WPS 2.0 §9.7 and the ER §6.6.6 (handlers) encode it."""
    extension = ''.join(f'<ows:ResponseHandler>{h}</ows:ResponseHandler>' for h in handlers)
    return (f'<wps:Execute xmlns:wps="{WPS}" xmlns:ows="{OWS}" xmlns:xlink="{XLINK}" '
            f'service="WPS" version="2.0.0" mode="{mode}" response="document">'
            f'{f"<wps:Extension>{extension}</wps:Extension>" if extension else ""}'
            f'<ows:Identifier>{process}</ows:Identifier>{inputs}{outputs}</wps:Execute>')


def package() -> str:
    """The Testbed-13 OWS Context package of the echo image, under another process id."""
    text = re.sub(r'<\?xml[^>]*\?>|<!--.*?-->', '', PACKAGE.read_text(), flags=re.S)
    return text.replace('<dc:identifier>echo<', f'<dc:identifier>{PROCESS}<') \
        .replace('<ows:Identifier>echo<', f'<ows:Identifier>{PROCESS}<')


def test_deploy_run_notify_monitor_fetch_undeploy(server, mailbox, webhook):
    capabilities = kvp(server, 'GetCapabilities')
    offered = capabilities.xpath('//wps:ProcessSummary/ows:Identifier/text()', namespaces=NS)
    assert {'DeployProcess', 'UndeployProcess'} <= set(offered) and PROCESS not in offered
    assert {'http', 'https', 'mailto'} <= set(capabilities.xpath(
        '//ows:Operation[@name="Execute"]/ows:Constraint[@name="ResponseHandler"]'
        '//ows:Value/text()', namespaces=NS))

    # deploy: the ER's Execute of DeployProcess, the package inline, deployResult by value
    deployed = assert_valid(post(server, execute(
        'DeployProcess', '<wps:Input id="applicationPackage"><wps:Data mimeType='
        f'"application/atom+xml">{package()}</wps:Data></wps:Input>',
        '<wps:Output id="deployResult" transmission="value"/>', 'sync')).content)
    [result] = deployed.xpath('wps:Output[@id="deployResult"]/wps:Data/wps:DeployResult',
                              namespaces=NS)
    assert result.findtext('wps:DeploymentDone', namespaces=NS) == 'true'
    assert result.xpath('wps:ProcessSummary/ows:Identifier/text()', namespaces=NS) == [PROCESS]
    offering = kvp(server, 'DescribeProcess', identifier=PROCESS)
    assert offering.xpath('//wps:Input/ows:Identifier/text()', namespaces=NS) == ['message']

    # run asynchronously, notified by webhook and e-mail
    to = 'amc@example.org'
    reply = post(server, execute(
        PROCESS, '<wps:Input id="message"><wps:Data>from a WPS 2.0 client</wps:Data>'
        '</wps:Input>', '<wps:Output id="result" transmission="value"/>', 'async',
        [webhook.url, f'mailto:{to}']))
    info = assert_valid(reply.content)
    assert info.tag == f'{{{WPS}}}StatusInfo', reply.text
    job_id = info.findtext('wps:JobID', namespaces=NS)
    rels = [link['rel'] for link in requests.utils.parse_header_links(reply.headers['Link'])]
    assert rels == ['monitor', 'cancel']

    deadline = time.monotonic() + 120
    while (status := kvp(server, 'GetStatus', jobId=job_id).findtext(
            'wps:Status', namespaces=NS)) in ('Accepted', 'Running'):
        assert time.monotonic() < deadline
        time.sleep(0.3)
    assert status == 'Succeeded'
    fetched = assert_valid(post(server, f'<wps:GetResult xmlns:wps="{WPS}" service="WPS" '
                                f'version="2.0.0"><wps:JobID>{job_id}</wps:JobID>'
                                '</wps:GetResult>').content)
    assert fetched.xpath('wps:Output[@id="result"]/wps:Data/text()',
                         namespaces=NS)[0].strip() == 'from a WPS 2.0 client'

    job = server.job(job_id)  # the same job through OGC API - Processes
    assert (job['processID'], job['status']) == (PROCESS, 'successful')
    assert webhook.event.wait(30)
    headers, body = webhook.messages[0]
    pushed = assert_valid(body)
    assert headers['Content-Type'].split(';')[0] == 'application/xml'
    assert [pushed.findtext(f'wps:{n}', namespaces=NS) for n in ('JobID', 'Status')] == [
        job_id, 'Succeeded']
    mail = mailbox.wait_for(lambda m: m['To'] == to)
    assert job_id in mail['Subject'] and 'Succeeded' in mail['Subject']
    assert assert_valid(attachment(mail)[1]).findtext('wps:JobID', namespaces=NS) == job_id

    undeployed = assert_valid(post(server, execute(
        'UndeployProcess', f'<wps:Input id="processIdentifier"><wps:Data>{PROCESS}'
        '</wps:Data></wps:Input>', '', 'sync')).content)
    assert undeployed.xpath('//wps:UndeployResult/wps:UndeploymentDone/text()',
                            namespaces=NS) == ['true']
    gone = requests.get(f'{server.url}/wps', timeout=30, params={
        'service': 'WPS', 'version': '2.0.0', 'request': 'DescribeProcess',
        'identifier': PROCESS})
    assert gone.status_code == 400
    assert assert_valid(gone.content).find(f'{{{OWS}}}Exception').get(
        'exceptionCode') == 'NoSuchProcess'

"""Every OGC example request of WPS 1.0.0 and 2.0 that is valid against the official schema
gets an answer valid against it too (SOAP requests: in a SOAP envelope), from a server whose
processes are shaped like the examples' (tests/support/wps_processes.py)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import requests
from lxml import etree

from tests.support import wps_processes
from tests.support.wps_schemas import assert_valid, schema

SHARED = Path(os.environ.get('EOORDER_SHARED',
                             Path(__file__).resolve().parents[2] / 'shared'))
MIRROR = SHARED / 'ogc-schemas' / 'schemas.opengis.net' / 'wps'  # read for its examples
EXAMPLES = sorted([*(MIRROR / '1.0.0' / 'examples').glob('*request*.xml'),
                   *(MIRROR / '2.0' / 'xml-examples').glob('*Request*.xml')])
SOAP = ('http://www.w3.org/2003/05/soap-envelope', 'http://schemas.xmlsoap.org/soap/envelope/')
WPS1 = 'http://www.opengis.net/wps/1.0.0'


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    from .conftest import TEST_PROCESSES, Server
    resources = {**TEST_PROCESSES, **wps_processes.resources()}
    server = Server(tmp_path_factory.mktemp('wps-examples'), resources=resources).start()
    yield server
    server.stop()


def _body(root: etree._Element) -> etree._Element:
    """The WPS element (inside a SOAP body, if any)."""
    if etree.QName(root).namespace in SOAP:
        body = root.find(f'{{{etree.QName(root).namespace}}}Body')
        return next(child for child in body if isinstance(child.tag, str))
    return root


def _version(element: etree._Element) -> str:
    return '1.0.0' if etree.QName(element).namespace in (WPS1, 'http://www.opengis.net/ows/1.1') \
        else '2.0.0'


def test_the_examples_are_there():
    assert len(EXAMPLES) == 15  # 9 of WPS 1.0.0 (SOAP ones included), 6 of WPS 2.0


@pytest.mark.parametrize('path', EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_request_gets_a_valid_answer(server, path):
    request = _body(etree.parse(str(path)).getroot())
    version = _version(request)
    if not schema(version).validate(request):
        pytest.fail(f'{path.name} is not valid against the WPS {version} schema: '
                    f'{schema(version).error_log}')
    reply = requests.post(f'{server.url}/wps', data=path.read_bytes(), timeout=60,
                          headers={'Content-Type': 'application/xml'})
    if etree.QName(request).localname == 'Execute' and b'RawDataOutput' in path.read_bytes():
        assert reply.status_code == 200, reply.text
        assert etree.QName(etree.fromstring(reply.content)).localname == 'BufferedPolygon'
        return
    answer = etree.fromstring(reply.content)
    soap = etree.QName(answer).namespace in SOAP
    assert soap == (request.getparent() is not None)
    content = _body(answer)
    if soap and etree.QName(content).localname == 'Fault':
        content = next(content.iter('{http://www.opengis.net/ows/1.1}ExceptionReport',
                                    '{http://www.opengis.net/ows/2.0}ExceptionReport'))
    assert_valid(content, version)
    name = etree.QName(content).localname
    if etree.QName(request).localname in ('GetStatus', 'GetResult', 'Dismiss'):
        assert name == 'ExceptionReport' and b'NoSuchJob' in reply.content  # unknown job
    else:
        assert name != 'ExceptionReport', reply.text
    if content.get('statusLocation'):  # a stored execution: its status document too
        _follow(content.get('statusLocation'))


def _follow(location: str) -> None:
    """Poll a WPS 1.0.0 status location until the job ends; every document valid."""
    deadline = time.monotonic() + 60
    while True:
        status = assert_valid(requests.get(location, timeout=30).content, '1.0.0')
        [state] = status.find(f'{{{WPS1}}}Status')
        if etree.QName(state).localname in ('ProcessSucceeded', 'ProcessFailed'):
            return
        assert time.monotonic() < deadline, etree.tostring(status)
        time.sleep(0.1)


@pytest.mark.parametrize('version', ['1.0.0', '2.0.0'])
def test_multilingual_titles_become_the_english_text(server, version):
    """pygeoapi lets a process title be {'en': ..., 'fr': ...}: WPS gets one string."""
    reply = requests.get(f'{server.url}/wps', timeout=30, params={
        'service': 'WPS', 'request': 'GetCapabilities', 'acceptversions': version,
        'version': version})
    root = assert_valid(reply.content, version)
    ows = 'http://www.opengis.net/ows/1.1' if version == '1.0.0' else \
        'http://www.opengis.net/ows/2.0'
    titles = root.xpath('//*[local-name()="Process" or local-name()="ProcessSummary"]'
                        '[ows:Identifier="Buffer"]/ows:Title/text()', namespaces={'ows': ows})
    assert titles == ['Buffer']


def test_english_picks_the_english_text_and_keeps_everything_else():
    from pygeoapi_eoorder.wps.describe import english
    metadata = {'id': 'p', 'title': {'en': 'Buffer', 'fr': 'Tampon'},
                'keywords': ['plain', {'fr': 'zone', 'en': 'area'}],
                'inputs': {'x': {'title': 'X', 'description': {'de': 'Eins', 'en': 'One'},
                                 'schema': {'type': 'string', 'enum': ['en', 'fr']}}}}
    assert english(metadata) == {
        'id': 'p', 'title': 'Buffer', 'keywords': ['plain', 'area'],
        'inputs': {'x': {'title': 'X', 'description': 'One',
                         'schema': {'type': 'string', 'enum': ['en', 'fr']}}}}
    assert metadata['title'] == {'en': 'Buffer', 'fr': 'Tampon'}  # a copy, not in place

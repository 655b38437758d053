"""The /oseo endpoint over HTTP: bindings, content types, KVP, exceptions, the OGC sample
messages and the pyoseo corpus; every response is validated against the OSEO schema."""

from __future__ import annotations

import pytest
import requests
from lxml import etree

from .conftest import Server
from .support import oseo
from .support.oseo import NS, OSEO, SOAP11, SOAP12, WSA


COLLECTIONS = ['http://www.opengis.net/def/EOP/ESA/0/ESA.EECF.ENVISAT_ASA_IMx_xS',
               'http://www.opengis.net/def/EOP/ESA/0/TEST.DLR.TSX.SUBSCRIPTION',
               'urn:cgls:global:lst_v1_0.045degree']


@pytest.fixture(scope='module')
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp('oseo')
    root = directory / 'products'
    oseo.make_products(root, ['p1'])
    block = oseo.eoorder_block(root)
    # the sample messages' and the corpus' collections, with the options they use
    block['ordering']['collections'] += [
        {'id': COLLECTIONS[0], 'enclosure': f'file://{root}/p1.dat', 'subscription_orders': True,
         'media': ['CD-ROM'],
         'options': [{'name': n} for n in ('processingLevel', 'productType',
                                           'qualityOfService')]},
        {'id': COLLECTIONS[1], 'subscription_orders': True},
        {'id': COLLECTIONS[2], 'enclosure': f'file://{root}/p1.dat',
         'options': [{'name': n} for n in ('Format', 'MapProjection', 'RegionOfInterest')]}]
    block['ordering']['delivery'] = {'expiration_seconds': 3600}
    server = Server(directory, block, {}).start()
    yield server
    server.stop()


def test_kvp_get_capabilities(server):
    reply = requests.get(f'{server.url}/oseo', params={'service': 'OS',
                                                       'request': 'GetCapabilities'}, timeout=10)
    assert reply.status_code == 200
    assert reply.headers['Content-Type'].startswith('application/xml')
    caps = oseo.payload(reply)
    assert caps.tag == f'{{{OSEO}}}Capabilities'
    collections = caps.findall('oseo:Contents/oseo:SupportedCollection/oseo:collectionId', NS)
    assert {c.text for c in collections} >= {'test-collection', 'sequential', *COLLECTIONS}
    ops = {o.get('name') for o in caps.iterfind('ows:OperationsMetadata/ows:Operation', NS)}
    assert ops == {'GetCapabilities', 'GetOptions', 'GetQuotation', 'Submit', 'GetStatus',
                   'DescribeResultAccess', 'Cancel'}
    assert caps.find('oseo:Contents/oseo:ProductOrders', NS).get('supported') == 'true'


@pytest.mark.parametrize('params, code, locator', [
    ({'request': 'GetCapabilities'}, 'MissingParameterValue', 'service'),
    ({'service': 'WPS', 'request': 'GetCapabilities'}, 'InvalidParameterValue', 'service'),
    ({'service': 'OS'}, 'MissingParameterValue', 'request'),
    ({'service': 'OS', 'request': 'Submit'}, 'OperationNotSupported', 'request'),
    ({'service': 'OS', 'request': 'GetCapabilities', 'acceptVersions': '2.0.0'},
     'VersionNegotiationFailed', 'AcceptVersions'),
    ({'service': 'OS', 'request': 'GetCapabilities', 'sections': 'Nope'},
     'InvalidParameterValue', 'Sections'),
])
def test_kvp_errors(server, params, code, locator):
    reply = requests.get(f'{server.url}/oseo', params=params, timeout=10)
    assert reply.status_code in (400, 501)
    assert oseo.exception(reply) == (code, locator)


def test_kvp_sections(server):
    reply = requests.get(f'{server.url}/oseo', params={
        'service': 'OS', 'request': 'GetCapabilities', 'sections': 'Contents'}, timeout=10)
    caps = oseo.payload(reply)
    assert [etree.QName(c).localname for c in caps] == ['Contents']


def test_three_bindings_and_content_types(server):
    body = oseo.require(oseo.SAMPLES / 'GetCapabilities.xml').read_bytes()
    plain = oseo.post(server, body)
    assert plain.headers['Content-Type'].startswith('application/xml')
    assert oseo.payload(plain).tag == f'{{{OSEO}}}Capabilities'
    inner = body.split(b'?>', 1)[-1].decode()
    s12 = oseo.post(server, oseo.soap12(inner), 'application/soap+xml')
    assert s12.status_code == 200
    assert s12.headers['Content-Type'].startswith('application/soap+xml')
    assert etree.fromstring(s12.content).tag == f'{{{SOAP12}}}Envelope'
    assert oseo.payload(s12).tag == f'{{{OSEO}}}Capabilities'
    s11 = oseo.post(server, oseo.soap11(inner), 'text/xml', headers={'SOAPAction': '"GetCapabilities"'})
    assert s11.headers['Content-Type'].startswith('text/xml')
    assert etree.fromstring(s11.content).tag == f'{{{SOAP11}}}Envelope'
    assert oseo.payload(s11).tag == f'{{{OSEO}}}Capabilities'


def test_ws_addressing_relates_to(server):
    message_id = 'urn:uuid:7b5e4c84-1111-4f0e-9d3a-000000000001'
    headers = f'<wsa:MessageID>{message_id}</wsa:MessageID><wsa:Action>GetStatus</wsa:Action>'
    body = oseo.get_status('no-such-order', 'brief')
    for wrap, namespace in ((oseo.soap12, SOAP12), (oseo.soap11, SOAP11)):
        reply = oseo.post(server, wrap(body, headers), 'application/soap+xml')
        envelope = etree.fromstring(reply.content)
        assert envelope.findtext(f'{{{namespace}}}Header/{{{WSA}}}RelatesTo') == message_id
        assert envelope.findtext(f'{{{namespace}}}Header/{{{WSA}}}MessageID').startswith('urn:uuid:')
        assert oseo.exception(reply) == ('InvalidOrderIdentifier', 'orderId')
    # a fault keeps the SOAP version's rules: 1.1 -> 500 + Client; 1.2 -> 400 + Sender
    s11 = oseo.post(server, oseo.soap11(body, headers), 'text/xml')
    assert s11.status_code == 500
    assert etree.fromstring(s11.content).findtext(f'.//faultcode') == 'soap:Client'
    s12 = oseo.post(server, oseo.soap12(body, headers), 'application/soap+xml')
    assert s12.status_code == 400
    assert etree.fromstring(s12.content).findtext(
        f'.//{{{SOAP12}}}Code/{{{SOAP12}}}Value') == 'soap:Sender'


@pytest.mark.parametrize('data, code, locator, status', [
    (b'not xml at all', 'NoApplicableCode', 'request', 400),
    (b'', 'NoApplicableCode', 'request', 400),
    (b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>', 'NoApplicableCode', 'request', 400),
    (f'<Submit xmlns="urn:other" service="OS" version="1.0.0"/>'.encode(),
     'OperationNotSupported', 'Submit', 501),
    (f'<Order xmlns="{OSEO}" service="OS" version="1.0.0"/>'.encode(),
     'OperationNotSupported', 'Order', 501),
    (oseo.get_status('x').replace('1.0.0', '2.0.0').encode(), 'InvalidParameterValue',
     'version', 400),
    (oseo.get_status('x').replace('<presentation>full</presentation>', '').encode(),
     'MissingParameterValue', 'presentation', 400),
    (oseo.get_status('x', 'everything').encode(), 'InvalidParameterValue', 'presentation', 400),
])
def test_bad_input_plain_xml(server, data, code, locator, status):
    reply = oseo.post(server, data)
    assert reply.status_code == status, reply.text
    assert reply.headers['Content-Type'].startswith('application/xml')
    assert oseo.exception(reply) == (code, locator)
    assert 'Traceback' not in reply.text


def test_oversized_body(server):
    reply = oseo.post(server, b'<x>' + b'a' * (1024 * 1024 + 10) + b'</x>')
    assert reply.status_code == 413
    assert oseo.exception(reply)[0] == 'NoApplicableCode'


def test_a_method_oseo_does_not_take_is_an_exception_report(server):
    for method in ('PUT', 'DELETE', 'PATCH'):
        reply = requests.request(method, f'{server.url}/oseo', data=b'<x/>', timeout=10,
                                 headers={'Content-Type': 'application/xml'})
        assert reply.status_code == 405
        assert reply.headers['Content-Type'].startswith('application/xml')
        assert oseo.exception(reply)[0] == 'OperationNotSupported'
        assert {'GET', 'POST'} <= {m.strip() for m in reply.headers['Allow'].split(',')}


def test_bad_input_stores_nothing(server):
    before = requests.get(f'{server.url}/orders', timeout=10).json()['numberMatched']
    bad = oseo.submit(oseo.item('i1', 'p1', options='<Format>Jpeg2000</Format>'))
    assert oseo.exception(oseo.post(server, bad)) == ('InvalidParameterValue', 'Format')
    unknown = oseo.submit(oseo.item('i1', 'p1', collection='nope'))
    assert oseo.exception(oseo.post(server, unknown)) == ('UnsupportedCollection',
                                                          'collectionId')
    tasking = oseo.submit(f'<orderItem><itemId>t</itemId><taskingRequestId><ID>urn:t</ID>'
                          f'</taskingRequestId></orderItem>', order_type='TASKING_ORDER')
    assert oseo.exception(oseo.post(server, tasking)) == ('OrderTypeNotSupported', 'orderType')
    assert requests.get(f'{server.url}/orders', timeout=10).json()['numberMatched'] == before


def _samples():
    return sorted(p for p in oseo.require(oseo.SAMPLES).glob('*.xml'))


def _corpus():
    return sorted(oseo.require(oseo.CORPUS).rglob('*.xml'))


REQUESTS = ('GetCapabilities', 'GetOptions', 'GetQuotation', 'Submit', 'GetStatus',
            'DescribeResultAccess', 'Cancel')


def _answered(server, path):
    data = path.read_bytes()
    root = etree.fromstring(data)
    soap = etree.QName(root).namespace in (SOAP11, SOAP12)
    reply = oseo.post(server, data, 'application/soap+xml' if soap else 'application/xml')
    assert 'Traceback' not in reply.text
    envelope = etree.fromstring(reply.content)
    if soap:
        assert etree.QName(envelope).namespace == etree.QName(root).namespace
    return reply, oseo.payload(reply)


@pytest.mark.parametrize('path', _samples(), ids=lambda p: p.name)
def test_ogc_sample_messages(server, path):
    """Every request among the OGC samples gets a schema-valid answer; the valid ones
    (Cancel, GetStatus and DescribeResultAccess name an order that does not exist
    here: InvalidOrderIdentifier) succeed."""
    reply, answer = _answered(server, path)
    name = etree.QName(etree.parse(str(path)).getroot()).localname
    if name in ('GetCapabilities', 'GetOptions', 'GetQuotation', 'Submit'):
        assert reply.status_code == 200, reply.text
        assert answer.tag != f'{{{oseo.OWS}}}ExceptionReport'
    elif name in ('Cancel', 'DescribeResultAccess', 'GetStatus'):
        assert oseo.exception(reply) == ('InvalidOrderIdentifier', 'orderId')
    else:  # responses and WS-Notification messages are not requests to this service
        assert oseo.exception(reply)[0] == 'OperationNotSupported'


@pytest.mark.parametrize('path', _corpus(), ids=lambda p: p.name)
def test_pyoseo_corpus(server, path):
    """Every pyoseo request gets a schema-valid response or a proper exception."""
    reply, answer = _answered(server, path)
    if answer.tag == f'{{{oseo.OWS}}}ExceptionReport':
        code, locator = oseo.exception(reply)
        assert code in ('InvalidParameterValue', 'MissingParameterValue',
                        'OperationNotSupported', 'InvalidOrderIdentifier',
                        'UnsupportedCollection', 'NoApplicableCode'), code
        assert locator
    else:
        assert reply.status_code == 200


def test_corpus_submit_becomes_order(server):
    """pyoseo's product order with options (SOAP 1.1, WS-Security) runs to completion."""
    path = next(oseo.require(oseo.CORPUS).glob('soapui/12_*.xml'))
    reply, answer = _answered(server, path)
    order_id = answer.findtext('oseo:orderId', namespaces=NS)
    status, items = oseo.wait_status(server, order_id, ('Completed', 'Failed'))
    assert status == 'Completed', items
    assert len(items) == 5

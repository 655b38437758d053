"""Fuzzing the OSEO endpoint in process: requests derived from the OGC sample messages, the
pyoseo corpus and valid requests of our own, mutated by hypothesis, are POSTed to /oseo.

Property: every reply is a schema-valid OSEO response or ows:ExceptionReport (in a SOAP
Fault for SOAP), never an internal error; nothing is logged at ERROR level."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from lxml import etree

from pygeoapi_eoorder import xmlsafe
from pygeoapi_eoorder.ordering.parsing import parse_order

from ..support import oseo
from .fuzzing import mutate_bytes, mutate_tree, nasty_text, query_string


REQUESTS = ('Cancel', 'DescribeResultAccess', 'GetCapabilities', 'GetOptions', 'GetQuotation',
            'GetStatus', 'Submit', 'Submit2', 'GetOptions_subscription_with_restriction')
NAMES = ['Submit', 'GetStatus', 'Cancel', 'GetOptions', 'GetQuotation', 'GetCapabilities',
         'DescribeResultAccess', 'SubmitAck', 'orderSpecification', 'orderItem', 'itemId',
         'productId', 'identifier', 'collectionId', 'orderType', 'orderId', 'presentation',
         'option', 'ParameterData', 'encoding', 'values', 'packaging', 'priority',
         'deliveryOptions', 'onlineDataAccess', 'protocol', 'statusNotification',
         'subscriptionId', 'taskingRequestId', 'filteringCriteria', 'lastUpdate',
         'lastUpdateEnd', 'orderReference', 'subFunction', 'Body', 'Header', 'Envelope',
         'sceneSelection', 'mediaDelivery', 'packageMedium', 'Format', 'unknown']
CONTENT_TYPES = ['application/xml', 'text/xml', 'application/soap+xml',
                 'application/soap+xml; charset=utf-8', 'text/plain', '']


def _corpus() -> list[bytes]:
    files = [oseo.require(oseo.SAMPLES / f'{name}.xml') for name in REQUESTS]
    for folder in ('soapui', 'custom_samples', 'incorrect_messages'):
        files += sorted(oseo.require(oseo.CORPUS / folder).glob('*.xml'))
    bodies = [f.read_bytes() for f in files]
    items = oseo.item('a', 'P1', options='<Format>NetCDF</Format>') + oseo.item('b', 'P2')
    bodies += [oseo.submit(items).encode(), oseo.soap12(oseo.submit(oseo.item('1', 'a'))),
               oseo.soap11(oseo.get_status('ORDER-1')), oseo.get_status('x', 'brief').encode(),
               oseo.describe('x', 'nextReady').encode(), oseo.cancel('x').encode(),
               oseo.submit(oseo.item('s', 'P1'), order_type='SUBSCRIPTION_ORDER',
                           packaging='zip').encode()]
    return bodies


CORPUS = _corpus()
TREES = [xmlsafe.parse(body) for body in CORPUS if b'<!DOCTYPE' not in body]


def _check(app, reply) -> None:
    errors = app.error_log.take()
    assert not errors, errors[0]
    assert reply.status_code in (200, 400, 401, 403, 413, 415, 500, 501), reply.status_code
    reply.content = reply.get_data()  # what oseo.payload reads (a requests.Response's name)
    element = oseo.payload(reply)  # parses and validates against the OSEO / OWS schemas
    if element.tag == f'{{{oseo.OWS}}}ExceptionReport':
        text = element.findtext('.//ows:ExceptionText', namespaces=oseo.NS) or ''
        assert 'internal error' not in text and 'invalid response' not in text, text


@pytest.fixture(scope='module')
def client(inprocess_app):
    inprocess_app.error_log.take()
    return inprocess_app.test_client()


def test_the_unmutated_corpus_is_answered_properly(inprocess_app, client):
    assert len(TREES) >= 40, len(TREES)
    for body in CORPUS:
        for content_type in CONTENT_TYPES[:3]:
            _check(inprocess_app, client.post('/oseo', data=body,
                                              headers={'Content-Type': content_type}))


@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_mutated_requests(inprocess_app, client, data):
    tree = data.draw(st.sampled_from(TREES), label='seed')
    mutated = mutate_tree(data, tree, NAMES)
    body = etree.tostring(mutated)
    content_type = data.draw(st.sampled_from(CONTENT_TYPES), label='content type')
    _check(inprocess_app, client.post('/oseo', data=body,
                                      headers={'Content-Type': content_type}))


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_corrupted_bytes(inprocess_app, client, data):
    body = mutate_bytes(data, data.draw(st.sampled_from(CORPUS), label='seed'))
    _check(inprocess_app, client.post('/oseo', data=body,
                                      headers={'Content-Type': 'application/xml'}))


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(params=st.dictionaries(st.sampled_from(['service', 'request', 'acceptVersions',
                                                'sections', 'SERVICE', 'Request', 'other']),
                              st.one_of(nasty_text, st.sampled_from(
                                  ['OS', 'GetCapabilities', '1.0.0', 'All', '9\x0f'])),
                              max_size=5))
def test_kvp_get_capabilities(inprocess_app, client, params):
    _check(inprocess_app, client.get('/oseo', query_string=query_string(params)))


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.binary(max_size=300))
def test_safe_xml_parser_raises_only_unsafe_xml(data):
    try:
        xmlsafe.parse(data)
    except xmlsafe.UnsafeXML:
        pass


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_order_parser_on_schema_valid_mutations(data):
    """parse_order is given schema-valid orderSpecifications: on those it returns or raises
    OseoError, nothing else."""
    from pygeoapi_eoorder.ordering.errors import OseoError
    seeds = [t for t in TREES if t.find('.//{%s}orderSpecification' % oseo.OSEO) is not None]
    tree = mutate_tree(data, data.draw(st.sampled_from(seeds), label='seed'), NAMES)
    spec = tree.find('.//{%s}orderSpecification' % oseo.OSEO) \
        if etree.QName(tree).localname != 'orderSpecification' else tree
    if spec is None:
        return
    operation = spec.getparent()
    if operation is None or oseo._SCHEMAS.errors(operation):
        return
    try:
        order = parse_order(spec)
    except OseoError:
        return
    assert all(isinstance(item.options, dict) for item in order.items)

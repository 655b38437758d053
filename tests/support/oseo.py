"""Helpers of the OSEO tests: schema and corpus locations, request builders, validation.

The servers under test use the schemas shipped in the package (no `ordering.schemas`). The
tests check every OSEO payload with an independent validator: the `xmlschema` package, built
once per session from the official files of the mirror `../shared/ogc-schemas` (which
`scripts/build-schemas` copies into the package). The mirror, its example messages and the
request corpus in `../shared` are prerequisites: missing, they fail the tests loudly.
"""

from __future__ import annotations

import functools
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import xmlschema
from lxml import etree

from pygeoapi_eoorder.oseo.schemas import SchemaSet

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get('EOORDER_SHARED', REPO.parent / 'shared'))
SCHEMAS = SHARED / 'ogc-schemas'
SAMPLES = SCHEMAS / 'schemas.opengis.net' / 'oseo' / '1.0' / 'SampleMessages'
CORPUS = SHARED / 'oseo-corpus' / 'pyoseo'

OSEO = 'http://www.opengis.net/oseo/1.0'
OWS = 'http://www.opengis.net/ows/2.0'
SOAP11 = 'http://schemas.xmlsoap.org/soap/envelope/'
SOAP12 = 'http://www.w3.org/2003/05/soap-envelope'
WSA = 'http://www.w3.org/2005/08/addressing'
NS = {'oseo': OSEO, 'ows': OWS, 's11': SOAP11, 's12': SOAP12, 'wsa': WSA}
_SCHEMAS = SchemaSet()  # the server's own loader, on the shipped schemas


def require(path: Path) -> Path:
    """`path` (under ../shared), or a loud failure: a missing prerequisite never skips."""
    if not path.exists():
        pytest.fail(f'{path} is missing: the tests need the official OGC schemas and the OSEO '
                    f'corpus beside the clone; fix: provide {SHARED} (or set EOORDER_SHARED)',
                    pytrace=False)
    return path


def _local_copy(uri: str) -> str:
    """The mirror's copy of an http(s) schema location (the validator never goes online)."""
    for scheme in ('http://', 'https://'):
        if uri.startswith(scheme):
            return (SCHEMAS / uri[len(scheme):]).as_uri()
    return uri


@functools.cache
def independent_schema() -> xmlschema.XMLSchema:
    """oseo.xsd as the `xmlschema` package reads it from the official files (once a session).

    `lax`: xmlschema refuses a restriction in OWS 2.0's owsAdditionalParameters.xsd that
    libxml2 accepts; elements are still fully validated."""
    root = require(SCHEMAS / 'schemas.opengis.net' / 'oseo' / '1.0' / 'oseo.xsd')
    return xmlschema.XMLSchema(str(root), uri_mapper=_local_copy, allow='local',
                               validation='lax')


def ordering_block(root: Path, **extra) -> dict:
    """An ordering block whose collections find products as files under `root` (schemas:
    the ones shipped with the package, the default)."""
    block = {'enabled': True,
             'notifications': {'allow_internal_addresses': True, 'timeout_seconds': 5},
             'collections': [
                 {'id': 'test-collection', 'description': 'products served by the test',
                  'enclosure': f'file://{root}/{{identifier}}.dat',
                  'subscription_orders': True,
                  'options': [{'name': 'Format', 'values': ['GeoTiff', 'NetCDF'],
                               'default': 'GeoTiff'},
                              {'name': 'RegionOfInterest'}]},
                 {'id': 'sequential', 'enclosure': f'file://{root}/{{identifier}}.dat',
                  'parallel': False, 'packaging': ['zip']}]}
    block.update(extra)
    return block


def eoorder_block(root: Path, jobs: dict | None = None, auth: dict | None = None,
                  **ordering) -> dict:
    block = {'ordering': ordering_block(root, **ordering),
             'execution': {'stage_in': {'allowed_file_roots': [str(root)]}},
             'jobs': jobs or {'workers': 2}}
    if auth:
        block['auth'] = auth
    return block


def make_products(directory: Path, names) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / f'{name}.dat').write_bytes(f'product {name}\n'.encode() * 100)


def validate(element: etree._Element) -> None:
    """Assert that an OSEO payload (or ows:ExceptionReport) is valid for the independent
    validator (the server has checked it with its own loader before sending it)."""
    error = next(independent_schema().iter_errors(element), None)
    assert error is None, f'{etree.QName(element).localname}: {error}'


def payload(response: requests.Response) -> etree._Element:
    """The OSEO element of a reply (inside a SOAP body or fault detail), validated."""
    root = etree.fromstring(response.content)
    namespace = etree.QName(root).namespace
    if namespace in (SOAP11, SOAP12):
        body = root.find(f'{{{namespace}}}Body')
        child = body[0]
        if etree.QName(child).localname == 'Fault':
            detail = child.find('detail') if namespace == SOAP11 else \
                child.find(f'{{{namespace}}}Detail')
            child = detail[0]
        root = child
    validate(root)
    return root


def exception(response: requests.Response) -> tuple[str, str | None]:
    report = payload(response)
    assert report.tag == f'{{{OWS}}}ExceptionReport', etree.tostring(report)
    exc = report.find('ows:Exception', NS)
    return exc.get('exceptionCode'), exc.get('locator')


def soap12(body: str, headers: str = '') -> bytes:
    return (f'<soap:Envelope xmlns:soap="{SOAP12}" xmlns:wsa="{WSA}"><soap:Header>{headers}'
            f'</soap:Header><soap:Body>{body}</soap:Body></soap:Envelope>').encode()


def soap11(body: str, headers: str = '') -> bytes:
    return (f'<soapenv:Envelope xmlns:soapenv="{SOAP11}" xmlns:wsa="{WSA}"><soapenv:Header>'
            f'{headers}</soapenv:Header><soapenv:Body>{body}</soapenv:Body>'
            f'</soapenv:Envelope>').encode()


def item(item_id: str, identifier: str, collection: str | None = 'test-collection',
         options: str = '') -> str:
    coll = f'<collectionId>{collection}</collectionId>' if collection else ''
    opts = (f'<option><ParameterData><encoding>XMLEncoding</encoding><values>{options}'
            f'</values></ParameterData></option>') if options else ''
    return (f'<orderItem><itemId>{item_id}</itemId>{opts}<productId><identifier>{identifier}'
            f'</identifier>{coll}</productId></orderItem>')


def submit(items: str, *, notification: str = 'None', packaging: str | None = None,
           reference: str = 'ref-1', order_type: str = 'PRODUCT_ORDER',
           order_options: str = '', delivery: str = 'http') -> str:
    pack = f'<packaging>{packaging}</packaging>' if packaging else ''
    opts = (f'<option><ParameterData><encoding>XMLEncoding</encoding><values>{order_options}'
            f'</values></ParameterData></option>') if order_options else ''
    return (f'<Submit xmlns="{OSEO}" service="OS" version="1.0.0"><orderSpecification>'
            f'<orderReference>{reference}</orderReference>{pack}{opts}'
            f'<deliveryOptions><onlineDataAccess><protocol>{delivery}</protocol>'
            f'</onlineDataAccess></deliveryOptions><orderType>{order_type}</orderType>{items}'
            f'</orderSpecification><statusNotification>{notification}</statusNotification>'
            f'</Submit>')


def get_quotation(items: str, **kw) -> str:
    """A GetQuotation for the order specification `submit(items, **kw)` would send."""
    return submit(items, **kw).replace('<Submit ', '<GetQuotation ', 1) \
        .replace('</Submit>', '</GetQuotation>') \
        .replace('<statusNotification>None</statusNotification>', '')


def get_status(order_id: str, presentation: str = 'full') -> str:
    return (f'<GetStatus xmlns="{OSEO}" service="OS" version="1.0.0"><orderId>{order_id}'
            f'</orderId><presentation>{presentation}</presentation></GetStatus>')


def describe(order_id: str, sub: str = 'allReady') -> str:
    return (f'<DescribeResultAccess xmlns="{OSEO}" service="OS" version="1.0.0"><orderId>'
            f'{order_id}</orderId><subFunction>{sub}</subFunction></DescribeResultAccess>')


def cancel(order_id: str, notification: str = 'None') -> str:
    return (f'<Cancel xmlns="{OSEO}" service="OS" version="1.0.0"><orderId>{order_id}'
            f'</orderId><statusNotification>{notification}</statusNotification></Cancel>')


def post(server, data, content_type: str = 'application/xml', **kwargs) -> requests.Response:
    if isinstance(data, str):
        data = data.encode()
    return requests.post(f'{server.url}/oseo', data=data,
                         headers={'Content-Type': content_type, **kwargs.pop('headers', {})},
                         timeout=30, **kwargs)


def order_status(server, order_id: str) -> tuple[str, dict[str, str]]:
    root = payload(post(server, get_status(order_id)))
    spec = root.find('oseo:orderMonitorSpecification', NS)
    items = {i.findtext('oseo:itemId', namespaces=NS):
             i.findtext('oseo:orderItemStatusInfo/oseo:status', namespaces=NS)
             for i in spec.findall('oseo:orderItem', NS)}
    return spec.findtext('oseo:orderStatusInfo/oseo:status', namespaces=NS), items


def wait_status(server, order_id: str, statuses, timeout: float = 30) -> tuple[str, dict]:
    import time
    deadline = time.monotonic() + timeout
    while True:
        status, items = order_status(server, order_id)
        if status in statuses:
            return status, items
        if time.monotonic() > deadline:
            raise AssertionError(f'order {order_id} still {status} {items}')
        time.sleep(0.1)


class Receiver:
    """A loopback HTTP endpoint that records the notifications POSTed to it."""

    def __init__(self):
        self.messages: list[tuple[dict, bytes]] = []
        self.event = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
                outer.messages.append((dict(self.headers), body))
                outer.event.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}/notify'
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def payloads(self) -> list[etree._Element]:
        result = []
        for _, body in list(self.messages):
            root = etree.fromstring(body)
            namespace = etree.QName(root).namespace
            result.append(root.find(f'{{{namespace}}}Body')[0] if namespace in
                          (SOAP11, SOAP12) else root)
        return result

    def wait_for(self, predicate, timeout: float = 20):
        import time
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for element in self.payloads():
                if predicate(element):
                    return element
            time.sleep(0.05)
        raise AssertionError(f'no matching notification; got {len(self.messages)}')

    def close(self):
        self.httpd.shutdown()


def order_id(server, body, *args, **kw) -> str:
    """POST an OSEO Submit; assert it was acknowledged; return the new order's id."""
    reply = post(server, body, *args, **kw)
    assert reply.status_code == 200, reply.text
    return payload(reply).findtext('oseo:orderId', namespaces=NS)

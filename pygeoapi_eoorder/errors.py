"""Error documents of the protocols, without a web framework: problem+json bodies
(RFC 7807) with the OGC exception type URIs, and the OWS 2.0 `ows:ExceptionReport` (OSEO,
and any adapter speaking OWS). The Flask response is `web.problem.problem`."""

from __future__ import annotations

import re
from http import HTTPStatus

from lxml import etree

OWS_NAMESPACE = 'http://www.opengis.net/ows/2.0'
PROBLEM_TYPE = 'application/problem+json'
_P1 = 'http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/'
_P2 = 'http://www.opengis.net/def/exceptions/ogcapi-processes-2/1.0/'

TYPES = {
    'no-such-process': _P1 + 'no-such-process',
    'no-such-job': _P1 + 'no-such-job',
    'result-not-ready': _P1 + 'result-not-ready',
    'invalid-parameter': _P1 + 'invalid-parameter',
    'server-error': _P1 + 'server-error',
    'unsupported-media-type': _P2 + 'unsupported-media-type',
    'duplicated-process': _P2 + 'duplicated-process',
    'immutable-process': _P2 + 'immutable-process',
    'workflow-not-found': _P2 + 'workflow-not-found',
    'not-found': 'about:blank',
    'unauthorized': 'about:blank',
    'forbidden': 'about:blank',
    'gone': 'about:blank',
    'method-not-allowed': 'about:blank',
    'server-busy': 'about:blank',
}

# pygeoapi's own exception codes, mapped onto the types above
PYGEOAPI_CODES = {
    'NoSuchProcess': 'no-such-process',
    'NoSuchJob': 'no-such-job',
    'ResultNotReady': 'result-not-ready',
    'InvalidParameterValue': 'invalid-parameter',
    'MissingParameterValue': 'invalid-parameter',
    'OperationParsingFailed': 'invalid-parameter',
    'InvalidQuery': 'invalid-parameter',
    'NotFound': 'not-found',
    'NoApplicableCode': 'server-error',
    'InternalError': 'server-error',
    'JobResultNotFound': 'server-error',
    'Forbidden': 'forbidden',
}


def problem_body(status: int, kind: str, detail: str, **extra) -> dict:
    body = {'type': TYPES.get(kind, kind), 'title': HTTPStatus(status).phrase,
            'status': status, 'detail': detail}
    body.update(extra)
    return body


def from_pygeoapi(status: int, body: dict) -> dict:
    """Rewrite a pygeoapi `{code, description}` error as a problem document."""
    code = str(body.get('code', ''))
    kind = PYGEOAPI_CODES.get(code, 'server-error' if status >= 500 else 'invalid-parameter')
    if status == 404 and kind == 'invalid-parameter':
        kind = 'not-found'
    return problem_body(status, kind, str(body.get('description', '')), code=code)


_NOT_XML = re.compile('[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]')


def xml_text(text: str) -> str:
    """`text` with the characters XML 1.0 cannot carry (control characters, lone
    surrogates: they come from the client's own input) replaced by U+FFFD."""
    return _NOT_XML.sub('\ufffd', text)


def xml_carries(text: str) -> bool:
    """Whether XML text can hold `text` as it is (see `xml_text`)."""
    return _NOT_XML.search(text) is None


def ows_exception_report(code: str, text: str, locator: str | None = None) -> etree._Element:
    """An ows:ExceptionReport (OWS 2.0) of one exception."""
    ows = f'{{{OWS_NAMESPACE}}}'
    report = etree.Element(ows + 'ExceptionReport', nsmap={'ows': OWS_NAMESPACE},
                           version='2.0.0')
    report.set('{http://www.w3.org/XML/1998/namespace}lang', 'en')
    exception = etree.SubElement(report, ows + 'Exception', exceptionCode=code)
    if locator:
        exception.set('locator', xml_text(locator[:255]))
    etree.SubElement(exception, ows + 'ExceptionText').text = xml_text(text[:4000])
    return report

"""OSEO exceptions and the OWS 2.0 ows:ExceptionReport that carries them."""

from __future__ import annotations

import re

from lxml import etree

from .xmlns import OWS, W

# exception code -> HTTP status (OGC 06-121r9 table 28, and 401/403 for identity)
HTTP_STATUS = {
    'OperationNotSupported': 501,
    'MissingParameterValue': 400,
    'InvalidParameterValue': 400,
    'VersionNegotiationFailed': 400,
    'OptionNotSupported': 501,
    'NoApplicableCode': 500,
    'AuthenticationFailed': 401,
    'AuthorizationFailed': 403,
    'InvalidOrderIdentifier': 400,
    'UnsupportedCollection': 400,
    'OrderTypeNotSupported': 501,
    'ProductNotAvailable': 400,
    'LimitExceeded': 400,
}


class OseoError(Exception):
    """An OSEO exception: a code, a text and the locator (the offending element or value)."""

    def __init__(self, code: str, text: str, locator: str | None = None,
                 status: int | None = None):
        super().__init__(text)
        self.code = code
        self.text = text
        self.locator = locator
        self.status = status

    @property
    def http_status(self) -> int:
        return self.status or HTTP_STATUS.get(self.code, 400)

    @property
    def is_client_fault(self) -> bool:
        return self.http_status < 500


def bad_request(text: str, locator: str | None = None) -> OseoError:
    """A request the server cannot read at all (not XML, not an OSEO message)."""
    return OseoError('NoApplicableCode', text, locator, status=400)


def missing(locator: str, text: str | None = None) -> OseoError:
    return OseoError('MissingParameterValue', text or f'{locator}: a value is required',
                     locator)


def invalid(locator: str, text: str) -> OseoError:
    return OseoError('InvalidParameterValue', text, locator)


_NOT_XML = re.compile('[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]')


def xml_text(text: str) -> str:
    """`text` with the characters XML 1.0 cannot carry (control characters, lone
    surrogates: they come from the client's own input) replaced by U+FFFD."""
    return _NOT_XML.sub('\ufffd', text)


def exception_report(error: OseoError) -> etree._Element:
    """An ows:ExceptionReport (OWS 2.0) for `error`."""
    exception = W.Exception(W.ExceptionText(xml_text(error.text[:4000])),
                            exceptionCode=error.code)
    if error.locator:
        exception.set('locator', xml_text(error.locator[:255]))
    report = W.ExceptionReport(exception, version='2.0.0')
    report.set('{http://www.w3.org/XML/1998/namespace}lang', 'en')
    return report


def is_exception_report(element: etree._Element) -> bool:
    return element.tag == f'{{{OWS}}}ExceptionReport'

"""OSEO exceptions and the OWS 2.0 ows:ExceptionReport that carries them."""

from __future__ import annotations

from lxml import etree

from ..errors import ows_exception_report
from .xmlns import OWS

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


def exception_report(error: OseoError) -> etree._Element:
    """An ows:ExceptionReport (OWS 2.0) for `error`."""
    return ows_exception_report(error.code, error.text, error.locator)


def is_exception_report(element: etree._Element) -> bool:
    return element.tag == f'{{{OWS}}}ExceptionReport'

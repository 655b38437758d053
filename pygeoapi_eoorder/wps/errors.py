"""WPS exceptions: ows:ExceptionReport (OWS 2.0 for WPS 2.0, OWS 1.1 for WPS 1.0.0) with
the codes and HTTP statuses of OWS Common (OGC 06-121r9 §8.6) and WPS 2.0 (14-065r2 §9)."""

from __future__ import annotations

from flask import Response

from .xmlns import OWS1, OWS2, XML_TYPE, q, serialize

from lxml import etree

STATUS = {  # OWS Common table 28, WPS 2.0 tables 41-44
    'OperationNotSupported': 501, 'MissingParameterValue': 400,
    'InvalidParameterValue': 400, 'VersionNegotiationFailed': 400,
    'InvalidUpdateSequence': 400, 'OptionNotSupported': 501, 'NoApplicableCode': 500,
    'NoSuchProcess': 400, 'NoSuchMode': 400, 'NoSuchInput': 400, 'NoSuchOutput': 400,
    'DataNotAccessible': 400, 'SizeExceeded': 400, 'TooManyInputs': 400,
    'TooManyOutputs': 400, 'NoSuchFormat': 400, 'WrongInputData': 400,
    'InternalServerError': 500, 'NoSuchJob': 400, 'ResultNotReady': 400,
    'ServerBusy': 503, 'FileSizeExceeded': 400, 'StorageNotSupported': 400,
    'NotEnoughStorage': 400, 'DuplicateProcess': 400, 'NoSuchProcessOffering': 400,
    'NotAuthorized': 403, 'UnsupportedOperation': 501,
}


class WpsError(Exception):
    """An exception the client is told about, with its code and locator."""

    def __init__(self, code: str, text: str, locator: str | None = None,
                 status: int | None = None):
        super().__init__(text)
        self.code, self.text, self.locator = code, text, locator
        self.status = status or STATUS.get(code, 400)


def report(error: WpsError, version: str = '2.0.0') -> etree._Element:
    """The ows:ExceptionReport element of `error` for the WPS `version`."""
    ows = OWS1 if version.startswith('1.') else OWS2
    root = etree.Element(q(ows, 'ExceptionReport'), nsmap={'ows': ows},
                         version='1.1.0' if ows == OWS1 else '2.0.2')
    root.set('{http://www.w3.org/XML/1998/namespace}lang', 'en')
    attributes = {'exceptionCode': error.code}
    if error.locator:
        attributes['locator'] = error.locator
    exception = etree.SubElement(root, q(ows, 'Exception'), attributes)
    etree.SubElement(exception, q(ows, 'ExceptionText')).text = error.text
    return root


def response(error: WpsError, version: str = '2.0.0') -> Response:
    return Response(serialize(report(error, version)), status=error.status,
                    mimetype=XML_TYPE)

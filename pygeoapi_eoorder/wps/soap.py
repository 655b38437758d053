"""SOAP bodies (WPS 1.0.0 §10.x SOAP encoding): a request that came in a SOAP envelope is
answered in one, its exceptions in a SOAP Fault whose detail is the ows:ExceptionReport."""

from __future__ import annotations

from flask import Response
from lxml import etree

from .errors import WpsError, report
from .xmlns import SOAP11, SOAP12, q, serialize

MEDIA = {SOAP12: 'application/soap+xml', SOAP11: 'text/xml'}


def _envelope(soap: str, content: etree._Element) -> etree._Element:
    envelope = etree.Element(q(soap, 'Envelope'), nsmap={'soap': soap})
    etree.SubElement(envelope, q(soap, 'Body')).append(content)
    return envelope


def wrap(soap: str, reply: Response) -> Response:
    """A WPS XML reply inside a SOAP envelope (other media pass unchanged)."""
    if reply.mimetype not in ('application/xml', 'text/xml') or reply.status_code >= 300:
        return reply
    content = etree.fromstring(reply.get_data())
    reply.set_data(serialize(_envelope(soap, content)))
    reply.mimetype = MEDIA[soap]
    return reply


def fault(soap: str, error: WpsError, version: str) -> Response:
    """The exception as a SOAP Fault (1.2: Code/Reason/Detail; 1.1: faultcode/faultstring)."""
    sender = error.status < 500
    detail = report(error, version)
    if soap == SOAP12:
        fault_element = etree.Element(q(soap, 'Fault'))
        code = etree.SubElement(fault_element, q(soap, 'Code'))
        etree.SubElement(code, q(soap, 'Value')).text = 'soap:' + (
            'Sender' if sender else 'Receiver')
        reason = etree.SubElement(fault_element, q(soap, 'Reason'))
        text = etree.SubElement(reason, q(soap, 'Text'))
        text.text = error.text
        text.set('{http://www.w3.org/XML/1998/namespace}lang', 'en')
        etree.SubElement(fault_element, q(soap, 'Detail')).append(detail)
    else:
        fault_element = etree.Element(q(soap, 'Fault'))
        etree.SubElement(fault_element, 'faultcode').text = 'soap:' + (
            'Client' if sender else 'Server')
        etree.SubElement(fault_element, 'faultstring').text = error.text
        etree.SubElement(fault_element, 'detail').append(detail)
    return Response(serialize(_envelope(soap, fault_element)), status=error.status,
                    mimetype=MEDIA[soap])

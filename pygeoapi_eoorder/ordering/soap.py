"""SOAP 1.1, SOAP 1.2 and plain-XML bindings: unwrap requests, wrap responses and faults.

WS-Addressing headers are honoured: a reply carries `wsa:RelatesTo` (the request's
`wsa:MessageID`), a fresh `wsa:MessageID` and the response `wsa:Action`; `wsa:ReplyTo`
is kept as the endpoint for later notifications. A WS-Security UsernameToken names the
caller. SoapUI placeholders (`?`) in headers are treated as absent.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from lxml import etree

from .errors import OseoError, bad_request, exception_report
from .xmlns import SOAP11, SOAP12, WSA, WSSE, serialize

XML, S11, S12 = 'xml', 'soap11', 'soap12'
CONTENT_TYPES = {XML: 'application/xml; charset=utf-8', S11: 'text/xml; charset=utf-8',
                 S12: 'application/soap+xml; charset=utf-8'}
ENVELOPE_NS = {S11: SOAP11, S12: SOAP12}
ANONYMOUS = ('http://www.w3.org/2005/08/addressing/anonymous',
             'http://www.w3.org/2005/08/addressing/none')


def _value(element: etree._Element | None) -> str | None:
    """Text of a header element; SoapUI placeholders and blanks count as absent."""
    if element is None or element.text is None:
        return None
    value = element.text.strip()
    return None if value in ('', '?') or value.startswith('${') else value


@dataclass
class Message:
    """An incoming OSEO message with what its envelope said."""

    binding: str
    body: etree._Element
    message_id: str | None = None
    reply_to: str | None = None
    action: str | None = None
    username: str | None = None
    password: str | None = None
    headers: dict = field(default_factory=dict)


def unwrap(root: etree._Element) -> Message:
    """Find the operation element, in an envelope or bare."""
    namespace = etree.QName(root).namespace
    binding = {SOAP11: S11, SOAP12: S12}.get(namespace)
    if binding is None:
        if etree.QName(root).localname == 'Envelope':
            raise bad_request(f'unknown SOAP envelope namespace {namespace!r} '
                              f'(use {SOAP12} or {SOAP11})', 'Envelope')
        return Message(XML, root)
    body = root.find(f'{{{namespace}}}Body')
    if body is None:
        raise OseoError('MissingParameterValue', 'SOAP envelope without a Body', 'Body')
    children = [child for child in body if isinstance(child.tag, str)]
    if len(children) != 1:
        raise bad_request(f'SOAP Body must hold exactly one OSEO request '
                          f'(found {len(children)})', 'Body')
    message = Message(binding, children[0])
    header = root.find(f'{{{namespace}}}Header')
    if header is not None:
        message.message_id = _value(header.find(f'{{{WSA}}}MessageID'))
        message.action = _value(header.find(f'{{{WSA}}}Action'))
        reply_to = _value(header.find(f'{{{WSA}}}ReplyTo/{{{WSA}}}Address'))
        message.reply_to = reply_to if reply_to not in ANONYMOUS else None
        token = header.find(f'{{{WSSE}}}Security/{{{WSSE}}}UsernameToken')
        if token is not None:
            message.username = _value(token.find(f'{{{WSSE}}}Username'))
            message.password = _value(token.find(f'{{{WSSE}}}Password'))
    return message


def _addressing(namespace: str, relates_to: str | None, action: str | None) -> etree._Element:
    header = etree.Element(f'{{{namespace}}}Header', nsmap={'wsa': WSA})
    etree.SubElement(header, f'{{{WSA}}}MessageID').text = f'urn:uuid:{uuid.uuid4()}'
    if relates_to:
        etree.SubElement(header, f'{{{WSA}}}RelatesTo').text = relates_to
    if action:
        etree.SubElement(header, f'{{{WSA}}}Action').text = action
    return header


def envelope(binding: str, payload: etree._Element, *, relates_to: str | None = None,
             action: str | None = None, to: str | None = None) -> etree._Element:
    """`payload` in a SOAP envelope of `binding` (plain XML: the payload itself)."""
    if binding == XML:
        return payload
    namespace = ENVELOPE_NS[binding]
    root = etree.Element(f'{{{namespace}}}Envelope', nsmap={'soap': namespace})
    if relates_to or action or to:
        header = _addressing(namespace, relates_to, action)
        if to:
            etree.SubElement(header, f'{{{WSA}}}To').text = to
        root.append(header)
    etree.SubElement(root, f'{{{namespace}}}Body').append(payload)
    return root


def fault(binding: str, error: OseoError) -> etree._Element:
    """The ows:ExceptionReport, inside a SOAP Fault for SOAP bindings."""
    report = exception_report(error)
    if binding == XML:
        return report
    namespace = ENVELOPE_NS[binding]
    fault_element = etree.Element(f'{{{namespace}}}Fault')
    if binding == S11:
        code = 'soap:Client' if error.is_client_fault else 'soap:Server'
        etree.SubElement(fault_element, 'faultcode').text = code
        etree.SubElement(fault_element, 'faultstring').text = f'{error.code}: {error.text}'
        etree.SubElement(fault_element, 'detail').append(report)
    else:
        code = etree.SubElement(fault_element, f'{{{namespace}}}Code')
        etree.SubElement(code, f'{{{namespace}}}Value').text = (
            'soap:Sender' if error.is_client_fault else 'soap:Receiver')
        reason = etree.SubElement(fault_element, f'{{{namespace}}}Reason')
        reason_text = etree.SubElement(reason, f'{{{namespace}}}Text')
        reason_text.text = f'{error.code}: {error.text}'
        reason_text.set('{http://www.w3.org/XML/1998/namespace}lang', 'en')
        etree.SubElement(fault_element, f'{{{namespace}}}Detail').append(report)
    return fault_element


def fault_status(binding: str, error: OseoError) -> int:
    """HTTP status of an error reply: SOAP 1.1 faults are 500, SOAP 1.2 Sender faults 400."""
    if binding == S11:
        return 500
    if binding == S12:
        return 400 if error.is_client_fault else 500
    return error.http_status


def to_bytes(element: etree._Element) -> bytes:
    return serialize(element)

"""Namespaces and element makers of the WPS documents."""

from __future__ import annotations

from lxml import etree
from lxml.builder import ElementMaker

WPS2 = 'http://www.opengis.net/wps/2.0'
WPS1 = 'http://www.opengis.net/wps/1.0.0'
OWS2 = 'http://www.opengis.net/ows/2.0'
OWS1 = 'http://www.opengis.net/ows/1.1'
XLINK = 'http://www.w3.org/1999/xlink'
XSI = 'http://www.w3.org/2001/XMLSchema-instance'
XML = 'http://www.w3.org/XML/1998/namespace'
SOAP12 = 'http://www.w3.org/2003/05/soap-envelope'
SOAP11 = 'http://schemas.xmlsoap.org/soap/envelope/'
XS_TYPES = 'http://www.w3.org/2001/XMLSchema#'
XML_TYPE = 'application/xml'

NSMAP2 = {'wps': WPS2, 'ows': OWS2, 'xlink': XLINK, 'xsi': XSI}
NSMAP1 = {'wps': WPS1, 'ows': OWS1, 'xlink': XLINK, 'xsi': XSI}

W2 = ElementMaker(namespace=WPS2, nsmap=NSMAP2)
O2 = ElementMaker(namespace=OWS2, nsmap=NSMAP2)
W1 = ElementMaker(namespace=WPS1, nsmap=NSMAP1)
O1 = ElementMaker(namespace=OWS1, nsmap=NSMAP1)


def q(namespace: str, name: str) -> str:
    """Clark notation `{namespace}name`."""
    return f'{{{namespace}}}{name}'


def href(url: str) -> dict:
    """The xlink:href attribute."""
    return {q(XLINK, 'href'): url}


def serialize(element: etree._Element) -> bytes:
    return etree.tostring(element, xml_declaration=True, encoding='UTF-8')

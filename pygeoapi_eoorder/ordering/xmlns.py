"""XML namespaces of OSEO and the element builders that produce its messages."""

from __future__ import annotations

from datetime import datetime, timezone

from lxml import etree
from lxml.builder import ElementMaker

from ..errors import OWS_NAMESPACE as OWS

OSEO = 'http://www.opengis.net/oseo/1.0'
SWE = 'http://www.opengis.net/swe/2.0'
XLINK = 'http://www.w3.org/1999/xlink'
WSA = 'http://www.w3.org/2005/08/addressing'
WSSE = 'http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd'
SOAP11 = 'http://schemas.xmlsoap.org/soap/envelope/'
SOAP12 = 'http://www.w3.org/2003/05/soap-envelope'
NSMAP = {'oseo': OSEO, 'ows': OWS, 'swe': SWE, 'xlink': XLINK}
VERSION = '1.0.0'

O = ElementMaker(namespace=OSEO, nsmap=NSMAP)
W = ElementMaker(namespace=OWS, nsmap=NSMAP)
S = ElementMaker(namespace=SWE, nsmap=NSMAP)


def q(local: str, ns: str = OSEO) -> str:
    """Clark notation of an element name."""
    return f'{{{ns}}}{local}'


def local_name(element: etree._Element) -> str:
    return etree.QName(element).localname


def text(element: etree._Element | None, path: str, default: str | None = None) -> str | None:
    """Stripped text of the first OSEO-namespace descendant at `path` (oseo: prefix)."""
    if element is None:
        return default
    found = element.find(path, NSMAP)
    if found is None or found.text is None:
        return default
    return found.text.strip()


def xml_datetime(value: datetime | None) -> str:
    """xs:dateTime in UTC (store values are naive UTC)."""
    value = value or datetime.now(timezone.utc)
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def parse_xml_datetime(value: str) -> datetime:
    """An xs:dateTime as naive UTC; ValueError if it is not one."""
    parsed = datetime.fromisoformat(value.strip().replace('Z', '+00:00'))
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
    return parsed


def serialize(element: etree._Element) -> bytes:
    return etree.tostring(element, xml_declaration=True, encoding='UTF-8')

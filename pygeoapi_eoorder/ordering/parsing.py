"""Reading an orderSpecification (Submit, GetQuotation) into plain values."""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree

from .errors import OseoError, invalid
from .xmlns import OSEO, local_name, q, text

KINDS = {'productId': 'product', 'subscriptionId': 'subscription',
         'taskingRequestId': 'tasking'}


@dataclass
class ParsedItem:
    item_id: str
    kind: str
    identifier: str | None
    collection_id: str | None
    options: dict
    protocol: str | None
    element: etree._Element
    media: str | None = None


@dataclass
class ParsedOrder:
    order_type: str
    reference: str | None
    packaging: str | None
    priority: str | None
    protocol: str | None
    options: dict
    items: list[ParsedItem] = field(default_factory=list)
    element: etree._Element | None = None
    media: str | None = None


def _option_value(element: etree._Element) -> str:
    """An option's value: its text, or its inner XML when it has child elements."""
    children = [c for c in element if isinstance(c.tag, str)]
    if not children:
        return (element.text or '').strip()
    return ''.join(etree.tostring(c, encoding='unicode', with_tail=False) for c in children)


def parameter_values(parent: etree._Element, child: str) -> dict:
    """{name: value} of `child`/ParameterData/values elements (option or sceneSelection)."""
    values: dict[str, str] = {}
    for holder in parent.findall(q(child)):
        data = holder.find(q('ParameterData'))
        encoding = text(data, 'oseo:encoding')
        container = data.find(q('values')) if data is not None else None
        if container is None:
            continue
        if encoding != 'XMLEncoding':
            raise OseoError('OptionNotSupported', f'{child}: only XMLEncoding is supported',
                            'encoding')
        for element in container:
            if isinstance(element.tag, str):
                values[local_name(element)] = _option_value(element)
    return values


def _media(element: etree._Element) -> str | None:
    return text(element, 'oseo:deliveryOptions/oseo:mediaDelivery/oseo:packageMedium')


def _protocol(element: etree._Element) -> str | None:
    options = element.find(q('deliveryOptions'))
    if options is None:
        return None
    return (text(options, 'oseo:onlineDataAccess/oseo:protocol')
            or text(options, 'oseo:onlineDataDelivery/oseo:protocol'))


def parse_item(element: etree._Element) -> ParsedItem:
    choice = next((c for c in element if isinstance(c.tag, str)
                   and local_name(c) in KINDS), None)
    if choice is None:
        raise OseoError('MissingParameterValue', 'orderItem without productId, '
                        'subscriptionId or taskingRequestId', 'productId')
    kind = KINDS[local_name(choice)]
    identifier = text(choice, 'oseo:identifier') or text(choice, 'oseo:ID')
    return ParsedItem(item_id=text(element, 'oseo:itemId'), kind=kind, identifier=identifier,
                      collection_id=text(choice, 'oseo:collectionId'),
                      options=parameter_values(element, 'option'),
                      protocol=_protocol(element), element=element, media=_media(element))


def parse_order(spec: etree._Element) -> ParsedOrder:
    """A schema-valid orderSpecification as a ParsedOrder."""
    order = ParsedOrder(order_type=text(spec, 'oseo:orderType'),
                        reference=text(spec, 'oseo:orderReference'),
                        packaging=text(spec, 'oseo:packaging'),
                        priority=text(spec, 'oseo:priority'),
                        protocol=_protocol(spec),
                        options=parameter_values(spec, 'option'), element=spec,
                        media=_media(spec))
    seen = set()
    for element in spec.findall(q('orderItem')):
        item = parse_item(element)
        if item.item_id in seen:
            raise invalid('itemId', f'itemId {item.item_id!r} appears twice in the order')
        seen.add(item.item_id)
        order.items.append(item)
    return order


def is_oseo(element: etree._Element) -> bool:
    return etree.QName(element).namespace == OSEO

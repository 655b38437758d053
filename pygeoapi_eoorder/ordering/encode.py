"""Orders as OSEO XML: orderMonitorSpecification (brief or full) and item status."""

from __future__ import annotations

import copy

from lxml import etree

from .xmlns import O, OSEO, local_name, q, xml_datetime

_SPEC_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


def status_info(status: str, info: str | None) -> etree._Element:
    element = O.orderStatusInfo(O.status(status))
    if info:
        element.append(O.additionalStatusInfo(info[:4000]))
    return element


def _item(item: dict) -> etree._Element:
    """The stored orderItem with its orderItemStatusInfo appended."""
    element = etree.fromstring(item['item_xml'], _SPEC_PARSER)
    info = O.orderItemStatusInfo(O.status(item['status']))
    if item.get('status_info'):
        info.append(O.additionalStatusInfo(item['status_info'][:4000]))
    element.append(info)
    return element


def monitor_specification(order: dict, items: list[dict] | None) -> etree._Element:
    """orderMonitorSpecification: the order as submitted, its status, and (full) its items.

    `order` must carry `request_xml` when `items` is given; brief answers carry only the
    order type, id, status and date.
    """
    spec = O.orderMonitorSpecification()
    if items is not None and order.get('request_xml'):
        original = etree.fromstring(order['request_xml'], _SPEC_PARSER)
        for child in original:
            if isinstance(child.tag, str) and local_name(child) != 'orderItem':
                spec.append(copy.deepcopy(child))
    else:
        if order.get('reference'):
            spec.append(O.orderReference(order['reference']))
        spec.append(O.orderType(order['order_type']))
    spec.append(O.orderId(order['id']))
    spec.append(status_info(order['status'], order.get('status_info')))
    spec.append(O.orderDateTime(xml_datetime(order['created'])))
    for item in items or ():
        spec.append(_item(item))
    return spec


def order_item_xml(element: etree._Element) -> str:
    """A submitted orderItem kept for later answers (namespaces made self-contained)."""
    return etree.tostring(copy.deepcopy(element), encoding='unicode')


def spec_xml(element: etree._Element) -> str:
    """The submitted orderSpecification without its items (they are kept one by one)."""
    clone = copy.deepcopy(element)
    for item in clone.findall(q('orderItem')):
        clone.remove(item)
    clone.tag = f'{{{OSEO}}}orderSpecification'
    return etree.tostring(clone, encoding='unicode')

"""GetStatus: one order by orderId, or the caller's orders by filteringCriteria."""

from __future__ import annotations

from lxml import etree

from ...ordering.encode import monitor_specification
from ...ordering.errors import invalid, missing
from ...ordering.repository import OrderQuery
from ...ordering.xmlns import O, parse_xml_datetime, q, text

MAX_ORDERS = 1000


def _criteria(call, element: etree._Element) -> OrderQuery:
    query = OrderQuery(owner=call.owner, any_owner=call.admin, limit=MAX_ORDERS)
    for name, attr in (('lastUpdate', 'updated_from'), ('lastUpdateEnd', 'updated_to')):
        value = text(element, f'oseo:{name}')
        if value is not None:
            try:
                setattr(query, attr, parse_xml_datetime(value))
            except ValueError:
                raise invalid(name, f'{name}: {value!r} is not an xs:dateTime') from None
    query.statuses = [e.text.strip() for e in element.findall(q('orderStatus')) if e.text]
    query.reference = text(element, 'oseo:orderReference')
    return query


def get_status(call) -> etree._Element:
    request, service = call.request, call.service
    full = text(request, 'oseo:presentation') == 'full'
    order_id = text(request, 'oseo:orderId')
    criteria = request.find(q('filteringCriteria'))
    if order_id is not None:
        order = service.find(order_id, call.owner, call.admin)
        orders = [order]
    elif criteria is not None:
        orders, _ = service.repo.query(_criteria(call, criteria), with_request=full)
    else:  # schema-valid: an empty <orderId/>
        raise missing('orderId', 'GetStatus needs an orderId or filteringCriteria')
    response = O.GetStatusResponse(O.status('success'))
    for order in orders:
        items = None
        if full:
            items = service.repo.items(order['id'])
            if service.reconcile(order['id'], items):
                order = service.repo.get(order['id'])
                items = service.repo.items(order['id'])
        response.append(monitor_specification(order, items))
    return response

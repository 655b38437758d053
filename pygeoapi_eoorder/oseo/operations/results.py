"""DescribeResultAccess: download URLs of an order's ready items (allReady / nextReady)."""

from __future__ import annotations

from lxml import etree

from ...ordering import states
from ...ordering import workspace_delivery
from ...ordering.item_job import download_url, withdrawn
from ...ordering.xmlns import O, text, xml_datetime
from ...store import utcnow


def _product_id(item: dict) -> etree._Element | None:
    if item['kind'] != 'product' or not item['identifier']:
        return None
    element = O.productId(O.identifier(item['identifier']))
    if item['collection_id']:
        element.append(O.collectionId(item['collection_id']))
    return element


def describe_result_access(call) -> etree._Element:
    request, service = call.request, call.service
    order = service.find(text(request, 'oseo:orderId'), call.owner, call.admin)
    next_ready = text(request, 'oseo:subFunction') == 'nextReady'
    items = service.repo.items(order['id'])
    now = utcnow()
    ready = [i for i in items if i['status'] in (states.COMPLETED, states.DOWNLOADED)
             and i['token'] and not withdrawn(i, now) and not (next_ready and i['described'])]
    response = O.DescribeResultAccessResponse(O.status('success'))
    for item in ready:
        for name in item['files'] or ():
            url = O.URLs(O.itemId(item['item_id']))
            product = _product_id(item)
            if product is not None:
                url.append(product)
            url.append(O.itemAddress(O.ResourceAddress(
                O.URL(workspace_delivery.url(call.base_url, name)
                      or download_url(call.base_url, item['token'], name)))))
            if item['expires'] is not None:  # a workspace's files stay
                url.append(O.expirationDate(xml_datetime(item['expires'])))
            response.append(url)
        if next_ready:
            service.repo.update_item(item['id'], described=True)
    return response

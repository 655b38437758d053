"""GetQuotation: a price for an order specification, now (synchronous) or later in a
GetQuotationResponse POSTed to the client's ReplyTo endpoint (asynchronous)."""

from __future__ import annotations

import copy
import uuid
from datetime import timedelta

from lxml import etree

from ...ordering import workspace_delivery
from ...ordering.errors import OseoError, invalid
from ...ordering.notify import send
from ...ordering.parsing import parse_order
from ...ordering.xmlns import O, VERSION, q, text, xml_datetime
from ...store import utcnow

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def stored_specification(call, quotation_id: str, anyones: bool = False) -> etree._Element:
    """The orderSpecification a quotation was given for (valid, and the caller's unless
    `anyones`: an admin may look at any quotation, but orders only by their own)."""
    quotation = call.service.repo.quotation(quotation_id)
    if quotation is None or not (anyones or quotation['owner'] == call.owner):
        raise invalid('quotationId', f'no quotation {quotation_id!r} of yours')
    if quotation['valid_until'] < utcnow():
        raise invalid('quotationId', f'quotation {quotation_id!r} expired on '
                      f'{xml_datetime(quotation["valid_until"])}')
    return etree.fromstring(quotation['request_xml'], _PARSER)


def _quotation_element(call, quotation: dict, spec: etree._Element) -> etree._Element:
    order = parse_order(spec)
    conf = call.conf
    currency = quotation['currency']
    group = O.orderItemGroupPrice(
        O.provider(O.serviceName(conf.service['title'][:40]),
                   O.organization(conf.service['provider_name'][:40])),
        O.price(O.value(repr(float(quotation['price']))), O.currency(currency)))
    for item in order.items:
        collection = conf.collection_for(item.identifier, item.collection_id)
        price = float(collection.price_per_item) if collection else 0.0
        item_id = next(item.element.find(q(c)) for c in ('productId', 'subscriptionId',
                                                          'taskingRequestId')
                       if item.element.find(q(c)) is not None)
        group.append(O.orderItemPrice(O.itemId(item.item_id), copy.deepcopy(item_id),
                                      O.price(O.value(repr(price)), O.currency(currency))))
    return O.quotation(O.quotationId(quotation['id']),
                       O.validityTime(xml_datetime(quotation['valid_until'])),
                       O.price(O.value(repr(float(quotation['price']))), O.currency(currency)),
                       group)


def _quote(call, spec: etree._Element) -> dict:
    order = parse_order(spec)
    if not order.items:
        raise OseoError('MissingParameterValue', 'an order needs at least one orderItem',
                        'orderItem')
    collections = call.service.check(order, call.owner,
                                     call.user.roles if call.user else None)
    workspace_delivery.check(call.service.settings, call.auth, call.user, order)
    price = sum(float(c.price_per_item) if c else 0.0 for c in collections)
    now = utcnow()
    clone = copy.deepcopy(spec)  # keep the items: Submit by quotationId needs them
    quotation = {'id': str(uuid.uuid4()), 'owner': call.owner, 'created': now,
                 'valid_until': now + timedelta(seconds=call.conf.quotation['validity_seconds']),
                 'price': price, 'currency': call.conf.quotation['currency'],
                 'request_xml': etree.tostring(clone, encoding='unicode'), 'used': False}
    call.service.repo.add_quotation(**quotation)
    return quotation


def _send_response(call, quotation: dict, spec: etree._Element) -> None:
    message = O.GetQuotationResponse(O.status('success'),
                                     _quotation_element(call, quotation, spec),
                                     service='OS', version=VERSION)
    send(call.service, call.message.binding, call.message.reply_to, message,
         'GetQuotationResponse', call.owner)


def get_quotation(call) -> etree._Element:
    request = call.request
    quotation_id = text(request, 'oseo:quotationId')
    if quotation_id is not None:  # monitoring: the quotation given earlier
        spec = stored_specification(call, quotation_id, anyones=call.admin)
        quotation = call.service.repo.quotation(quotation_id)
        return O.GetQuotationAck(O.status('success'),
                                 _quotation_element(call, quotation, spec))
    spec = request.find(q('orderSpecification'))
    quotation = _quote(call, spec)
    if call.message.reply_to:
        _send_response(call, quotation, spec)
        return O.GetQuotationAck(O.status('success'), O.quotationId(quotation['id']))
    return O.GetQuotationAck(O.status('success'), _quotation_element(call, quotation, spec))

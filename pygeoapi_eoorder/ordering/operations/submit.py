"""Submit: commit the order, answer SubmitAck with its id; items then run as jobs."""

from __future__ import annotations

from lxml import etree

from ..errors import OseoError, invalid
from ..identity import require
from ..parsing import parse_order
from ..xmlns import O, q, text
from .quotation import stored_specification


def submit(call) -> etree._Element:
    request = call.request
    notification = text(request, 'oseo:statusNotification', 'None')
    quotation_id = text(request, 'oseo:quotationId')
    if quotation_id is not None:
        spec = stored_specification(call, quotation_id)
        if not call.service.repo.use_quotation(quotation_id):
            raise invalid('quotationId', f'quotation {quotation_id!r} was submitted already')
    else:
        spec = request.find(q('orderSpecification'))
    order = parse_order(spec)
    if not order.items:
        raise OseoError('MissingParameterValue', 'an order needs at least one orderItem',
                        'orderItem')
    collections = call.service.check(order, call.owner)
    for collection in {c.id for c in collections if c is not None}:
        require(call.auth, call.user, 'order', collection)
    record = call.service.submit(order, call.owner, collections, notification=notification,
                                 reply_to=call.message.reply_to,
                                 binding=call.message.binding, quotation_id=quotation_id)
    ack = O.SubmitAck(O.status('success'), O.orderId(record['id']))
    if record['reference']:
        ack.append(O.orderReference(record['reference']))
    return ack


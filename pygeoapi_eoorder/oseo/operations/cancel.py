"""Cancel: stop an order's item jobs; CancelResponse to the client's endpoint if asked."""

from __future__ import annotations

from lxml import etree

from ...ordering.notify import send, status_message
from ...ordering.xmlns import O, text


def cancel(call) -> etree._Element:
    request, service = call.request, call.service
    order_id = text(request, 'oseo:orderId')
    notification = text(request, 'oseo:statusNotification', 'None')
    order = service.cancel(order_id, call.owner, call.admin)
    reply_to = call.message.reply_to or order['reply_to']
    if notification != 'None' and reply_to:
        message = status_message('CancelResponse', order, service.repo.items(order_id))
        send(service, call.message.binding, reply_to, message, 'CancelResponse',
             order['owner'])
    return O.CancelAck(O.status('success'))

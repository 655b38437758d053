"""Submit: commit the order, answer SubmitAck with its id; items then run as jobs."""

from __future__ import annotations

from flask import after_this_request, has_request_context
from lxml import etree

from ...ordering import states
from ...ordering.errors import OseoError, invalid
from ...ordering.notify import check_reply_to
from ...ordering import workspace_delivery
from ...ordering.parsing import parse_order
from ...ordering.repository import QuotationUsed
from ...ordering.xmlns import O, q, text
from ..identity import require
from .quotation import stored_specification


def _wake_after_reply(manager) -> None:
    """Wake the job engine once the SubmitAck is sent, not while it is being sent (the
    jobs are committed already; the engine also looks for them every quarter second)."""
    @after_this_request
    def wake(response):
        response.call_on_close(manager.wake)
        return response


def _used(quotation_id: str) -> OseoError:
    return invalid('quotationId', f'quotation {quotation_id!r} was submitted already')


def submit(call) -> etree._Element:
    """Place the order. A quotation is marked used only with the order's commit, so a
    Submit refused on the way (limits, authorisation, ...) leaves it usable."""
    request = call.request
    notification = text(request, 'oseo:statusNotification', 'None')
    quotation_id = text(request, 'oseo:quotationId')
    if quotation_id is not None:
        spec = stored_specification(call, quotation_id)
        if call.service.repo.quotation(quotation_id)['used']:
            raise _used(quotation_id)
    else:
        spec = request.find(q('orderSpecification'))
    order = parse_order(spec)
    if not order.items:
        raise OseoError('MissingParameterValue', 'an order needs at least one orderItem',
                        'orderItem')
    roles = call.user.roles if call.user else None
    collections = call.service.check(order, call.owner, roles, quota=False)
    workspace_delivery.check(call.service.settings, call.auth, call.user, order)
    for collection in {c.id for c in collections if c is not None}:
        require(call.auth, call.user, 'order', collection)
    if notification != 'None':
        check_reply_to(call.service.conf, call.message.reply_to)
    later = has_request_context() and call.service.manager is not None
    try:
        record = call.service.submit(order, call.owner, collections,
                                     notification=notification,
                                     reply_to=call.message.reply_to,
                                     binding=call.message.binding, quotation_id=quotation_id,
                                     wake=not later, roles=roles)
    except QuotationUsed:
        raise _used(quotation_id) from None
    if later and record['status'] != states.SUBMITTED:
        _wake_after_reply(call.service.manager)
    ack = O.SubmitAck(O.status('success'), O.orderId(record['id']))
    if record['reference']:
        ack.append(O.orderReference(record['reference']))
    return ack


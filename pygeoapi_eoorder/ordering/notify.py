"""Notifications sent to a client's endpoint (its WS-Addressing ReplyTo), through the one
notification service: SubmitResponse as an order progresses (statusNotification Final or
All), CancelResponse after a Cancel, GetQuotationResponse for an asynchronous quotation.
An http(s) endpoint gets the message POSTed in the request's SOAP binding; a `mailto:`
ReplyTo (when an SMTP server is configured) gets an e-mail with the message attached."""

from __future__ import annotations

import logging

from lxml import etree

from ..notifications import Message, NotificationRefused, Notifier
from . import soap, states
from .encode import monitor_specification
from .errors import invalid
from .xmlns import O, OSEO, VERSION, xml_datetime

LOGGER = logging.getLogger(__name__)


def notifier(conf) -> Notifier:
    """The notification service with the ordering's timeout."""
    return Notifier(conf.settings.block, conf.notifications['timeout_seconds'])


def check_reply_to(conf, url: str | None) -> None:
    """Refuse, when the order is placed, a ReplyTo whose scheme is not offered (mailto:
    without an SMTP server) or a malformed mailto: address."""
    if not url:
        return
    try:
        notifier(conf).check(url, allow_internal=True)
    except NotificationRefused as err:
        raise invalid('ReplyTo', f'wsa:ReplyTo: {err}') from None


def _message(binding: str, url: str, payload: etree._Element, action: str) -> Message:
    binding = binding if binding in (soap.S11, soap.S12) else soap.S12
    body = soap.to_bytes(soap.envelope(binding, payload, action=action, to=url))
    content_type = soap.CONTENT_TYPES[binding]
    headers = {}
    if binding == soap.S11:
        headers['SOAPAction'] = f'"{action}"'
    else:
        content_type += f'; action="{action}"'
    order_id = payload.findtext(f'.//{{{OSEO}}}orderId')
    subject = f"OSEO {action}{f' for order {order_id}' if order_id else ''}"
    text = f'{subject}.\n\nThe OSEO message (in its SOAP envelope) is attached.\n'
    return Message(subject, text, body, content_type, f'{action}.xml', headers)


def post(conf, binding: str, url: str, payload: etree._Element, action: str,
         log: logging.Logger = LOGGER) -> bool:
    """Send one message under the egress policy (widened by
    `ordering.notifications.allow_internal_addresses`); failures are logged, never raised."""
    allow = bool(conf.notifications['allow_internal_addresses'])
    return notifier(conf).send(url, _message(binding, url, payload, action), allow, log,
                               action, 'or set ordering.notifications.allow_internal_addresses')


def status_message(kind: str, order: dict, items: list[dict]) -> etree._Element:
    """SubmitResponse or CancelResponse (StatusNotificationType) for an order."""
    return getattr(O, kind)(O.timeStamp(xml_datetime(None)),
                            monitor_specification(order, items), service='OS',
                            version=VERSION)


def wanted(order: dict, before: str, after: str) -> bool:
    """Does the order's statusNotification ask for this change?"""
    if not order.get('reply_to') or before == after:
        return False
    mode = order.get('status_notification')
    return mode == 'All' or (mode == 'Final' and after in states.FINAL)


NOTIFICATION_PROCESS = '_oseo_notification'
NOTIFICATION_JOB_TYPE = 'notification'


def send(service, binding: str, url: str, message: etree._Element, action: str,
         owner: str | None, log: logging.Logger = LOGGER) -> None:
    """Send a message as a job of the engine: it survives a restart between the
    request that caused it and its delivery (at least once), and its log is the job's."""
    if service.manager is None:
        post(service.conf, binding, url, message, action, log)
        return
    service.manager.submit(NOTIFICATION_PROCESS, {
        'binding': binding, 'url': url, 'action': action,
        'message': etree.tostring(message, encoding='unicode')},
        job_type=NOTIFICATION_JOB_TYPE, owner=owner)


def notify_change(service, change, log: logging.Logger = LOGGER) -> None:
    """Send a SubmitResponse when the order's status changed as its client asked."""
    if change is None:
        return
    order = service.repo.get(change.order_id)
    if order is None or not wanted(order, change.before, change.after):
        return
    message = status_message('SubmitResponse', order, service.repo.items(order['id']))
    send(service, order['binding'], order['reply_to'], message, 'SubmitResponse',
         order['owner'], log)

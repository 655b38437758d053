"""Notifications POSTed to a client's endpoint (its WS-Addressing ReplyTo):
SubmitResponse as an order progresses (statusNotification Final or All), CancelResponse
after a Cancel, GetQuotationResponse for an asynchronous quotation."""

from __future__ import annotations

import logging

import requests
from lxml import etree

from .. import egress
from . import soap, states
from .encode import monitor_specification
from .xmlns import O, VERSION, xml_datetime

LOGGER = logging.getLogger(__name__)


def post(conf, binding: str, url: str, payload: etree._Element, action: str,
         log: logging.Logger = LOGGER) -> bool:
    """POST one message under the egress policy (widened by
    `ordering.notifications.allow_internal_addresses`); failures are logged, never raised."""
    settings = conf.notifications
    policy = egress.policy_from_settings(conf.settings.block.get('egress'),
                                         allow_internal=settings['allow_internal_addresses'])
    try:
        egress.check_url(url, policy)
    except egress.EgressRefused as err:
        log.warning('notification to %s refused: %s', url, err)
        return False
    binding = binding if binding in (soap.S11, soap.S12) else soap.S12
    body = soap.to_bytes(soap.envelope(binding, payload, action=action, to=url))
    headers = {'Content-Type': soap.CONTENT_TYPES[binding]}
    if binding == soap.S11:
        headers['SOAPAction'] = f'"{action}"'
    else:
        headers['Content-Type'] += f'; action="{action}"'
    try:
        reply = egress.session(policy).post(url, data=body, headers=headers,
                                            allow_redirects=False,
                                            timeout=settings['timeout_seconds'])
        log.info('%s to %s answered %s', action, url, reply.status_code)
        return reply.ok
    except egress.EgressRefused as err:
        log.warning('notification to %s refused: %s (or set '
                    'ordering.notifications.allow_internal_addresses)', url, err)
        return False
    except requests.RequestException as err:
        log.warning('%s to %s failed: %s', action, url, err)
        return False


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

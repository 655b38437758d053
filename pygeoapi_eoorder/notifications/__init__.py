"""One notification service for jobs (OGC API subscriber, WPS ows:ResponseHandler) and
orders (OSEO ReplyTo): `http(s)` webhooks under the egress policy and `mailto:` e-mail
through the configured SMTP server (`eoorder.notifications`). Failures are logged to the
caller's log, never raised."""

from .addresses import NotificationRefused
from .service import Message, Notifier

__all__ = ['Message', 'NotificationRefused', 'Notifier']

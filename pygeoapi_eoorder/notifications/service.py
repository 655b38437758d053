"""The notification service: check an address when a client gives it, deliver a message
to it when something ended (a webhook POST, or an e-mail with the document attached)."""

from __future__ import annotations

import json
import logging
import smtplib
import socket
from dataclasses import dataclass
from ipaddress import ip_address
from urllib.parse import urlsplit

import requests

from .. import egress
from . import mail
from .addresses import MAILTO, WEB_SCHEMES, NotificationRefused, mail_address, scheme_of

LOGGER = logging.getLogger('eoorder.notifications')
DEFAULT_TIMEOUT = 10.0


@dataclass(frozen=True)
class Message:
    """One notification: `body` (of `content_type`) is POSTed to a webhook; an e-mail
    gets `subject`, `text` and the body attached as `filename`."""

    subject: str
    text: str
    body: bytes
    content_type: str
    filename: str
    headers: dict | None = None  # more webhook headers (e.g. SOAPAction)

    @classmethod
    def of_json(cls, subject: str, text: str, document) -> 'Message':
        return cls(subject, text, json.dumps(document).encode(), 'application/json',
                   'status.json')


def _resolves_internal(url: str, policy: egress.EgressPolicy) -> bool:
    """True when every address the URL's host resolves to is refused by `policy` (checked
    when the address is given; delivery checks the connected peer again)."""
    host = urlsplit(url).hostname or ''
    if policy.allow_internal or policy.host_allowed(host):
        return False
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False  # unknown now: delivery will say
    addresses = [ip_address(info[4][0].split('%', 1)[0]) for info in infos]
    return bool(addresses) and not any(policy.address_allowed(a) for a in addresses)


class Notifier:
    """Notifications under one configuration (`block`: the whole `eoorder:` block)."""

    def __init__(self, block: dict | None, timeout: float | None = None):
        block = block or {}
        settings = block.get('notifications') or {}
        self.egress_block = block.get('egress') or {}
        self.timeout = float(timeout or settings.get('timeout_seconds') or DEFAULT_TIMEOUT)
        self.smtp = mail.SmtpSettings.from_block(settings.get('smtp'), self.timeout)

    @property
    def schemes(self) -> tuple[str, ...]:
        """The address schemes offered (mailto only with an SMTP server)."""
        return WEB_SCHEMES + ((MAILTO,) if self.smtp else ())

    def policy(self, allow_internal: bool = False) -> egress.EgressPolicy:
        return egress.policy_from_settings(self.egress_block, allow_internal=allow_internal)

    def check(self, uri: str, allow_internal: bool = False) -> str:
        """The address if it will be accepted; NotificationRefused (safe to show) if not."""
        scheme = scheme_of(str(uri))
        if scheme not in self.schemes:
            hint = (' (mailto: needs an SMTP server in eoorder.notifications.smtp)'
                    if scheme == MAILTO else '')
            raise NotificationRefused(f'notifications to {scheme or "(no scheme)"}: '
                                      f'addresses are not offered{hint}; offered: '
                                      f'{", ".join(self.schemes)}', unsupported=True)
        if scheme == MAILTO:
            mail_address(uri)
            return uri
        policy = self.policy(allow_internal)
        try:
            egress.check_url(uri, policy)
        except egress.EgressRefused as err:
            raise NotificationRefused(str(err)) from None
        if _resolves_internal(uri, policy):
            raise NotificationRefused(f'{urlsplit(uri).hostname} is or resolves to an '
                                      f'internal address: refused ({egress.HOW_TO_ALLOW})')
        return uri

    def send(self, uri: str, message: Message, allow_internal: bool = False,
             log: logging.Logger = LOGGER, what: str = 'notification',
             refusal_hint: str = '') -> bool:
        """Deliver `message` to `uri`; every failure is logged to `log` (as `what`, with
        `refusal_hint` after a refusal), never raised."""
        try:
            self.check(uri, allow_internal)
            if scheme_of(uri) == MAILTO:
                return self._mail(uri, message, log)
            return self._post(uri, message, allow_internal, log)
        except (NotificationRefused, egress.EgressRefused) as err:
            log.warning('%s to %s refused: %s%s', what, uri, err,
                        f'; {refusal_hint}' if refusal_hint else '')
        except requests.RequestException as err:
            log.warning('%s to %s failed: %s', what, uri, err)
        except (smtplib.SMTPException, OSError, ValueError) as err:
            log.warning('%s e-mailed to %s failed: %s', what, uri, err)
        return False

    def _post(self, url: str, message: Message, allow_internal: bool,
              log: logging.Logger) -> bool:
        reply = egress.session(self.policy(allow_internal)).post(
            url, data=message.body,
            headers={**(message.headers or {}), 'Content-Type': message.content_type},
            timeout=self.timeout, allow_redirects=False)
        log.info('notification to %s answered %s', url, reply.status_code)
        return reply.ok

    def _mail(self, uri: str, message: Message, log: logging.Logger) -> bool:
        assert self.smtp is not None  # check() refused mailto otherwise
        to = mail_address(uri)
        email = mail.compose(self.smtp, to, message.subject, message.text,
                             mail.Attachment(message.body, message.content_type,
                                             message.filename))
        mail.send(self.smtp, email)
        log.info('notification e-mailed to %s', to)
        return True

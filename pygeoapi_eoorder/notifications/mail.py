"""E-mail through the configured SMTP server (`eoorder.notifications.smtp`), stdlib only."""

from __future__ import annotations

import os
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, make_msgid


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    starttls: bool = False
    implicit_tls: bool = False
    username: str | None = None
    password: str | None = None
    password_env: str | None = None
    timeout: float = 10.0

    @classmethod
    def from_block(cls, smtp: dict | None, timeout: float) -> 'SmtpSettings | None':
        """None when no SMTP server is configured (mailto: is then not offered)."""
        if not smtp:
            return None
        return cls(host=smtp['host'], port=int(smtp.get('port') or 25), sender=smtp['from'],
                   starttls=bool(smtp.get('starttls')), implicit_tls=bool(smtp.get('ssl')),
                   username=smtp.get('username'), password=smtp.get('password'),
                   password_env=smtp.get('password_env'), timeout=timeout)

    def secret(self) -> str | None:
        if self.password_env:
            return os.environ.get(self.password_env)
        return self.password


@dataclass(frozen=True)
class Attachment:
    content: bytes
    content_type: str
    filename: str


def compose(smtp: SmtpSettings, to: str, subject: str, text: str,
            attachment: Attachment | None = None) -> EmailMessage:
    """The message; the SMTP policy refuses a CR or LF in any header (a second guard
    behind the address check)."""
    message = EmailMessage(policy=SMTP)
    message['From'] = smtp.sender
    message['To'] = to
    message['Subject'] = subject
    message['Date'] = formatdate(localtime=False)
    message['Message-ID'] = make_msgid(domain=smtp.sender.rpartition('@')[2] or None)
    message.set_content(text)
    if attachment is not None:
        maintype, _, subtype = attachment.content_type.partition('/')
        message.add_attachment(attachment.content, maintype=maintype,
                               subtype=subtype.split(';')[0].strip() or 'octet-stream',
                               filename=attachment.filename)
    return message


def send(smtp: SmtpSettings, message: EmailMessage) -> None:
    """Deliver through the server; raises smtplib/OS errors."""
    context = ssl.create_default_context()
    if smtp.implicit_tls:
        client = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
    else:
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    with client:
        if smtp.starttls and not smtp.implicit_tls:
            client.starttls(context=context)
        if smtp.username:
            client.login(smtp.username, smtp.secret() or '')
        client.send_message(message)

"""Notification addresses: which schemes are offered, and `mailto:` addresses checked so
strictly that nothing but one plain address can reach an e-mail header."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

WEB_SCHEMES = ('http', 'https')
MAILTO = 'mailto'
MAX_ADDRESS = 254
# RFC 5321 dot-atom local part and a host name: no spaces, quotes, angle brackets,
# commas, semicolons, CR or LF — one mailbox, nothing to inject
_LOCAL = r"[A-Za-z0-9!#$&'*+/=^_`{|}~-]+(?:\.[A-Za-z0-9!#$&'*+/=^_`{|}~-]+)*"
_LABEL = r'[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
ADDRESS = re.compile(rf'{_LOCAL}@{_LABEL}(?:\.{_LABEL})*')


class NotificationRefused(Exception):
    """A notification address that is not accepted; `unsupported` when its scheme is not
    offered (rather than malformed). The message is safe to show to the client."""

    def __init__(self, message: str, unsupported: bool = False):
        super().__init__(message)
        self.unsupported = unsupported


def scheme_of(uri: str) -> str:
    try:
        return urlsplit(uri).scheme.lower()
    except ValueError:
        return ''


def mail_address(uri: str) -> str:
    """The one address of a `mailto:` URI; refused if it carries header fields (`?`),
    several recipients or anything that is not a plain address."""
    if scheme_of(uri) != MAILTO:
        raise NotificationRefused(f'{uri!r} is not a mailto: URI')
    raw = uri.split(':', 1)[1]
    if '?' in raw:
        raise NotificationRefused('mailto: header fields (?subject=, ?cc=, …) are not '
                                  'accepted: give one plain address')
    address = unquote(raw)
    if len(address) > MAX_ADDRESS or not ADDRESS.fullmatch(address):
        raise NotificationRefused(f'{uri!r} is not one plain e-mail address '
                                  '(mailto:name@host)')
    return address

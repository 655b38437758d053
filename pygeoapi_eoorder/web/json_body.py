"""JSON request bodies that are no text: JSON is UTF-8 (RFC 8259 §8.1), and an escaped
UTF-16 surrogate must come in a pair (§8.2): a lone one (`"\\ud800"`) decodes to a
string no database, file or encoder takes. Both are refused before any route reads the
body, whatever it would do with it."""

from __future__ import annotations

import re

_SURROGATE = re.compile(r'\\u[dD][89a-fA-F]')  # (any surrogate escape: the quick test)
_ESCAPE = re.compile(r'\\(?:u([0-9a-fA-F]{4})|.)', re.DOTALL)


class NotText(ValueError):
    """A JSON body that is not UTF-8 or holds a lone surrogate; the message says which."""


def check_text(body: bytes) -> str:
    """The body's text; NotText for a body that is not UTF-8 or escapes a lone surrogate."""
    try:
        text = body.decode('utf-8')
    except UnicodeDecodeError as err:
        raise NotText(f'not UTF-8 (byte {err.start} cannot be read)') from None
    if _SURROGATE.search(text):
        lone = _lone_surrogate(text)
        if lone is not None:
            raise NotText(f'a lone UTF-16 surrogate (\\u{lone}) is not text')
    return text


def _lone_surrogate(text: str) -> str | None:
    """The first surrogate escape without its other half, if any (escapes are read in
    order, so an escaped backslash before `u` is not taken for one)."""
    high, high_end = None, -1
    for match in _ESCAPE.finditer(text):
        code = int(match.group(1), 16) if match.group(1) else None
        if high is not None:
            if match.start() == high_end and code is not None and 0xDC00 <= code <= 0xDFFF:
                high = None
                continue
            return high
        if code is not None and 0xD800 <= code <= 0xDBFF:
            high, high_end = match.group(1), match.end()
        elif code is not None and 0xDC00 <= code <= 0xDFFF:
            return match.group(1)
    return high

"""Refusing cross-site requests that change state (CSRF).

A browser adds the user's credentials (Basic auth, cookies) to requests that another site
makes it send. Such requests are recognised by what browsers always add to them:
`Sec-Fetch-Site: cross-site` (or `same-site`), an `Origin` other than ours, or — for the
"simple" requests a page may send without asking the server first — a body typed
`text/plain`, form-encoded or multipart (or not typed at all). Clients outside browsers
(curl, OWSLib, Python) send none of these headers and keep working.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

STATE_CHANGING = frozenset({'POST', 'PUT', 'PATCH', 'DELETE'})
# bodies a page on another site can send without a CORS preflight
SIMPLE_TYPES = frozenset({'text/plain', 'application/x-www-form-urlencoded',
                          'multipart/form-data', ''})
XML_TYPES = frozenset({'application/xml', 'text/xml', 'application/soap+xml'})


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


def origin_of(url: str) -> str | None:
    """`scheme://host[:port]` in lower case without the scheme's default port."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ('http', 'https') or not parts.hostname:
        return None
    default = {'http': 80, 'https': 443}[parts.scheme]
    host = f'[{parts.hostname}]' if ':' in parts.hostname else parts.hostname
    return f'{parts.scheme}://{host}' + (f':{port}' if port and port != default else '')


def check_origin(request, own: set[str], trusted: set[str]) -> Refusal | None:
    """403 when the browser says the request comes from another site."""
    origin = request.headers.get('Origin')
    site = (request.headers.get('Sec-Fetch-Site') or '').strip().lower()
    allowed = own | trusted | {origin_of(f'{request.scheme}://{request.host}')}
    from_allowed = origin is not None and origin_of(origin) in allowed
    if site == 'cross-site' and not (from_allowed and origin_of(origin) in trusted):
        return Refusal(403, 'cross-site request refused: a page of another site may not '
                            'change anything here (Sec-Fetch-Site: cross-site)')
    if site == 'same-site' and not (origin is not None and origin_of(origin) in trusted):
        return Refusal(403, 'cross-site request refused: this site is not among '
                            'web.trusted_origins (Sec-Fetch-Site: same-site)')
    if origin is not None and not from_allowed:
        return Refusal(403, f'cross-site request refused: origin {origin[:100]!r} is not '
                            'this server (add it to web.trusted_origins to allow it)')
    return None


def page_credentials(request) -> bool:
    """Whether the request's credentials are a bearer token, which a browser never adds
    by itself (only a page's own code does); Basic credentials (which it remembers) or
    none are not."""
    scheme = (request.headers.get('Authorization') or '').strip().split(' ', 1)[0]
    return scheme.lower() == 'bearer'


def has_body(request) -> bool:
    return bool(request.content_length) or 'chunked' in (
        request.headers.get('Transfer-Encoding') or '').lower()


def check_media_type(request, xml_only: bool) -> Refusal | None:
    """415 for a body a cross-site page could send without a preflight (or not XML where
    the route reads XML)."""
    if not has_body(request):
        return None
    kind = (request.mimetype or '').lower()
    if xml_only and kind not in XML_TYPES:
        return Refusal(415, f'Content-Type {kind or "(none)"!r} is not accepted: send the '
                            f'XML document as {", ".join(sorted(XML_TYPES))}')
    if kind in SIMPLE_TYPES:
        return Refusal(415, f'Content-Type {kind or "(none)"!r} is not accepted for '
                            f'{request.method} (a type any web page may send: refused '
                            'against cross-site requests): send the body with its own '
                            'media type (e.g. application/json; a file: its type or '
                            'application/octet-stream)')
    return None

"""How job result files are served from the API origin without becoming stored XSS.

A result is content a process (a container, a package) chose: an HTML page, an SVG image or
an XML document served inline from the API's origin would run its scripts with the reader's
credentials. So every result carries `X-Content-Type-Options: nosniff` and
`Content-Security-Policy: sandbox` (no script, no same-origin access even if rendered), and
only media types on `INLINE_TYPES` are served inline; everything else is an attachment.
"""

from __future__ import annotations

from flask import Response

# Media types a browser renders passively (no script): served inline.
INLINE_TYPES = frozenset({
    'application/json', 'application/geo+json', 'application/schema+json',
    'application/problem+json', 'application/ld+json',
    'text/plain', 'text/csv',
    'image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/tiff', 'image/bmp',
    'image/jp2', 'image/avif',
    'application/octet-stream', 'application/zip', 'application/gzip', 'application/x-tar',
    'application/x-netcdf', 'application/netcdf', 'application/x-hdf5', 'application/x-hdf',
    'application/vnd.geo+json',
})
SANDBOX_CSP = 'sandbox; default-src \'none\'; img-src \'self\' data:; style-src \'unsafe-inline\''


def essence(mimetype: str | None) -> str:
    """`type/subtype` of a media type, lower case, without parameters."""
    return (mimetype or '').split(';', 1)[0].strip().lower()


def is_inline_safe(mimetype: str | None) -> bool:
    """True for the media types served inline (never HTML, SVG, XML or JavaScript)."""
    return essence(mimetype) in INLINE_TYPES


def protect(response: Response, mimetype: str | None, download_name: str) -> Response:
    """Add the result-serving safety headers to `response` (changed in place, returned)."""
    response.headers['X-Content-Type-Options'] = 'nosniff'
    response.headers['Content-Security-Policy'] = SANDBOX_CSP
    disposition = 'inline' if is_inline_safe(mimetype) else 'attachment'
    response.headers.set('Content-Disposition', disposition, filename=_ascii(download_name))
    return response


def _ascii(name: str) -> str:
    """A header-safe file name (the original may hold any character)."""
    kept = ''.join(c if 32 <= ord(c) < 127 and c not in '"\\;' else '_' for c in name)
    return kept or 'result'

"""Security headers on every response; the HTML pages' content security policy.

The policy fits what the pages load: pygeoapi's templates (which ours extend) take
Bootstrap, Leaflet and the OpenAPI viewers from CDNs and run inline scripts and handlers;
maps show tiles from the configured basemap. Inline scripts are therefore allowed; HTML
escaping and the link filter (:mod:`.links`) keep user data out of them. Framing is
refused (clickjacking).
"""

from __future__ import annotations

CDNS = 'https://unpkg.com https://cdn.jsdelivr.net https://cdnjs.cloudflare.com'
DEFAULT_CSP = (f"default-src 'self'; script-src 'self' 'unsafe-inline' {CDNS}; "
               f"style-src 'self' 'unsafe-inline' {CDNS} https://fonts.googleapis.com; "
               "img-src 'self' data: blob: https: http:; "
               f"font-src 'self' data: {CDNS} https://fonts.gstatic.com; "
               "connect-src 'self'; worker-src 'self' blob:; object-src 'none'; "
               "base-uri 'self'; form-action 'self'; frame-ancestors 'none'")


def add_headers(response, csp: str = DEFAULT_CSP) -> None:
    """nosniff and a referrer policy on every response; frame protection and the CSP on
    HTML (headers a view set itself, e.g. a sandbox CSP on a result file, are kept)."""
    headers = response.headers
    headers.setdefault('X-Content-Type-Options', 'nosniff')
    headers.setdefault('Referrer-Policy', 'same-origin')
    if response.mimetype in ('text/html', 'application/xhtml+xml'):
        headers.setdefault('X-Frame-Options', 'DENY')
        headers.setdefault('Content-Security-Policy', csp)

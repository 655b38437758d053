"""Security headers on every response; the HTML pages' content security policy.

The policy fits what the pages load: scripts and styles only from this server (Bootstrap,
Leaflet and Swagger UI are served at /ui/vendor, no CDN); pygeoapi's templates (which ours
extend) run inline scripts and handlers; maps show tiles from the configured basemap.
Inline scripts are therefore allowed; HTML escaping and the link filter (:mod:`.links`)
keep user data out of them. Framing is refused (clickjacking).
"""

from __future__ import annotations

DEFAULT_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
               "style-src 'self' 'unsafe-inline'; "
               "img-src 'self' data: blob: https: http:; "
               "font-src 'self' data:; "
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

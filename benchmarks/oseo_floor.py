"""The floor of an OSEO request over HTTP: a WSGI app that only parses and validates it.

`POST` any path: read the body, parse it with the server's safe parser
(`pygeoapi_eoorder.xmlsafe.parse`: no DTD, no entities, no network, bounded size and
depth), validate it against the OSEO schema set the server uses
(`pygeoapi_eoorder.oseo.schemas.SchemaSet`, one schema per thread), and answer a
fixed small XML document (400 when the request is not valid). `GET` answers 200 (for the
readiness check). The schemas' location comes from `EOORDER_OSEO_SCHEMAS`.

Served by gunicorn exactly like `eoorder serve` (see `oseo_bench.py`):

    EOORDER_OSEO_SCHEMAS=... python -m gunicorn -k gthread -w 2 --threads 8 oseo_floor:app
"""

from __future__ import annotations

from pygeoapi_eoorder import xmlsafe
from pygeoapi_eoorder.oseo.schemas import SchemaSet

SCHEMAS = SchemaSet(None)  # EOORDER_OSEO_SCHEMAS, as the server's `ordering.schemas`
VALID = b'<?xml version="1.0" encoding="UTF-8"?>\n<valid/>'
INVALID = b'<?xml version="1.0" encoding="UTF-8"?>\n<invalid/>'


def floor(body: bytes) -> bool:
    """Parse and validate one request; True if it is schema-valid."""
    return not SCHEMAS.errors(xmlsafe.parse(body))


def app(environ, start_response):
    if environ['REQUEST_METHOD'] != 'POST':
        start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', '2')])
        return [b'ok']
    length = int(environ.get('CONTENT_LENGTH') or 0)
    body = environ['wsgi.input'].read(length)
    try:
        reply, status = (VALID, '200 OK') if floor(body) else (INVALID, '400 Bad Request')
    except xmlsafe.UnsafeXML:
        reply, status = INVALID, '400 Bad Request'
    start_response(status, [('Content-Type', 'application/xml; charset=utf-8'),
                            ('Content-Length', str(len(reply)))])
    return [reply]

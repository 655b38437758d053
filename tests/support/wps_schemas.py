"""The official WPS 1.0.0 and 2.0 schemas, loaded by lxml from the copies the package
ships (every http:// import mapped to `pygeoapi_eoorder/schemas/ogc/<host>/<path>`)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from lxml import etree

SHIPPED = Path(__file__).resolve().parents[2] / 'pygeoapi_eoorder' / 'schemas' / 'ogc'
ROOTS = {'2.0.0': 'schemas.opengis.net/wps/2.0/wps.xsd',
         '1.0.0': 'schemas.opengis.net/wps/1.0.0/wpsAll.xsd'}


class _Shipped(etree.Resolver):
    def resolve(self, url, pubid, context):
        for scheme in ('http://', 'https://'):
            if url.startswith(scheme):
                path = SHIPPED / url[len(scheme):]
                if path.is_file():
                    return self.resolve_filename(str(path), context)
        return None


@functools.lru_cache(maxsize=None)
def schema(version: str) -> etree.XMLSchema:
    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(_Shipped())
    return etree.XMLSchema(etree.parse(str(SHIPPED / ROOTS[version]), parser))


def assert_valid(document: bytes | etree._Element, version: str = '2.0.0') -> etree._Element:
    """Parse (if bytes) and validate a WPS document; return its root element."""
    root = etree.fromstring(document) if isinstance(document, bytes) else document
    checker = schema(version)
    assert checker.validate(root), (
        '\n'.join(str(e) for e in checker.error_log)[:3000] + '\n' +
        etree.tostring(root, encoding='unicode')[:3000])
    return root


if os.environ.get('XML_CATALOG_FILES'):  # the tests never read the shared mirror
    del os.environ['XML_CATALOG_FILES']

"""The OSEO XML schema, loaded from a local mirror, an OASIS catalog or schemas.opengis.net.

`ordering.schemas` names where the schemas are:

- a directory laid out like the schema URLs (`<dir>/schemas.opengis.net/oseo/1.0/oseo.xsd`,
  `<dir>/www.w3.org/...`): every `http(s)://host/path` import is read from `<dir>/host/path`;
- an OASIS XML catalog file (`catalog.xml`): its `rewriteSystem`/`rewriteURI` entries map
  the imports, as libxml2 would with XML_CATALOG_FILES (which only works if set before
  libxml2 first loads, so the mapping is applied here through an lxml resolver instead);
- `https://schemas.opengis.net` (or any base URL): the schemas are fetched from there.

lxml's XMLSchema objects keep one error log each, so every thread gets its own copy.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

from lxml import etree

from .errors import OseoError

OSEO_XSD = 'schemas.opengis.net/oseo/1.0/oseo.xsd'
ENV_SCHEMAS = 'EOORDER_OSEO_SCHEMAS'
DEFAULT_LOCATION = 'https://schemas.opengis.net'
CATALOG_NS = '{urn:oasis:names:tc:entity:xmlns:xml:catalog}'
_LOAD_LOCK = threading.Lock()
LOAD_ATTEMPTS = 4


class SchemaUnavailable(Exception):
    """The schemas cannot be loaded from the configured location."""


def _catalog_rewrites(catalog: Path) -> list[tuple[str, str]]:
    """(URL prefix, local prefix) pairs of an OASIS catalog's rewrite entries."""
    root = etree.parse(str(catalog), etree.XMLParser(no_network=True,
                                                      resolve_entities=False)).getroot()
    pairs = []
    for entry in root.iter(f'{CATALOG_NS}rewriteSystem', f'{CATALOG_NS}rewriteURI'):
        start = entry.get('systemIdStartString') or entry.get('uriStartString')
        prefix = entry.get('rewritePrefix')
        if start and prefix:
            target = prefix if prefix.startswith('/') else f'{catalog.parent}/{prefix}'
            pairs.append((start, target))
    return sorted(set(pairs), key=lambda p: -len(p[0]))


class _MirrorResolver(etree.Resolver):
    """Maps schema URLs to files of a local mirror; refuses anything else."""

    def __init__(self, rewrites: list[tuple[str, str]]):
        super().__init__()
        self.rewrites = rewrites

    def resolve(self, url, pubid, context):
        for start, target in self.rewrites:
            if url.startswith(start):
                path = target + url[len(start):]
                if os.path.isfile(path):
                    return self.resolve_filename(path, context)
        return None


def _directory_rewrites(directory: Path) -> list[tuple[str, str]]:
    hosts = [p.name for p in directory.iterdir() if p.is_dir()]
    return [(f'{scheme}://{host}/', f'{directory / host}/') for host in hosts
            for scheme in ('http', 'https')]


class SchemaSet:
    """Loads oseo.xsd once per thread from `location` and validates elements against it."""

    def __init__(self, location: str | None):
        self.location = location or os.environ.get(ENV_SCHEMAS) or DEFAULT_LOCATION
        self._local = threading.local()

    def _load(self) -> etree.XMLSchema:
        location = self.location
        if re.match(r'^https?://', location):
            parser = etree.XMLParser(no_network=False)
            root_url = location.rstrip('/') + '/oseo/1.0/oseo.xsd'
            try:
                return etree.XMLSchema(etree.parse(root_url, parser))
            except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as err:
                raise SchemaUnavailable(f'{root_url}: {err}') from None
        path = Path(location)
        if path.is_file():
            rewrites = _catalog_rewrites(path)
            root = None
            for start, target in rewrites:
                if 'schemas.opengis.net' in start:
                    root = Path(target) / 'oseo/1.0/oseo.xsd'
                    break
        elif path.is_dir():
            rewrites = _directory_rewrites(path)
            root = path / OSEO_XSD
        else:
            raise SchemaUnavailable(f'{location}: no such file or directory')
        if root is None or not root.is_file():
            raise SchemaUnavailable(f'{location}: oseo/1.0/oseo.xsd not found there')
        parser = etree.XMLParser(no_network=True)
        parser.resolvers.add(_MirrorResolver(rewrites))
        try:
            return etree.XMLSchema(etree.parse(str(root), parser))
        except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as err:
            raise SchemaUnavailable(f'{location}: {err}') from None

    @property
    def schema(self) -> etree.XMLSchema:
        schema = getattr(self._local, 'schema', None)
        if schema is None:
            # libxml2 builds a schema's imports badly while other threads build schemas or
            # parse XML: a reference then fails to resolve at random ("does not resolve to
            # a(n) type definition"). One build at a time, and a failed build is retried (a
            # wrong location fails every time, and is reported).
            with _LOAD_LOCK:
                for attempt in range(LOAD_ATTEMPTS):
                    try:
                        schema = self._load()
                        break
                    except SchemaUnavailable:
                        if attempt == LOAD_ATTEMPTS - 1:
                            raise
                self._local.schema = schema
        return schema

    def errors(self, element: etree._Element) -> list:
        """Schema errors of `element` (validated as a document of its own)."""
        schema = self.schema
        if schema.validate(etree.ElementTree(element)):
            return []
        return list(schema.error_log)

    def check_request(self, element: etree._Element) -> None:
        """Raise the OSEO exception that describes the first schema error of a request."""
        errors = self.errors(element)
        if errors:
            raise request_error(errors[0])


_ELEMENT = re.compile(r"Element '(?:\{[^}]*\})?([^']+)'(?:, attribute '([^']+)')?")


def request_error(error) -> OseoError:
    """Map a libxml2 schema error to MissingParameterValue / InvalidParameterValue."""
    message = error.message
    match = _ELEMENT.search(message)
    locator = None
    if match:
        locator = match.group(2) or match.group(1)
    text = f'request not valid against the OSEO schema (line {error.line}): {message}'
    if 'Missing child element' in message or "attribute '" in message and 'is required' in message:
        expected = re.search(r'Expected is (?:one of )?\( ?(?:\{[^}]*\})?([A-Za-z_]+)', message)
        if expected:
            locator = expected.group(1)
        elif 'is required' in message:
            found = re.search(r"The attribute '([^']+)' is required", message)
            locator = found.group(1) if found else locator
        return OseoError('MissingParameterValue', text, locator)
    return OseoError('InvalidParameterValue', text, locator)

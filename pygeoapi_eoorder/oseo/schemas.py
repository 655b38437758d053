"""The OSEO XML schema: shipped with the package, or from a mirror, a catalog or a URL.

`ordering.schemas` (an override; by default the OGC schemas shipped in
`pygeoapi_eoorder/schemas/ogc`, built by `scripts/build-schemas`, are used) names:

- a directory laid out like the schema URLs (`<dir>/schemas.opengis.net/oseo/1.0/oseo.xsd`,
  `<dir>/www.w3.org/...`): every `http(s)://host/path` import is read from `<dir>/host/path`;
- an OASIS XML catalog file (`catalog.xml`): its `rewriteSystem`/`rewriteURI` entries map
  the imports, as libxml2 would with XML_CATALOG_FILES (which only works if set before
  libxml2 first loads, so the mapping is applied here through an lxml resolver instead);
- `https://schemas.opengis.net` (or any base URL): the schemas are fetched from there by the
  project's HTTP client (:mod:`pygeoapi_eoorder.egress`) into an on-disk cache, never by
  libxml2 (which is kept off the network).

lxml's XMLSchema objects keep one error log each, so every thread gets its own copy.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
from pathlib import Path

import requests
from lxml import etree

from ..egress import EgressPolicy, EgressRefused, get
from ..ordering.errors import OseoError

OSEO_XSD = 'schemas.opengis.net/oseo/1.0/oseo.xsd'
ENV_SCHEMAS = 'EOORDER_OSEO_SCHEMAS'
SHIPPED = Path(__file__).resolve().parents[1] / 'schemas' / 'ogc'
DEFAULT_LOCATION = str(SHIPPED)
DEFAULT_CACHE = Path(os.environ.get('XDG_CACHE_HOME') or Path.home() / '.cache') / \
    'pygeoapi-eoorder' / 'schemas'
FETCH_TIMEOUT = 30.0
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


class _RemoteResolver(etree.Resolver):
    """Reads http(s) schema documents through the egress client and an on-disk cache;
    refuses every other scheme (a remote schema cannot make the server read a local file)."""

    def __init__(self, cache: Path, policy: EgressPolicy, timeout: float):
        super().__init__()
        self.cache, self.policy, self.timeout = cache, policy, timeout
        self.error: SchemaUnavailable | None = None  # libxml2 hides a resolver's reason

    def fetch(self, url: str) -> bytes:
        """The document at `url`, from the cache or fetched (and then cached)."""
        path = self.cache / (hashlib.sha256(url.encode()).hexdigest() + '.xsd')
        if path.is_file():
            return path.read_bytes()
        try:
            reply = get(url, policy=self.policy, timeout=self.timeout)
        except (EgressRefused, requests.RequestException) as err:
            raise SchemaUnavailable(f'{url}: {err}') from None
        if reply.status_code != 200:
            raise SchemaUnavailable(f'{url}: HTTP {reply.status_code}')
        self.cache.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f'{path.name}.{os.getpid()}.{threading.get_ident()}')
        partial.write_bytes(reply.content)
        partial.replace(path)
        return reply.content

    def resolve(self, url, pubid, context):
        try:
            if not re.match(r'^https?://', url or ''):
                raise SchemaUnavailable(f'{url}: a remote schema may only import http(s) URLs')
            return self.resolve_string(self.fetch(url), context, base_url=url)
        except SchemaUnavailable as err:
            self.error = err
            raise


class SchemaSet:
    """Loads oseo.xsd once per thread from `location` and validates elements against it.

    `cache` and `policy` only serve a remote `location`: where fetched documents are kept,
    and which addresses the egress client may reach."""

    def __init__(self, location: str | None = None, *, cache: Path | None = None,
                 policy: EgressPolicy | None = None, timeout: float = FETCH_TIMEOUT):
        self.location = location or os.environ.get(ENV_SCHEMAS) or DEFAULT_LOCATION
        self.cache = cache or DEFAULT_CACHE
        self.policy = policy or EgressPolicy()
        self.timeout = timeout
        self._local = threading.local()

    def _load_remote(self) -> etree.XMLSchema:
        resolver = _RemoteResolver(self.cache, self.policy, self.timeout)
        root_url = self.location.rstrip('/') + '/oseo/1.0/oseo.xsd'
        parser = etree.XMLParser(no_network=True, resolve_entities=False)
        parser.resolvers.add(resolver)
        try:
            document = etree.fromstring(resolver.fetch(root_url), parser, base_url=root_url)
            return etree.XMLSchema(etree.ElementTree(document))
        except (etree.XMLSchemaParseError, etree.XMLSyntaxError, OSError) as err:
            raise SchemaUnavailable(str(resolver.error or f'{root_url}: {err}')) from None

    def _load(self) -> etree.XMLSchema:
        location = self.location
        if re.match(r'^https?://', location):
            return self._load_remote()
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

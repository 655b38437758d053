"""The OGC schemas ship with the package: they are the default, they work offline, they are
rebuilt byte for byte from the mirror by scripts/build-schemas, and a remote schema location
is read through the project's HTTP client and an on-disk cache, never by libxml2."""

from __future__ import annotations

import filecmp
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import yaml
from lxml import etree

from pygeoapi_eoorder.egress import EgressPolicy
from pygeoapi_eoorder.oseo.schemas import SHIPPED, SchemaSet, SchemaUnavailable

from .conftest import REPO
from .support import oseo
from .support.oseo import OSEO


def test_get_capabilities_works_offline_with_the_shipped_schemas(
        make_server, monkeypatch, tmp_path):
    """Ordering on, no `ordering.schemas`, no mirror named anywhere, every HTTP(S) request
    of the server sent to a dead proxy: GetCapabilities (KVP and POST) answers a document
    valid for the independent validator."""
    monkeypatch.delenv('EOORDER_OSEO_SCHEMAS', raising=False)
    monkeypatch.setenv('EOORDER_SHARED', str(tmp_path / 'no-shared'))
    for name in ('HTTP_PROXY', 'HTTPS_PROXY', 'http_proxy', 'https_proxy'):
        monkeypatch.setenv(name, 'http://127.0.0.1:9')
    monkeypatch.setenv('NO_PROXY', '127.0.0.1')
    server = make_server({'ordering': {'enabled': True}}, {})
    assert yaml.safe_load(server.config.read_text())['eoorder']['ordering'] == {'enabled': True}
    kvp = requests.get(f'{server.url}/oseo', timeout=30,
                       params={'service': 'OS', 'request': 'GetCapabilities'})
    assert kvp.status_code == 200, kvp.text
    assert oseo.payload(kvp).tag == f'{{{OSEO}}}Capabilities'
    body = f'<GetCapabilities xmlns="{OSEO}" service="OS"/>'
    posted = oseo.post(server, body)
    assert posted.status_code == 200, posted.text
    assert oseo.payload(posted).tag == f'{{{OSEO}}}Capabilities'
    assert 'unavailable' not in server.log()


def test_build_schemas_reproduces_the_shipped_folder(tmp_path):
    """scripts/build-schemas, run on the official mirror, rebuilds the package's schema
    folder byte for byte (no file more, none less)."""
    out = tmp_path / 'ogc'
    result = subprocess.run([sys.executable, str(REPO / 'scripts' / 'build-schemas'),
                             '--mirror', str(oseo.require(oseo.SCHEMAS)), '--out', str(out)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    built = sorted(p.relative_to(out) for p in out.rglob('*') if p.is_file())
    shipped = sorted(p.relative_to(SHIPPED) for p in SHIPPED.rglob('*') if p.is_file())
    assert built == shipped
    assert Path('schemas.opengis.net/oseo/1.0/oseo.xsd') in built
    assert Path('schemas.opengis.net/wps/2.0/wps.xsd') in built
    assert Path('LICENSE.txt') in built
    mismatch = [p for p in built if not filecmp.cmp(out / p, SHIPPED / p, shallow=False)]
    assert mismatch == []


class SchemaSite:
    """A loopback HTTP site serving a small `oseo/1.0/oseo.xsd` (which includes a relative
    `types.xsd`), counting the requests it gets."""

    TYPES = ('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
             f'targetNamespace="{OSEO}"><xs:simpleType name="Code">'
             '<xs:restriction base="xs:string"/></xs:simpleType></xs:schema>')

    def __init__(self, include: str = 'types.xsd'):
        self.paths: list[str] = []
        root = ('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
                f'xmlns:o="{OSEO}" targetNamespace="{OSEO}" elementFormDefault="qualified">'
                f'<xs:include schemaLocation="{include}"/>'
                '<xs:element name="Code" type="o:Code"/></xs:schema>')
        files = {'/oseo/1.0/oseo.xsd': root, '/oseo/1.0/types.xsd': self.TYPES}
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                site.paths.append(self.path)
                body = files.get(self.path)
                self.send_response(200 if body else 404)
                self.end_headers()
                self.wfile.write((body or '').encode())

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(('127.0.0.1', 0), Handler)
        self.url = f'http://127.0.0.1:{self.httpd.server_address[1]}'
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()


@pytest.fixture
def site():
    site = SchemaSite()
    yield site
    site.close()


def test_remote_schemas_are_fetched_by_the_egress_client_into_a_cache(site, tmp_path):
    """A URL location is read through egress (its policy applies: loopback is refused by
    default) and cached on disk: a second loader reads the cache, not the site."""
    cache = tmp_path / 'cache'
    with pytest.raises(SchemaUnavailable, match='127.0.0.1'):
        SchemaSet(site.url, cache=cache).schema
    assert site.paths == []
    allowed = EgressPolicy(allow_internal=True)
    schema = SchemaSet(site.url, cache=cache, policy=allowed).schema
    assert sorted(site.paths) == ['/oseo/1.0/oseo.xsd', '/oseo/1.0/types.xsd']
    assert len(list(cache.iterdir())) == 2
    assert schema.validate(etree.fromstring(f'<Code xmlns="{OSEO}">x</Code>'))
    SchemaSet(site.url, cache=cache, policy=allowed).schema
    assert len(site.paths) == 2


def test_remote_schema_cannot_include_a_local_file(tmp_path):
    """A remote schema that includes a file: URL is refused, the file is not read."""
    secret = tmp_path / 'secret.xsd'
    secret.write_text(SchemaSite.TYPES)
    site = SchemaSite(include=secret.as_uri())
    try:
        with pytest.raises(SchemaUnavailable, match='only import http'):
            SchemaSet(site.url, cache=tmp_path / 'cache',
                      policy=EgressPolicy(allow_internal=True)).schema
    finally:
        site.close()

"""The STAC JSON schemas, served to validators from local copies (no network here).

stac-api-validator (through stac-validator and stac-check) downloads the schemas of what
it validates from schemas.stacspec.org and geojson.org with `requests` / `urllib`. This
runs an HTTP(S) proxy on loopback that answers those URLs from the copies of the STAC
1.1.0 and GeoJSON schemas that pystac ships as package data (the same documents, under
pystac's licence), the STAC extension schemas in tests/data/stac-extensions (see its
README) and the PROJJSON schema that pyproj ships: the validator runs unchanged, with
HTTPS_PROXY pointing here and
REQUESTS_CA_BUNDLE / SSL_CERT_FILE trusting a certificate authority made for the test.
Any other URL is answered 404 (and logged in `misses`), so nothing reaches the network.
"""

from __future__ import annotations

import datetime
import http.server
import socketserver
import ssl
import threading
from pathlib import Path

import pyproj
import pystac
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SCHEMAS = Path(pystac.__file__).parent / 'validation' / 'jsonschemas'
EXTENSIONS = Path(__file__).resolve().parents[1] / 'data' / 'stac-extensions'
PROJJSON = Path(pyproj.datadir.get_data_dir()) / 'projjson.schema.json'
HOSTS = ('schemas.stacspec.org', 'geojson.org', 'stac-extensions.github.io',
         'json-schema.org', 'cdn.staclint.com', 'proj.org')


def local_copy(host: str, path: str) -> Path | None:
    """The local file answering https://HOST/PATH, if there is one."""
    name = path.rsplit('/', 1)[-1].split('?')[0]
    if host == 'schemas.stacspec.org' and path.startswith('/v1.1.0/'):
        candidate = SCHEMAS / 'stac-spec' / 'v1.1.0' / name
    elif host == 'geojson.org' and path.startswith('/schema/'):
        candidate = SCHEMAS / 'geojson' / name
    elif host == 'stac-extensions.github.io' and '..' not in path:
        candidate = EXTENSIONS / path.split('?')[0].lstrip('/')
    elif host == 'proj.org' and path.startswith('/schemas/') and name == PROJJSON.name:
        candidate = PROJJSON
    else:
        return None
    return candidate if candidate.is_file() else None


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """(CA certificate, server certificate, server key) files for HOSTS."""
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(
        ec.SECP256R1())
    ca = (x509.CertificateBuilder().subject_name(_name('eoorder test schemas CA'))
          .issuer_name(_name('eoorder test schemas CA')).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    leaf = (x509.CertificateBuilder().subject_name(_name(HOSTS[0]))
            .issuer_name(ca.subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in HOSTS]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    paths = directory / 'ca.pem', directory / 'server.pem', directory / 'server.key'
    paths[0].write_bytes(ca.public_bytes(pem))
    paths[1].write_bytes(leaf.public_bytes(pem))
    paths[2].write_bytes(key.private_bytes(pem, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


class _Handler(http.server.BaseHTTPRequestHandler):
    server: 'SchemaProxy'

    def log_message(self, *args):  # quiet
        pass

    def do_CONNECT(self):  # noqa: N802 - http.server's naming
        host = self.path.split(':')[0]
        self.send_response(200, 'Connection established')
        self.end_headers()
        if host not in HOSTS:
            self.server.misses.append(f'https://{self.path}')
            return
        try:
            tls = self.server.tls.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError):
            return
        inner = _Handler.__new__(_Handler)
        inner.server, inner.client_address = self.server, self.client_address
        inner.tunnel_host = host
        inner.request = inner.connection = tls
        inner.rfile, inner.wfile = tls.makefile('rb'), tls.makefile('wb')
        try:
            inner.handle()
        finally:
            inner.wfile.flush()
        self.close_connection = True

    def do_GET(self):  # noqa: N802
        host = getattr(self, 'tunnel_host', None)
        path = self.path
        if host is None:  # a plain-HTTP proxy request: GET http://host/path
            _, _, rest = path.partition('://')
            host, _, path = rest.partition('/')
            path = '/' + path
        found = local_copy(host, path)
        if found is None:
            self.server.misses.append(f'{host}{path}')
            self.send_error(404)
            return
        data = found.read_bytes()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class SchemaProxy(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """The proxy; `env()` is what a validator process needs to use it."""

    daemon_threads = True

    def __init__(self, directory: Path):
        super().__init__(('127.0.0.1', 0), _Handler)
        self.ca, cert, key = make_certificates(directory)
        self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self.tls.load_cert_chain(cert, key)
        self.misses: list[str] = []
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def __enter__(self) -> 'SchemaProxy':
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()

    def env(self) -> dict:
        proxy = f'http://127.0.0.1:{self.server_address[1]}'
        return {'HTTPS_PROXY': proxy, 'https_proxy': proxy, 'HTTP_PROXY': proxy,
                'http_proxy': proxy, 'NO_PROXY': '127.0.0.1,localhost',
                'no_proxy': '127.0.0.1,localhost', 'REQUESTS_CA_BUNDLE': str(self.ca),
                'SSL_CERT_FILE': str(self.ca), 'CURL_CA_BUNDLE': str(self.ca)}


__all__ = ['SchemaProxy', 'local_copy']

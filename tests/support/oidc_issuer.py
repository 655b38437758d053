"""A minimal OpenID Connect provider on loopback, for clients that log in themselves.

It serves the discovery document and a token endpoint granting `client_credentials`
(RFC 6749 §4.4) to one client: the access token is an RS256 JWT signed with the key whose
public half the server under test trusts (`jwks()`). No IdP runs here; this is the part of
one that the `openeo` client's `authenticate_oidc()` talks to.
"""

from __future__ import annotations

import base64
import http.server
import json
import secrets
import socketserver
import threading
import time
import urllib.parse

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


class _Handler(http.server.BaseHTTPRequestHandler):
    server: 'OidcIssuer'

    def log_message(self, *args):  # quiet
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path != '/.well-known/openid-configuration':
            return self._json(404, {'error': 'not_found'})
        issuer = self.server.issuer
        self._json(200, {'issuer': issuer, 'token_endpoint': f'{issuer}/token',
                         'authorization_endpoint': f'{issuer}/auth',
                         'jwks_uri': f'{issuer}/jwks', 'scopes_supported': ['openid'],
                         'grant_types_supported': ['client_credentials']})

    def do_POST(self):  # noqa: N802
        size = int(self.headers.get('Content-Length') or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(size).decode()))
        basic = self.headers.get('Authorization', '')
        if basic.lower().startswith('basic '):
            client, _, secret = base64.b64decode(basic[6:]).decode().partition(':')
            form.setdefault('client_id', client)
            form.setdefault('client_secret', secret)
        if self.path != '/token' or form.get('grant_type') != 'client_credentials':
            return self._json(400, {'error': 'unsupported_grant_type'})
        if (form.get('client_id'), form.get('client_secret')) != self.server.client:
            return self._json(401, {'error': 'invalid_client'})
        self._json(200, {'access_token': self.server.token(), 'token_type': 'Bearer',
                         'expires_in': 3600})


class OidcIssuer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    """`with OidcIssuer('alice') as issuer:` grants `issuer.client` tokens for alice."""

    daemon_threads = True

    def __init__(self, user: str):
        super().__init__(('127.0.0.1', 0), _Handler)
        self.issuer = f'http://127.0.0.1:{self.server_address[1]}'
        self.user = user
        self.client = ('eoorder-test-client', secrets.token_urlsafe(18))
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    def token(self) -> str:
        claims = {'sub': self.user, 'iss': self.issuer, 'exp': int(time.time()) + 3600}
        return jwt.encode(claims, self.key, algorithm='RS256', headers={'kid': 'k1'})

    def jwks(self) -> dict:
        """The public key set the server under test verifies tokens with."""
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {'keys': [{**jwk, 'kid': 'k1'}]}

    def __enter__(self) -> 'OidcIssuer':
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()
        self.server_close()


__all__ = ['OidcIssuer']

"""Built-in authenticators: none, API keys, HTTP Basic (users file), OIDC/JWT bearer tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from functools import lru_cache
from pathlib import Path

import yaml
from werkzeug.security import check_password_hash, generate_password_hash

from .base import AuthenticationFailed, Authenticator, User
from .throttle import client_address, current as current_throttle


def _path(base_dir, name: str) -> Path:
    path = Path(name)
    return path if path.is_absolute() else Path(base_dir) / path


def load_users(path: Path) -> dict[str, dict]:
    """A users file: `users: {name: {password: <werkzeug hash>, roles: [...]}}`."""
    data = yaml.safe_load(path.read_text()) or {}
    return data.get('users') or {}


class NoAuthenticator(Authenticator):
    """The embedded default: every request is the one local user, with every role."""

    def authenticate(self, request) -> User | None:
        return User('anonymous', frozenset(self.options.get('roles', ['admin'])))


@lru_cache(maxsize=8)
def _dummy_hash(method: str) -> str:
    """A hash of a random password made with `method`: checking it costs what checking a
    real user's password costs."""
    return generate_password_hash(secrets.token_urlsafe(16), method)


def _hash_method(users: dict) -> str:
    """The hash method of the users file (e.g. `scrypt:32768:8:1`), werkzeug's default
    when it has no users."""
    for entry in users.values():
        stored = entry.get('password') if isinstance(entry, dict) else None
        if isinstance(stored, str) and stored.count('$') == 2:
            return stored.split('$', 1)[0]
    return 'scrypt'


def _password_matches(stored: str, password: str) -> bool:
    """werkzeug's check (its final comparison is `hmac.compare_digest`); False for a
    malformed stored hash."""
    try:
        return check_password_hash(stored, password)
    except (ValueError, TypeError):
        return False


class BasicAuthenticator(Authenticator):
    """HTTP Basic against a users file with hashed passwords (`eoorder users add`).

    An unknown user name costs the same hash check as a known one (a dummy hash made with
    the file's method), so answer times do not tell which users exist; failed logins are
    throttled (:mod:`.throttle`).
    """

    scheme = 'Basic'

    def __init__(self, options: dict, base_dir):
        super().__init__(options, base_dir)
        self.path = _path(base_dir, options['users_file'])

    def check(self, name: str, password: str) -> User:
        throttle = current_throttle()
        keys = throttle.keys(name, client_address()) if throttle else []
        earlier_failures = throttle.check(keys) if throttle else 0
        users = load_users(self.path)
        entry = users.get(name)
        stored = entry.get('password') if isinstance(entry, dict) else None
        if not isinstance(stored, str) or not stored:
            stored = None
        matches = _password_matches(stored or _dummy_hash(_hash_method(users)), password)
        if stored is None or not matches:
            if throttle:
                throttle.failed(keys)
            raise AuthenticationFailed('wrong user name or password')
        if throttle and earlier_failures:
            throttle.succeeded(keys[0])
        return User(name, frozenset(entry.get('roles') or []))

    def authenticate(self, request) -> User | None:
        auth = request.authorization
        if auth is None or auth.type != 'basic':
            return None
        return self.check(auth.username or '', auth.password or '')


class ApiKeyAuthenticator(Authenticator):
    """API keys sent as `X-API-Key` (or `Authorization: ApiKey KEY`); only hashes are stored:
    `keys: [{sha256: <hex>, user: name, roles: [...]}]`."""

    scheme = 'ApiKey'

    def __init__(self, options: dict, base_dir):
        super().__init__(options, base_dir)
        self.path = _path(base_dir, options['keys_file'])

    def authenticate(self, request) -> User | None:
        key = request.headers.get('X-API-Key')
        header = request.headers.get('Authorization', '')
        if key is None and header.lower().startswith('apikey '):
            key = header[7:].strip()
        if key is None:
            return None
        digest = hashlib.sha256(key.encode()).hexdigest()
        data = yaml.safe_load(self.path.read_text()) or {}
        for entry in data.get('keys') or []:
            if hmac.compare_digest(str(entry.get('sha256', '')), digest):
                return User(entry['user'], frozenset(entry.get('roles') or []))
        raise AuthenticationFailed('unknown API key')


def _claim(claims: dict, path: str):
    value = claims
    for part in path.split('.'):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class JWTAuthenticator(Authenticator):
    """OIDC/JWT bearer tokens verified with PyJWT against a JWKS (URL or file): signature,
    expiry, issuer and audience; roles from a claim (e.g. `realm_access.roles`)."""

    def __init__(self, options: dict, base_dir):
        import jwt
        super().__init__(options, base_dir)
        self.issuer = options.get('issuer')
        self.audience = options.get('audience')
        self.algorithms = options.get('algorithms', ['RS256', 'ES256'])
        self.user_claim = options.get('user_claim', 'sub')
        self.roles_claim = options.get('roles_claim', 'roles')
        self.leeway = options.get('leeway_seconds', 30)
        if options.get('jwks_url'):
            self.jwks = jwt.PyJWKClient(options['jwks_url'], cache_keys=True, timeout=10)
        else:
            keys = _path(base_dir, options['jwks_file']).read_text()
            self.jwks = jwt.PyJWKSet.from_json(keys)

    def _key(self, token: str):
        import jwt
        if isinstance(self.jwks, jwt.PyJWKClient):
            return self.jwks.get_signing_key_from_jwt(token).key
        kid = jwt.get_unverified_header(token).get('kid')
        for key in self.jwks.keys:
            if kid is None or key.key_id == kid:
                return key.key
        raise AuthenticationFailed('token signed with an unknown key')

    def authenticate(self, request) -> User | None:
        header = request.headers.get('Authorization', '')
        if not header.lower().startswith('bearer '):
            return None
        return self.verify_token(header[7:].strip())

    def verify_token(self, token: str) -> User:
        """The user of a bearer token (also openEO's `oidc/<provider>/<token>` form)."""
        import jwt
        try:
            claims = jwt.decode(token, self._key(token), algorithms=self.algorithms,
                                audience=self.audience, issuer=self.issuer, leeway=self.leeway,
                                options={'require': ['exp', 'iss' if self.issuer else 'exp']})
        except jwt.ExpiredSignatureError:
            raise AuthenticationFailed('token expired') from None
        except jwt.InvalidAudienceError:
            raise AuthenticationFailed('token not meant for this service (audience)') from None
        except jwt.InvalidIssuerError:
            raise AuthenticationFailed('token from an unexpected issuer') from None
        except (jwt.InvalidTokenError, jwt.PyJWKClientError) as err:
            raise AuthenticationFailed(f'invalid token ({err})') from None
        roles = _claim(claims, self.roles_claim) or []
        if isinstance(roles, str):
            roles = roles.split()
        return User(str(claims.get(self.user_claim)), frozenset(roles), claims)

    def challenge(self) -> str:
        return 'Bearer realm="eoorder", error="invalid_token"'


BUILTIN = {'none': NoAuthenticator, 'basic': BasicAuthenticator,
           'apikey': ApiKeyAuthenticator, 'jwt': JWTAuthenticator}

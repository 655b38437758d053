"""Who is calling: users, the authenticator plugin interface and its errors."""

from __future__ import annotations

from dataclasses import dataclass, field


class AuthenticationFailed(Exception):
    """Credentials were given but are wrong, expired or badly signed."""


@dataclass(frozen=True)
class User:
    name: str
    roles: frozenset = field(default_factory=frozenset)
    claims: dict = field(default_factory=dict, compare=False, hash=False)

    def has_any(self, roles) -> bool:
        return bool(self.roles & set(roles))


class Authenticator:
    """Base of authenticator plugins (referenced by dotted path in `eoorder.auth`).

    `authenticate` returns the calling user, None when the request carries no credentials
    this authenticator understands, or raises AuthenticationFailed for bad ones.

    `check` is the WS-Security UsernameToken check (a user name and password carried in a
    SOAP header of an OSEO request): an authenticator that keeps passwords returns the
    user or raises AuthenticationFailed; the default does not support it (None), and a
    token that no authenticator can check is refused.
    """

    scheme = 'Bearer'

    def __init__(self, options: dict, base_dir):
        self.options = options
        self.base_dir = base_dir

    def authenticate(self, request) -> User | None:
        raise NotImplementedError

    def check(self, name: str, password: str) -> User | None:
        """The user with this name and password (a WS-Security UsernameToken); None if
        this authenticator does not check passwords; AuthenticationFailed if wrong."""
        return None

    def challenge(self) -> str:
        """The WWW-Authenticate value for a 401."""
        return f'{self.scheme} realm="eoorder"'

"""Who sends an OSEO request, through the deployment's auth rules.

HTTP credentials are read by the auth component before the view runs; a WS-Security
UsernameToken in the SOAP header is checked by the first authenticator that can check
a user name and password (the `basic` one, against its users file).
"""

from __future__ import annotations

from flask import g

from .errors import OseoError
from .soap import Message


def caller(auth, message: Message):
    """The calling user; AuthenticationFailed when credentials are wrong or missing."""
    from ..auth.base import AuthenticationFailed
    from ..auth.service import current_user
    if message.username is not None:
        for authenticator in auth.authenticators:
            check = getattr(authenticator, 'check', None)
            if check is None:
                continue
            try:
                return check(message.username, message.password or '')
            except AuthenticationFailed as err:
                raise OseoError('AuthenticationFailed', f'WS-Security: {err}',
                                'UsernameToken') from None
    if g.get('auth_error'):
        raise OseoError('AuthenticationFailed', f'authentication failed: {g.auth_error}',
                        'Authorization')
    user = current_user()
    if user is None:
        raise OseoError('AuthenticationFailed', 'authentication required (HTTP credentials '
                        'or a WS-Security UsernameToken)', 'Authorization')
    return user


def require(auth, user, permission: str, collection: str | None = None) -> None:
    if not auth.allowed(user, permission, collection):
        what = f' from collection {collection!r}' if collection else ''
        raise OseoError('AuthorizationFailed', f'user {user.name!r} may not {permission}'
                        f'{what}', collection and 'collectionId' or permission)

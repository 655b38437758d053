"""Who sends an OSEO request, through the deployment's auth rules.

HTTP credentials are read by the auth component before the view runs; a WS-Security
UsernameToken in the SOAP header is checked by the first authenticator that can check
a user name and password (the `basic` one, against its users file); when none can, the
token is ignored and the HTTP caller counts.
"""

from __future__ import annotations

from ..auth import scope as request_scope
from ..ordering.errors import OseoError
from ..ordering.soap import Message


def caller(auth, message: Message):
    """The calling user; AuthenticationFailed when credentials are wrong or missing."""
    from ..auth.base import AuthenticationFailed, Authenticator
    from ..auth.service import current_user
    checks_passwords = any(type(authenticator).check is not Authenticator.check
                           for authenticator in auth.authenticators)
    if message.username is not None and checks_passwords:  # else: the HTTP caller
        try:
            return auth.check_username_token(message.username, message.password or '')
        except AuthenticationFailed as err:
            raise OseoError('AuthenticationFailed', f'WS-Security: {err}',
                            'UsernameToken') from None
    scope = request_scope.current()
    if scope is not None and scope.auth_error:
        raise OseoError('AuthenticationFailed', f'authentication failed: {scope.auth_error}',
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

"""The configured authenticators and permission rules, and the caller of the current request."""

from __future__ import annotations

import contextvars
from contextlib import contextmanager

from . import scope as request_scope
from .base import AuthenticationFailed, Authenticator, User
from .builtin import BUILTIN
from ..plugins import resolve

PERMISSIONS = ('deploy', 'moderate', 'edit_catalogue', 'order', 'create_workspace')
NOBODY = User('', frozenset())  # owns nothing, has no role: sees only what is public
_ACTING = contextvars.ContextVar('eoorder_acting_as', default=None)
_ACTING_AUTH = contextvars.ContextVar('eoorder_acting_auth', default=None)


def _load(spec: dict, base_dir) -> Authenticator:
    name = spec['name']
    options = {k: v for k, v in spec.items() if k != 'name'}
    if name in BUILTIN:
        return BUILTIN[name](options, base_dir)
    if '.' not in str(name):
        raise ValueError(f'auth authenticator {name!r}: use a built-in name '
                         f'({", ".join(BUILTIN)}) or a dotted path package.module.Class')
    return resolve(name, 'auth authenticator')(options, base_dir)


class Auth:
    """Authenticators tried in order; the first that recognises credentials decides."""

    def __init__(self, block: dict, base_dir, store_url: str | None = None):
        self.store_url = store_url  # where workspace membership is read (None: nowhere)
        self.authenticators = [_load(spec, base_dir) for spec in block['authenticators']]
        self.anonymous = block['anonymous']
        self.anonymous_roles = frozenset(block['anonymous_roles'])
        self.public_paths = block['public_paths']
        self.admin_roles = frozenset(block['admin_roles'])
        self.permissions = block['permissions']
        self.order_collections = block['order_collections']

    def identify(self, request) -> User | None:
        header = request.headers.get('Authorization', '')
        login = bearer_login(header)
        if login is not None and any(type(a).check is not Authenticator.check
                                     for a in self.authenticators):
            return self.check_username_token(*login)  # openEO's basic access token
        oidc = bearer_oidc(header)
        verifiers = [a for a in self.authenticators if hasattr(a, 'verify_token')]
        if oidc is not None and verifiers:
            return verifiers[0].verify_token(oidc)  # openEO's OIDC access token
        for authenticator in self.authenticators:
            user = authenticator.authenticate(request)
            if user is not None:
                return user
        return None

    def check_username_token(self, name: str, password: str) -> User:
        """The user of a WS-Security UsernameToken, checked by the first authenticator that
        checks passwords; AuthenticationFailed if it is wrong or none can check it."""
        for authenticator in self.authenticators:
            user = authenticator.check(name, password)
            if user is not None:
                return user
        raise AuthenticationFailed('no authenticator of this server checks user names and '
                                   'passwords')

    def anonymous_user(self) -> User:
        return User('anonymous', self.anonymous_roles)

    def challenge(self) -> str:
        return ', '.join(a.challenge() for a in self.authenticators)

    def is_public(self, path: str) -> bool:
        return any(path == p or (p != '/' and path.startswith(p.rstrip('/') + '/'))
                   for p in self.public_paths)

    def is_admin(self, user: User | None) -> bool:
        return user is not None and user.has_any(self.admin_roles)

    def allowed(self, user: User | None, permission: str, collection: str | None = None) -> bool:
        if user is None:
            return False
        if self.is_admin(user):
            return True
        if not user.has_any(self.permissions.get(permission, [])):
            return False
        if permission == 'order' and collection in self.order_collections:
            return user.has_any(self.order_collections[collection])
        return True

    def owns(self, user: User | None, owner: str | None) -> bool:
        """May `user` see a resource owned by `owner`? (Admins see everything; members
        of workspace `<id>` see what `workspace:<id>` owns.)"""
        if self.is_admin(user) or (user is not None and owner == user.name):
            return True
        workspace = workspace_of_owner(owner)
        return workspace is not None and workspace in self.workspaces_of(user)

    def workspaces_of(self, user: User | None) -> frozenset[str]:
        """Ids of the workspaces `user` owns or is a member of (read once a request)."""
        if user is None or not user.name or self.store_url is None:
            return frozenset()
        scope = request_scope.current()
        memo = scope.memo if scope is not None and scope.user is user else {}
        key = ('workspaces_of', user.name)
        if key not in memo:
            from ..store import get_store
            from ..store.workspace_tables import workspaces_of
            memo[key] = workspaces_of(get_store(self.store_url), user.name)
        return memo[key]

    def can_see_process(self, user: User | None, definition: dict) -> bool:
        if definition.get('visibility', 'public') != 'private':
            return True
        return self.owns(user, definition.get('owner'))


WORKSPACE_OWNER = 'workspace:'  # owner of what belongs to a workspace: `workspace:<id>`


def workspace_of_owner(owner: str | None) -> str | None:
    """The workspace id of an owner `workspace:<id>`, else None."""
    if isinstance(owner, str) and owner.startswith(WORKSPACE_OWNER):
        return owner[len(WORKSPACE_OWNER):] or None
    return None


def bearer_login(header: str) -> tuple[str, str] | None:
    """(user, password) of an openEO basic access token, `Bearer basic//<token>` (the
    token that `/openeo/1.2/credentials/basic` hands out: the Basic credentials, base64
    URL-safe), else None."""
    import base64
    import binascii
    scheme, _, token = header.partition(' ')
    if scheme.lower() != 'bearer' or not token.startswith('basic//'):
        return None
    try:
        text = base64.urlsafe_b64decode(token[len('basic//'):].strip()).decode()
    except (binascii.Error, ValueError):
        raise AuthenticationFailed('malformed basic access token') from None
    name, colon, password = text.partition(':')
    if not colon:
        raise AuthenticationFailed('malformed basic access token')
    return name, password


def bearer_oidc(header: str) -> str | None:
    """The token of openEO's OIDC form, `Bearer oidc/<provider id>/<token>`, else None."""
    scheme, _, value = header.partition(' ')
    if scheme.lower() != 'bearer' or not value.startswith('oidc/'):
        return None
    provider, slash, token = value[len('oidc/'):].partition('/')
    return token.strip() if slash and provider else None


def caller_may(permission: str, collection: str | None = None) -> bool:
    """May the caller do this? In a request: its user. Outside one (a job in a worker):
    the user of the enclosing `acting_as` block, i.e. the job's owner; nobody else."""
    auth = acting_auth()
    if auth is None:  # no rules: an app without the auth component, or no job owner
        return request_scope.current() is not None
    return auth.allowed(current_user(), permission, collection)


def acting_auth() -> 'Auth | None':
    """The rules of the enclosing `acting_as` block, or of the current request's app."""
    acting = _ACTING_AUTH.get()
    scope = request_scope.current()
    if acting is not None or scope is None:
        return acting
    return scope.auth


def job_user(job: dict) -> User:
    """Whom a job acts for: its owner with the roles recorded when it was submitted
    (none recorded: no role, so no permission)."""
    return User(job.get('owner') or '', frozenset(job.get('owner_roles') or ()))


def current_user() -> User | None:
    """The caller of the current request (None outside a request, e.g. in a worker), or
    the user of an enclosing `acting_as` block."""
    acting = _ACTING.get()
    if acting is not None:
        return acting
    scope = request_scope.current()
    return scope.user if scope is not None else None


@contextmanager
def acting_as(user: User, auth: 'Auth | None' = None):
    """Run a block as `user`, in or outside a request: e.g. build what every caller
    shares (the OpenAPI document) as NOBODY, so that it holds nothing private; or run a
    job as its owner under the deployment's rules `auth` (for `caller_may`)."""
    token = _ACTING.set(user)
    auth_token = _ACTING_AUTH.set(auth) if auth is not None else None
    try:
        yield
    finally:
        if auth_token is not None:
            _ACTING_AUTH.reset(auth_token)
        _ACTING.reset(token)


__all__ = ['NOBODY', 'PERMISSIONS', 'Auth', 'AuthenticationFailed', 'acting_as', 'acting_auth',
           'caller_may', 'current_user', 'job_user']

"""Authentication and authorization shared by every route: who calls, and what they may do."""

from __future__ import annotations

from .base import AuthenticationFailed, Authenticator, User
from .service import Auth, caller_may, current_user

__all__ = ['Auth', 'Authenticator', 'AuthenticationFailed', 'User', 'caller_may',
           'current_user']

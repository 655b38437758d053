"""Authentication and authorization shared by every route: who calls, and what they may do."""

from __future__ import annotations

from pygeoapi.plugin import load_plugin  # noqa: F401  (plugins are loaded like pygeoapi's)

from .base import AuthenticationFailed, Authenticator, User
from .service import Auth, current_user

__all__ = ['Auth', 'Authenticator', 'AuthenticationFailed', 'User', 'current_user']

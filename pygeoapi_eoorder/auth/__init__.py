"""Authentication and authorization shared by every route: who calls, and what they may do."""

from __future__ import annotations

from .base import AuthenticationFailed, Authenticator, User
from .service import NOBODY, Auth, acting_as, acting_auth, caller_may, current_user, job_user

__all__ = ['NOBODY', 'Auth', 'AuthenticationFailed', 'Authenticator', 'User', 'acting_as',
           'acting_auth', 'caller_may', 'current_user', 'job_user']

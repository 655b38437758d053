"""Failed-login throttle: too many wrong passwords for a user name, or from a client
address, within a window are answered 429 with Retry-After until the window has passed.

Failures are kept in the shared store (table `login_failures`), so every web worker and
every server on the same store counts the same attempts. While a caller is refused, even
the right password is refused; nothing is locked for longer than the window.
"""

from __future__ import annotations

import math
import time

from sqlalchemy import Column, Float, Index, Integer, MetaData, String, Table, delete, insert, \
    select
from sqlalchemy.exc import SQLAlchemyError

from . import scope as request_scope
from .base import AuthenticationFailed

METADATA = MetaData()  # not the migrated schema: a scratch table, created on first use
FAILURES = Table('login_failures', METADATA,
                 Column('id', Integer, primary_key=True, autoincrement=True),
                 Column('key', String(320), nullable=False),
                 Column('at', Float, nullable=False),
                 Index('ix_login_failures_key_at', 'key', 'at'))
EXTENSION = 'eoorder_login_throttle'


class TooManyFailures(AuthenticationFailed):
    """Refused without checking the password: too many recent failures."""

    def __init__(self, retry_after: int):
        super().__init__(f'too many failed logins; retry in {retry_after} s')
        self.retry_after = retry_after


class LoginThrottle:
    def __init__(self, store_url: str, max_failures: int, max_per_address: int,
                 window: float):
        self.store_url = store_url
        self.limits = {'user': max_failures, 'addr': max_per_address}
        self.window = window
        self._ready_pid: int | None = None

    @classmethod
    def from_settings(cls, settings) -> 'LoginThrottle':
        conf = settings.block['auth'].get('throttle') or {}
        return cls(settings.store_url, int(conf.get('max_failures', 10)),
                   int(conf.get('max_failures_per_address', 50)),
                   float(conf.get('window_seconds', 300)))

    def _store(self):
        import os

        from ..store import get_store
        store = get_store(self.store_url)
        if self._ready_pid != os.getpid():
            try:
                METADATA.create_all(store.write_engine, checkfirst=True)
            except SQLAlchemyError:  # another worker created it at the same moment
                METADATA.create_all(store.write_engine, checkfirst=True)
            self._ready_pid = os.getpid()
        return store

    @staticmethod
    def keys(user_name: str, address: str | None) -> list[str]:
        return [f'user:{user_name[:300]}'] + ([f'addr:{address}'] if address else [])

    def check(self, keys: list[str]) -> int:
        """Raise TooManyFailures when any key has reached its limit within the window;
        else the number of recent failures of the first key (the user name)."""
        now = time.time()
        with self._store().read() as session:
            rows = session.execute(
                select(FAILURES.c.key, FAILURES.c.at)
                .where(FAILURES.c.key.in_(keys), FAILURES.c.at > now - self.window)
                .order_by(FAILURES.c.at.desc())).all()
        waits = []
        for key in keys:
            times = [at for k, at in rows if k == key]
            limit = self.limits[key.split(':', 1)[0]]
            if len(times) >= limit:  # free again when the limit-th newest failure expires
                waits.append(times[limit - 1] + self.window - now)
        if waits:
            raise TooManyFailures(max(1, math.ceil(max(waits))))
        return sum(1 for k, _ in rows if k == keys[0])

    def failed(self, keys: list[str]) -> None:
        now = time.time()
        with self._store().write() as session:
            session.execute(insert(FAILURES), [{'key': key, 'at': now} for key in keys])
            session.execute(delete(FAILURES).where(FAILURES.c.at <= now - self.window))

    def succeeded(self, user_key: str) -> None:
        """A right password forgets the user name's failures (not the address's)."""
        with self._store().write() as session:
            session.execute(delete(FAILURES).where(FAILURES.c.key == user_key))


def current() -> LoginThrottle | None:
    """The throttle of the app serving the current request (None outside requests)."""
    scope = request_scope.current()
    return scope.throttle if scope is not None else None


def client_address() -> str | None:
    scope = request_scope.current()
    return scope.client_address if scope is not None else None

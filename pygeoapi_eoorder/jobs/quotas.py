"""Per-user fair use (`eoorder.quotas`): the limits of a user, their usage, the refusal.

One check for every protocol: `JobService.submit`/`start` run `queue_guard`'s check in the
transaction that queues the job, under a per-user lock (`lock_user`), so that simultaneous
submissions of one user cannot both pass the last free place; the order service runs
`QuotaPolicy.check_order_items` the same way, in the transaction that inserts the order
(`lock_user` scope `order_items`); adapters only translate `QuotaExceeded`
into their own error. The running-jobs limit is the schedulers' (`scheduling.py`): nothing
is refused for it, jobs wait their turn. Without a queued-jobs limit nothing is counted.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Callable, Iterable

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.engine import Connection

from ..config import Settings
from ..store import Job
from .repository import ACCEPTED, RUNNING, JobRepository, same_owner

LIMITS = ('running_jobs', 'queued_jobs', 'active_order_items')
# jobs the server makes for its own work (order items have their own limit)
INTERNAL_JOB_TYPES = ('order', 'notification')


def lock_user(connection: Connection, owner: str | None, scope: str = 'jobs') -> None:
    """Serialise the quota checks of one user until the transaction ends: PostgreSQL by
    a transaction-level advisory lock keyed by the user; SQLite's write transactions
    (BEGIN IMMEDIATE) already run one at a time."""
    if connection.dialect.name == 'sqlite':
        return
    digest = hashlib.blake2b(f'eoorder-quota:{scope}:{owner or ""}'.encode(), digest_size=8)
    key = int.from_bytes(digest.digest(), 'big', signed=True)
    connection.execute(text('SELECT pg_advisory_xact_lock(:key)'), {'key': key})


@functools.lru_cache(maxsize=2)
def _queued_count(anonymous: bool):
    """The count of a user's queued jobs (`owner` bound; built once per shape: it runs
    each time a job is queued)."""
    owner = Job.owner.is_(None) if anonymous else Job.owner == bindparam('owner')
    return select(func.count()).select_from(Job).where(
        Job.status == ACCEPTED, owner, Job.type.not_in(INTERNAL_JOB_TYPES))


class QuotaExceeded(Exception):
    """A request would take a user over one of their limits."""

    def __init__(self, limit: str, allowed: int, used: int, requested: int = 1):
        self.limit, self.allowed, self.used, self.requested = limit, allowed, used, requested
        super().__init__(f'quota {limit} exceeded: {used} in use, {requested} more asked '
                         f'for, at most {allowed} allowed')

    def as_dict(self) -> dict:
        return {'limit': self.limit, 'allowed': self.allowed, 'used': self.used,
                'requested': self.requested}


@dataclass(frozen=True)
class Limits:
    """A user's limits; None: no limit."""

    running_jobs: int | None
    queued_jobs: int | None
    active_order_items: int | None


class QuotaPolicy:
    """Which limits apply to a user with these roles."""

    def __init__(self, block: dict, order_items_cap: int | None = None):
        self.block = block
        self.exempt = frozenset(block.get('exempt_roles') or ())
        self.default = Limits(block.get('running_jobs'), block.get('queued_jobs'),
                              block.get('active_order_items'))
        # `ordering.limits.max_active_items_per_user`: the ordering's own bound, for all
        self.order_items_cap = order_items_cap
        # whether any user has a running-jobs limit (else the scheduler never counts)
        self.limits_running = self.default.running_jobs is not None or any(
            (o or {}).get('running_jobs') is not None for o in (block.get('roles') or {}).values())

    @classmethod
    def from_settings(cls, settings: Settings) -> 'QuotaPolicy':
        ordering = settings.block.get('ordering', {}).get('limits', {})
        return cls(settings.block.get('quotas', {}), ordering.get('max_active_items_per_user'))

    def limits(self, roles: Iterable[str] | None) -> Limits:
        """The most generous of the defaults and each role's overrides (order items:
        never more than the ordering's own bound)."""
        roles = set(roles or ())
        if roles & self.exempt:
            return Limits(None, None, self.order_items_cap)
        overrides = [self.block.get('roles', {}).get(role) or {} for role in sorted(roles)]
        values = {}
        for name in LIMITS:
            candidates = [o[name] for o in overrides if name in o]
            if not candidates:
                values[name] = getattr(self.default, name)
            elif None in candidates:
                values[name] = None
            else:
                values[name] = max(candidates)
        cap, own = self.order_items_cap, values['active_order_items']
        if cap is not None:
            values['active_order_items'] = cap if own is None else min(own, cap)
        return Limits(**values)

    def check_order_items(self, roles: Iterable[str] | None, used: int, adding: int) -> None:
        """Raise QuotaExceeded if `adding` order items take the user over the limit."""
        allowed = self.limits(roles).active_order_items
        if allowed is not None and used + adding > allowed:
            raise QuotaExceeded('active_order_items', allowed, used, adding)


class QuotaService:
    """Usage of one user, checked against their limits."""

    def __init__(self, policy: QuotaPolicy, repo: JobRepository):
        self.policy = policy
        self.repo = repo
        # counts a user's active order items (set by the registry: ordering is above jobs)
        self.order_items: Callable[[str | None], int] | None = None

    def job_counts(self, owner: str | None) -> dict[str, int]:
        """The user's running jobs and queued jobs (internal jobs not counted as queued)."""
        with self.repo.store.read() as session:
            rows = session.execute(
                select(Job.status, Job.type, func.count()).where(
                    Job.status.in_((ACCEPTED, RUNNING)), same_owner(Job.owner, owner))
                .group_by(Job.status, Job.type)).all()
        running = sum(n for status, _, n in rows if status == RUNNING)
        queued = sum(n for status, kind, n in rows
                     if status == ACCEPTED and kind not in INTERNAL_JOB_TYPES)
        return {'running_jobs': running, 'queued_jobs': queued}

    def queue_guard(self, owner: str | None, roles: Iterable[str] | None, job_type: str,
                    adding: int = 1) -> Callable[[Connection], None] | None:
        """The check to run in the transaction that queues `adding` jobs of the user (it
        raises QuotaExceeded over the queued-jobs limit); None: no limit, nothing to count."""
        if job_type in INTERNAL_JOB_TYPES:
            return None
        allowed = self.policy.limits(roles).queued_jobs
        if allowed is None:
            return None

        def check(connection: Connection) -> None:
            lock_user(connection, owner)
            used = int(connection.scalar(_queued_count(owner is None),
                                         {'owner': owner}) or 0)
            if used + adding > allowed:
                raise QuotaExceeded('queued_jobs', allowed, used, adding)
        return check

    def usage(self, owner: str | None, roles: Iterable[str] | None) -> dict:
        """Each limit of the user with its current use (limit None: no limit)."""
        limits = self.policy.limits(roles)
        used = self.job_counts(owner)
        used['active_order_items'] = self.order_items(owner) if self.order_items else 0
        return {name: {'limit': getattr(limits, name), 'used': used[name]} for name in LIMITS}

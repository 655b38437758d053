"""Per-user fair use (`eoorder.quotas`): the limits of a user, their usage, the refusal.

One check for every protocol: `JobService.submit`/`start` call `check_queue` before a job
is committed or queued, and the order service calls `QuotaPolicy.check_order_items` before an order
is; adapters only translate `QuotaExceeded` into their own error. The running-jobs limit
is the schedulers' (`scheduling.py`): nothing is refused for it, jobs wait their turn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable

from sqlalchemy import func, select

from ..config import Settings
from ..store import Job
from .repository import ACCEPTED, RUNNING, JobRepository

LIMITS = ('running_jobs', 'queued_jobs', 'active_order_items')
# jobs the server makes for its own work (order items have their own limit)
INTERNAL_JOB_TYPES = ('order', 'notification')


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
                    Job.owner.is_not_distinct_from(owner), Job.status.in_((ACCEPTED, RUNNING)))
                .group_by(Job.status, Job.type)).all()
        running = sum(n for status, _, n in rows if status == RUNNING)
        queued = sum(n for status, kind, n in rows
                     if status == ACCEPTED and kind not in INTERNAL_JOB_TYPES)
        return {'running_jobs': running, 'queued_jobs': queued}

    def check_queue(self, owner: str | None, roles: Iterable[str] | None, job_type: str,
                    adding: int = 1) -> None:
        """Raise QuotaExceeded if `adding` more queued jobs take the user over the limit."""
        if job_type in INTERNAL_JOB_TYPES:
            return
        allowed = self.policy.limits(roles).queued_jobs
        if allowed is None:
            return
        used = self.job_counts(owner)['queued_jobs']
        if used + adding > allowed:
            raise QuotaExceeded('queued_jobs', allowed, used, adding)

    def usage(self, owner: str | None, roles: Iterable[str] | None) -> dict:
        """Each limit of the user with its current use (limit None: no limit)."""
        limits = self.policy.limits(roles)
        used = self.job_counts(owner)
        used['active_order_items'] = self.order_items(owner) if self.order_items else 0
        return {name: {'limit': getattr(limits, name), 'used': used[name]} for name in LIMITS}

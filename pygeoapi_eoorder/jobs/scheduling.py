"""Fair scheduling: which queued job starts next.

The job of the user with the fewest running jobs starts first (ties: the user whose last
job started longest ago, then the one whose oldest queued job is oldest), and never more than a user's `quotas.running_jobs` at once:
a user with a thousand queued jobs does not block another user's single one. The local
supervisor claims through `next_job`; a Celery worker asks `may_start` for the job a
message brought it.
"""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import func, or_, select

from ..store import Job
from .quotas import QuotaPolicy
from .repository import ACCEPTED, COLUMNS, RUNNING, JobRepository


class FairScheduler:
    """Round robin across users, within each user's running-jobs limit."""

    def __init__(self, repo: JobRepository, policy: QuotaPolicy):
        self.repo = repo
        self.policy = policy

    def running_counts(self) -> dict[str | None, int]:
        with self.repo.store.read() as session:
            rows = session.execute(select(Job.owner, func.count()).where(
                Job.status == RUNNING).group_by(Job.owner)).all()
        return {owner: n for owner, n in rows}

    def queued_heads(self) -> list[tuple[str | None, object]]:
        """Each user with queued jobs, and the creation time of their oldest one."""
        with self.repo.store.read() as session:
            return [tuple(row) for row in session.execute(
                select(Job.owner, func.min(Job.created)).where(Job.status == ACCEPTED)
                .group_by(Job.owner)).all()]

    def last_started(self, owners: list[str | None]) -> dict[str | None, object]:
        """When each of these users' latest job started (absent: never)."""
        named = [owner for owner in owners if owner is not None]
        who = Job.owner.in_(named) if None not in owners else \
            or_(Job.owner.in_(named), Job.owner.is_(None))
        with self.repo.store.read() as session:
            return {owner: at for owner, at in session.execute(
                select(Job.owner, func.max(Job.started)).where(who, Job.started.is_not(None))
                .group_by(Job.owner)).all()}

    def oldest_queued(self, owner: str | None) -> dict | None:
        with self.repo.store.read() as session:
            row = session.execute(select(*COLUMNS).where(
                Job.status == ACCEPTED, Job.owner.is_not_distinct_from(owner))
                .order_by(Job.created, Job.id).limit(1)).mappings().first()
            return dict(row) if row is not None else None

    def under_limit(self, job: dict, running: int) -> bool:
        allowed = self.policy.limits(job.get('owner_roles')).running_jobs
        return allowed is None or running < allowed

    def candidates(self):
        """(owner, oldest queued job) of each user who may start one now, fairest first."""
        heads = self.queued_heads()
        if not heads:
            return
        running = self.running_counts()
        served = self.last_started([owner for owner, _ in heads])
        never = datetime.min.replace(tzinfo=timezone.utc)
        heads.sort(key=lambda head: (running.get(head[0], 0),
                                     _aware(served.get(head[0])) or never, _aware(head[1])))
        for owner, _ in heads:
            job = self.oldest_queued(owner)
            if job is not None and self.under_limit(job, running.get(owner, 0)):
                yield owner, job

    def next_job(self, worker: str) -> dict | None:
        """Claim the next job fairly for `worker` (None: nothing may start now)."""
        for _, job in self.candidates():
            claimed = self.repo.claim_id(job['id'], worker)
            if claimed is not None:
                return claimed
        return None

    def may_start(self, job: dict) -> bool:
        """Whether the job's owner is below their running-jobs limit now."""
        owner = job.get('owner')
        with self.repo.store.read() as session:
            running = session.scalar(select(func.count()).select_from(Job).where(
                Job.status == RUNNING, Job.owner.is_not_distinct_from(owner)))
        return self.under_limit(job, int(running or 0))


def _aware(moment):
    """SQLite returns naive UTC datetimes, PostgreSQL aware ones: compare them as aware."""
    if moment is not None and moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment

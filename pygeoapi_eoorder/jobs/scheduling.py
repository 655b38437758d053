"""Fair scheduling: which queued job starts next.

The job of the user with the fewest running jobs starts first (ties: the user whose last
job started longest ago, then the one whose oldest queued job is oldest), and never more
than a user's `quotas.running_jobs` at once: a user with a thousand queued jobs does not
block another user's single one. The local supervisor claims through `next_job`; a Celery
worker asks `may_start` for the job a message brought it.

One statement ranks the users with queued work and returns each one's oldest queued job
with their running count (`fair_heads`): every per-user lookup in it is an index seek
(`ix_eoorder_job_status_owner_created`, `ix_eoorder_job_owner_started`), so a claim costs
that statement and the claim's UPDATE, whatever the length of the job history.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

from sqlalchemy import case, func, select

from ..store import Job
from .quotas import QuotaPolicy
from .repository import ACCEPTED, RUNNING, JobRepository, same_owner

# what choosing and claiming a head needs of it (its claim returns the whole job)
HEAD_COLUMNS = (Job.id, Job.owner, Job.owner_roles, Job.process_id, Job.provenance)


def _per_owner(owner, lookup: Callable) -> object:
    """`lookup(condition)` for the user `owner` (an outer column): NULL (anonymous) and
    named users each get a condition that an index can seek (`IS NOT DISTINCT FROM`
    cannot on PostgreSQL)."""
    return case((owner.is_(None), lookup(lambda column: column.is_(None))),
                else_=lookup(lambda column: column == owner))


@lru_cache(maxsize=None)
def fair_heads(limit: int | None = None):
    """Each user's oldest queued job (`HEAD_COLUMNS`) with the user's running count and
    the number of queued jobs of all users (`queued`), fairest first (built once:
    building it costs more than running it)."""
    heads = select(Job.owner, func.min(Job.created).label('first'),
                   func.count().label('queued')).where(
        Job.status == ACCEPTED).group_by(Job.owner).subquery('heads')

    def running(same):
        other = Job.__table__.alias()
        return select(func.count()).select_from(other).where(
            other.c.status == RUNNING, same(other.c.owner)).scalar_subquery()

    def served(same):  # max(started), written so that it reads one index entry
        other = Job.__table__.alias()
        return select(other.c.started).where(same(other.c.owner), other.c.started.is_not(None)) \
            .order_by(other.c.started.desc()).limit(1).scalar_subquery()

    def head(same):
        other = Job.__table__.alias()
        return select(other.c.id).where(other.c.status == ACCEPTED, same(other.c.owner)).order_by(
            other.c.created, other.c.id).limit(1).scalar_subquery()

    ranked = select(heads.c.first, _per_owner(heads.c.owner, running).label('running'),
                    _per_owner(heads.c.owner, served).label('served'),
                    _per_owner(heads.c.owner, head).label('head'),
                    func.sum(heads.c.queued).over().label('queued')).subquery('ranked')
    query = select(*HEAD_COLUMNS, ranked.c.running, ranked.c.queued).join_from(ranked, Job,
                                                               Job.id == ranked.c.head)
    query = query.order_by(ranked.c.running, ranked.c.served.nulls_first(), ranked.c.first)
    return query.limit(limit) if limit is not None else query


class FairScheduler:
    """Round robin across users, within each user's running-jobs limit."""

    def __init__(self, repo: JobRepository, policy: QuotaPolicy):
        self.repo = repo
        self.policy = policy
        # queued jobs (of all users) the last `next_job` saw, its own claim taken off;
        # 0: the queue was empty then (None: not known yet)
        self.queued_left: int | None = None

    def under_limit(self, job: dict, running: int) -> bool:
        allowed = self.policy.limits(job.get('owner_roles')).running_jobs
        return allowed is None or running < allowed

    def candidates(self):
        """(owner, oldest queued job) of each user who may start one now, fairest first."""
        # without running-jobs limits the fairest user may always start: one row is enough
        limit = None if self.policy.limits_running else 1
        with self.repo.store.read_engine.connect() as connection:  # Core: once a claim
            rows = connection.execute(fair_heads(limit)).mappings().all()
        self.queued_left = int(rows[0]['queued']) if rows else 0
        for row in rows:
            job = dict(row)
            running = job.pop('running')
            job.pop('queued')
            if self.under_limit(job, running):
                yield job['owner'], job

    def next_job(self, worker: str, provenance: Callable[[dict], dict] | None = None
                 ) -> dict | None:
        """Claim the next job fairly for `worker` (None: nothing may start now);
        `provenance(job)`: the provenance the claim records (see `claim_id`)."""
        for _ in range(3):  # another claimer took the picked job: pick again
            picked = False
            for _, job in self.candidates():
                picked = True
                claimed = self.repo.claim_id(job['id'], worker,
                                             provenance(job) if provenance else None)
                if claimed is not None:
                    self.queued_left -= 1
                    return claimed
            if not picked:
                return None
        return None

    def may_start(self, job: dict) -> bool:
        """Whether the job's owner is below their running-jobs limit now."""
        if not self.policy.limits_running:
            return True
        with self.repo.store.read() as session:
            running = session.scalar(select(func.count()).select_from(Job).where(
                Job.status == RUNNING, same_owner(Job.owner, job.get('owner'))))
        return self.under_limit(job, int(running or 0))

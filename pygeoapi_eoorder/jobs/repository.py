"""Job records in the shared store, and the one table of allowed status transitions."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable

from sqlalchemy import and_, bindparam, delete, false, func, insert, or_, select, update
from sqlalchemy.engine import Connection
from sqlalchemy.sql import ColumnElement

from .. import urls
from ..store import Job, Store, utcnow
from ..store.hot import HotStatement

CREATED, ACCEPTED, RUNNING, SUCCESSFUL, FAILED, DISMISSED = (
    'created', 'accepted', 'running', 'successful', 'failed', 'dismissed')
STATUSES = (CREATED, ACCEPTED, RUNNING, SUCCESSFUL, FAILED, DISMISSED)
FINAL = (SUCCESSFUL, FAILED, DISMISSED)

# target status -> statuses a job may be in to move there (the only place this is decided)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    ACCEPTED: (RUNNING, CREATED),            # requeued after a crash; a created one started
    RUNNING: (ACCEPTED,),
    SUCCESSFUL: (RUNNING,),
    FAILED: (ACCEPTED, RUNNING),
    DISMISSED: (CREATED, ACCEPTED, RUNNING, SUCCESSFUL, FAILED),
}

JOB_FIELDS = ('id', 'type', 'process_id', 'status', 'message', 'progress', 'created',
              'started', 'finished', 'updated', 'duration', 'inputs', 'requested_outputs',
              'response', 'subscriber', 'mimetype', 'result_file', 'error', 'idempotent',
              'attempts', 'worker', 'owner', 'owner_roles', 'files_removed', 'heartbeat',
              'queued', 'base_url', 'provenance', 'details')


COLUMNS = [Job.__table__.c[name] for name in JOB_FIELDS]
Guard = Callable[[Connection], None]  # a check in a write transaction (raises to refuse)


def same_owner(column, owner: str | None):
    """SQL condition: `column` is the user `owner` (None: anonymous), in a form an index
    can seek (`IS NOT DISTINCT FROM` cannot on PostgreSQL)."""
    return column.is_(None) if owner is None else column == owner


@dataclass
class JobQuery:
    """Filters of a job listing (OGC API - Processes job list parameters)."""

    types: list[str] = field(default_factory=list)
    process_ids: list[str] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    created_from: datetime | None = None
    created_to: datetime | None = None
    min_duration: float | None = None
    max_duration: float | None = None
    owner: str | None = None
    created_of: str | None = None  # `created` jobs only of this user (Part 4: owner only)
    limit: int = 10
    offset: int = 0


_TABLE = Job.__table__


def _status_in(statuses) -> ColumnElement:
    """SQL condition: the job's status is one of `statuses` (spelled without `IN`: the
    statements built once run as `HotStatement`s)."""
    return or_(false(), *(_TABLE.c.status == status for status in statuses))


def _movable(to: str, only_from: tuple[str, ...] | None) -> list[str]:
    """The statuses a job may move to `to` from (those of `only_from`, if given)."""
    return [status for status in TRANSITIONS[to] if only_from is None or status in only_from]


@functools.lru_cache(maxsize=64)
def _moving(to: str, names: tuple[str, ...], only_from: tuple[str, ...] | None):
    """The UPDATE of `transition` setting the columns `names` (bound as `new_<name>`) of
    the job `job_id` if its status may move to `to` (and is one of `only_from`): built
    once per shape, not per job."""
    return HotStatement(update(_TABLE).where(
        _TABLE.c.id == bindparam('job_id'), _status_in(_movable(to, only_from))).values(
        {name: bindparam(f'new_{name}', type_=_TABLE.c[name].type) for name in names}))


# built once: the reads of one job (every poll, every end of a job)
_GET = HotStatement(select(*COLUMNS).where(_TABLE.c.id == bindparam('job_id')))
_INSERT = HotStatement(insert(_TABLE))  # (every column bound by its name)
_STATUS = select(_TABLE.c.status).where(_TABLE.c.id == bindparam('job_id'))
_HELD = select(_TABLE.c.status, _TABLE.c.worker, _TABLE.c.files_removed).where(
    _TABLE.c.id == bindparam('job_id'))
_END_STAMPED = HotStatement(update(_TABLE).where(_TABLE.c.id == bindparam('job_id')).values(
    updated=bindparam('now'), finished=bindparam('now'), duration=bindparam('duration')))
_SET_PROVENANCE = update(_TABLE).where(_TABLE.c.id == bindparam('job_id')).values(
    provenance=bindparam('facts', type_=_TABLE.c.provenance.type))


def _ended(started: datetime | None) -> tuple[datetime, float]:
    """A job's end time, now, and its duration since `started` (none: 0)."""
    now = utcnow()
    return now, (now - (started or now)).total_seconds()


def _stamp_end(connection: Connection, job_id: str, started: datetime | None) -> None:
    """The job's end times and duration, now (the last write of its ending transaction)."""
    now, duration = _ended(started)
    _END_STAMPED.execute(connection, {'job_id': job_id, 'now': now, 'duration': duration})


def _claim(**also):
    """The claim statement (built once): the accepted job `job_id` moves to running for
    `worker`; `also`: more columns it sets (bound parameters)."""
    return update(_TABLE).where(
        _TABLE.c.id == bindparam('job_id'), _status_in(TRANSITIONS[RUNNING])).values(
        status=RUNNING, started=bindparam('now'), updated=bindparam('now'),
        heartbeat=bindparam('now'), progress=0, message='Job running',
        attempts=_TABLE.c.attempts + 1, worker=bindparam('worker'), **also).returning(*COLUMNS)


_RECORDING = _claim(provenance=bindparam('facts', type_=_TABLE.c.provenance.type))
_CLAIM = HotStatement(_claim())
_CLAIM_RECORDING = HotStatement(_RECORDING)
_CLAIM_FIRST = HotStatement(_RECORDING.where(_TABLE.c.attempts == 0))  # (nothing recorded yet)


class JobRepository:
    """Reads and writes job records; every status change goes through `transition`."""

    def __init__(self, store: Store):
        self.store = store

    # -- creation and reading -------------------------------------------------
    @staticmethod
    def new_row(process_id: str, *, job_type: str = 'process', inputs: Any = None,
                requested_outputs: Any = None, response: str = 'raw',
                subscriber: dict | None = None, idempotent: bool = False,
                owner: str | None = None, owner_roles: list[str] | None = None,
                job_id: str | None = None, details: dict | None = None,
                message: str = 'Job accepted and queued', status: str = ACCEPTED) -> dict:
        """The row of a new `accepted` job (for `add`, or a caller's own transaction),
        with the base URL of the request that creates it (its links start with it);
        `status=CREATED`: kept until started (OGC API - Processes Part 4)."""
        now = utcnow()
        job = {name: None for name in JOB_FIELDS}
        job.update(id=job_id or str(uuid.uuid4()), type=job_type, process_id=process_id,
                   status=status, message=message, progress=0, created=now, updated=now,
                   inputs=inputs, requested_outputs=requested_outputs, response=response,
                   subscriber=subscriber, idempotent=idempotent, attempts=0, owner=owner,
                   owner_roles=sorted(owner_roles) if owner_roles else None,
                   files_removed=False, base_url=urls.of_request(), details=details)
        return job

    def add(self, process_id: str, guard: Guard | None = None, **fields: Any) -> dict:
        """Commit a new `accepted` job and return it; `guard` (e.g. a quota check) runs
        first in the same transaction, and raising in it inserts nothing."""
        job = self.new_row(process_id, **fields)
        with self.store.write_engine.begin() as connection:  # Core: the hot path of submit
            if guard is not None:
                guard(connection)
            _INSERT.execute(connection, job)
        return job

    def get(self, job_id: str) -> dict | None:
        with self.store.read_engine.connect() as connection:  # read at every poll
            rows, _ = _GET.execute(connection, {'job_id': job_id})
            return rows[0] if rows else None

    @staticmethod
    def ended_check(job_id: str) -> Callable[[Connection], bool]:
        """A test for another transaction on this store: the job was dismissed or deleted
        (what it writes then would outlive it)."""
        def ended(connection: Connection) -> bool:
            status = connection.scalar(_STATUS, {'job_id': job_id})
            return status is None or status == DISMISSED
        return ended

    def write_unless_ended(self, job_id: str, write: Callable[[Connection], object]) -> bool:
        """`write(connection)` in a transaction of its own, unless the job was dismissed
        or deleted (read in that transaction); True if written."""
        with self.store.write_engine.begin() as connection:
            if self.ended_check(job_id)(connection):
                return False
            write(connection)
            return True

    def has_ended(self, job_id: str) -> bool:
        """The job was dismissed or deleted (`ended_check`, read now)."""
        with self.store.read_engine.connect() as connection:
            return self.ended_check(job_id)(connection)

    def status_of(self, job_ids: Iterable[str]) -> dict[str, str]:
        ids = list(job_ids)
        if not ids:
            return {}
        with self.store.read_engine.connect() as connection:  # the supervisor, every turn
            rows = connection.execute(select(Job.id, Job.status).where(Job.id.in_(ids)))
            return {row.id: row.status for row in rows}

    def query(self, q: JobQuery) -> tuple[list[dict], int]:
        """Jobs matching `q`, newest first, and how many match in all."""
        conditions = []
        if q.types:
            conditions.append(Job.type.in_(q.types))
        if q.process_ids:
            conditions.append(Job.process_id.in_(q.process_ids))
        if q.statuses:
            conditions.append(Job.status.in_(q.statuses))
        if q.created_from is not None:
            conditions.append(Job.created >= q.created_from)
        if q.created_to is not None:
            conditions.append(Job.created <= q.created_to)
        if q.owner is not None:
            conditions.append(Job.owner == q.owner)
        if q.created_of is not None:
            conditions.append(or_(Job.status != CREATED, Job.owner == q.created_of))
        now = utcnow()
        if q.min_duration is not None:
            conditions.append(or_(
                and_(Job.duration.is_not(None), Job.duration >= q.min_duration),
                and_(Job.status == RUNNING, Job.started.is_not(None),
                     Job.started <= now - timedelta(seconds=q.min_duration))))
        if q.max_duration is not None:
            conditions.append(or_(
                and_(Job.duration.is_not(None), Job.duration <= q.max_duration),
                and_(Job.status == RUNNING, Job.started.is_not(None),
                     Job.started >= now - timedelta(seconds=q.max_duration))))
        where = and_(*conditions) if conditions else True
        with self.store.read() as session:
            total = session.scalar(select(func.count()).select_from(Job).where(where))
            rows = session.execute(select(*COLUMNS).where(where)
                                   .order_by(Job.created.desc(), Job.id)
                                   .limit(q.limit).offset(q.offset)).mappings()
            return [dict(row) for row in rows], int(total or 0)

    # -- status changes -------------------------------------------------------
    def transition(self, job_id: str, to: str, *, where: tuple = (),
                   only_from: tuple[str, ...] | None = None, guard: Guard | None = None,
                   also: Iterable[Callable[[Connection], object]] = (), **fields: Any) -> bool:
        """Move a job to `to` if the table allows it from its current status.

        Compare-and-set in one statement, so that concurrent writers (a dismissal and a
        finishing worker, or a duplicate delivery) cannot both win. `only_from` narrows
        the statuses it may move from; `where` adds conditions (e.g. "its lease
        expired") to the same statement; `guard` runs first in the same transaction
        (raising in it changes nothing); each of `also` runs after a move, in the same
        transaction (raising in one undoes the move).
        """
        now = utcnow()
        values = {'status': to, 'updated': now, **fields}
        if to in FINAL and 'finished' not in fields and to != DISMISSED:
            values['finished'] = now
        with self.store.write_engine.begin() as connection:  # Core: every job passes here
            if guard is not None:
                guard(connection)
            if where:
                statement = update(Job).where(
                    Job.id == job_id, Job.status.in_(_movable(to, only_from)), *where
                ).values(**values)
                moved = connection.execute(statement).rowcount == 1
            else:
                moved = _moving(to, tuple(values), only_from).execute(connection, {
                    'job_id': job_id, **{f'new_{k}': v for k, v in values.items()}})[1] == 1
            for write in also if moved else ():
                write(connection)
            return moved

    def update_created(self, job_id: str, **fields: Any) -> bool:
        """Change the definition of a job still `created` (False once it was started)."""
        with self.store.write() as session:
            result = session.execute(update(Job).where(Job.id == job_id, Job.status == CREATED)
                                     .values(updated=utcnow(), **fields))
            return result.rowcount == 1

    def set_details(self, job_id: str, details: dict, unless: tuple[str, ...] = ()) -> bool:
        """Replace what the client says about a job (title, description, ...), unless
        its status is one of `unless`; True if it was changed."""
        with self.store.write() as session:
            result = session.execute(update(Job).where(Job.id == job_id,
                                                       Job.status.not_in(unless))
                                     .values(details=details, updated=utcnow()))
            return result.rowcount == 1

    def record_provenance(self, job_id: str, known: dict | None = None,
                          **facts: Any) -> None:
        """Add facts about what the job ran (only its worker writes them). `known`: the
        job's provenance as its worker holds it (not read again)."""
        with self.store.write_engine.begin() as connection:  # Core: at every job's start
            current = known if known is not None else connection.scalar(
                select(Job.provenance).where(Job.id == job_id))
            connection.execute(_SET_PROVENANCE, {'job_id': job_id,
                                                 'facts': {**(current or {}), **facts}})

    def finish(self, job_id: str, to: str, started: datetime | None = None,
               also: Iterable[Callable[[Connection], object]] = (), **fields: Any) -> bool:
        """Move a running job to a final status, recording its duration; `also`: writes
        made in the same transaction if it moves (see `transition`). The job ends once
        those are written: its `finished` and `updated` times (and its duration) are
        taken again after them, as they are committed with it (a client sees it ended
        only then)."""
        if started is None:
            job = self.get(job_id)
            if job is None:
                return False
            started = job['started']
        now, duration = _ended(started)
        writes = list(also)
        if writes:
            writes.append(functools.partial(_stamp_end, job_id=job_id, started=started))
        return self.transition(job_id, to, finished=now, worker=None, also=writes,
                               duration=duration, **fields)

    def report_progress(self, job_id: str, progress: int, message: str | None = None) -> bool:
        """Record progress of a running job (ignored once it left `running`)."""
        values: dict[str, Any] = {'progress': max(0, min(100, int(progress))),
                                  'updated': utcnow()}
        if message is not None:
            values['message'] = message
        with self.store.write() as session:
            result = session.execute(update(Job).where(Job.id == job_id, Job.status == RUNNING)
                                     .values(**values))
            return result.rowcount == 1

    def claim(self, worker: str) -> dict | None:
        """Move the oldest accepted job to running for `worker`, in one statement."""
        oldest = select(Job.id).where(Job.status == ACCEPTED).order_by(Job.created).limit(1)
        if not self.store.is_sqlite:
            oldest = oldest.with_for_update(skip_locked=True)
        now = utcnow()
        with self.store.write() as session:
            row = session.execute(
                update(Job).where(Job.id == oldest.scalar_subquery(),
                                  Job.status.in_(TRANSITIONS[RUNNING]))
                .values(status=RUNNING, started=now, updated=now, progress=0,
                        message='Job running', attempts=Job.attempts + 1, worker=worker)
                .returning(*COLUMNS)).mappings().first()
            return dict(row) if row is not None else None

    # -- the cluster engine (Celery): claims by id, leases, publication -----------
    def claim_id(self, job_id: str, worker: str, provenance: dict | None = None,
                 first: bool = False) -> dict | None:
        """Move this accepted job to running for `worker` (a delivered task), in one
        statement: of duplicate deliveries, only one gets the job. `provenance`: the
        job's provenance from now on (what it runs), written by the same statement;
        `first`: only if it was never claimed before (it has no provenance to keep)."""
        values = {'job_id': job_id, 'worker': worker, 'now': utcnow()}
        if provenance is not None:
            values['facts'] = provenance
        statement = _CLAIM if provenance is None else \
            _CLAIM_FIRST if first else _CLAIM_RECORDING
        with self.store.write_engine.begin() as connection:  # the hot path of claims
            rows, _ = statement.execute(connection, values)
            return rows[0] if rows else None

    @staticmethod
    def lease_expired(before: datetime):
        """SQL condition: the running job's holder renewed its lease last before `before`."""
        return func.coalesce(Job.heartbeat, Job.started, Job.updated) < before

    def renew_lease(self, job_id: str, worker: str) -> bool:
        """The holder's heartbeat; False if the job is no longer running for `worker`."""
        with self.store.write() as session:
            result = session.execute(
                update(Job).where(Job.id == job_id, Job.status == RUNNING, Job.worker == worker)
                .values(heartbeat=utcnow()))
            return result.rowcount == 1

    def holder(self, job_id: str) -> dict | None:
        """Status, worker and lease of a job (what a watcher polls)."""
        with self.store.read() as session:
            row = session.execute(select(Job.status, Job.worker, Job.heartbeat,
                                         Job.files_removed).where(Job.id == job_id)
                                  ).mappings().first()
            return dict(row) if row is not None else None

    def stale(self, before: datetime) -> list[dict]:
        """Running jobs, and dismissed jobs still held, whose lease expired before `before`."""
        with self.store.read() as session:
            rows = session.execute(select(*COLUMNS).where(
                or_(Job.status == RUNNING, and_(Job.status == DISMISSED, Job.worker.is_not(None))),
                self.lease_expired(before))).mappings()
            return [dict(row) for row in rows]

    def mark_queued(self, job_id: str) -> None:
        with self.store.write() as session:
            session.execute(update(Job).where(Job.id == job_id).values(queued=utcnow()))

    def unpublished(self, before: datetime) -> list[str]:
        """Accepted jobs committed before `before` that never reached the broker (it was
        down, or the server died between commit and publication)."""
        with self.store.read() as session:
            return list(session.scalars(select(Job.id).where(
                Job.status == ACCEPTED, Job.queued.is_(None), Job.created < before)
                .order_by(Job.created)))

    def release(self, job_id: str, worker: str | None = None) -> dict | None:
        """The job left its worker; return its status and whether its files are gone.

        With `worker`, only if that worker still holds it (not after a takeover). A job
        its worker let go of when it finished is only read (no write transaction)."""
        with self.store.read_engine.connect() as connection:
            row = connection.execute(_HELD, {'job_id': job_id}).mappings().first()
        if row is None or row['worker'] is None:
            return None if row is None else {'status': row['status'],
                                             'files_removed': row['files_removed']}
        held = (Job.worker == worker,) if worker is not None else ()
        with self.store.write() as session:
            row = session.execute(update(Job).where(Job.id == job_id, *held).values(worker=None)
                                  .returning(Job.status, Job.files_removed)).mappings().first()
            return dict(row) if row is not None else None

    def dismiss(self, job_id: str) -> str | None:
        """Dismiss a job; return the status it had (None if unknown or already dismissed)."""
        for _ in range(3):
            job = self.get(job_id)
            if job is None or job['status'] == DISMISSED:
                return None
            if self.transition(job_id, DISMISSED, message='Job dismissed'):
                return job['status']
        return None

    def interrupted(self) -> list[dict]:
        """Jobs left `running` by a job engine that is no longer alive."""
        with self.store.read() as session:
            rows = session.execute(select(*COLUMNS).where(Job.status == RUNNING)).mappings()
            return [dict(row) for row in rows]

    def never_started(self, before: datetime) -> list[str]:
        """Jobs still `created` (Part 4) whose last change is older than `before`."""
        with self.store.read() as session:
            return list(session.scalars(select(Job.id).where(
                Job.status == CREATED, Job.updated < before)))

    def dismiss_created(self, job_id: str, message: str) -> bool:
        """Dismiss a job if it is still `created` (False once it was started)."""
        return self.transition(job_id, DISMISSED, only_from=(CREATED,),
                               message=message)

    def expired(self, before: datetime) -> list[str]:
        """Final jobs finished before `before` whose files are still on disk."""
        with self.store.read() as session:
            return list(session.scalars(select(Job.id).where(
                Job.status.in_(FINAL), Job.files_removed.is_(False),
                func.coalesce(Job.finished, Job.updated) < before)))

    def mark_files_removed(self, job_id: str, message: str | None = None) -> None:
        values: dict[str, Any] = {'files_removed': True}
        if message:
            values['message'] = message
        with self.store.write() as session:
            session.execute(update(Job).where(Job.id == job_id).values(**values))

    def purge(self, job_id: str) -> None:
        with self.store.write() as session:
            session.execute(delete(Job).where(Job.id == job_id))

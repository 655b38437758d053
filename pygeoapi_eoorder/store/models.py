"""SQL schema of the shared store (SQLite embedded, PostgreSQL at scale)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, Boolean, DateTime, Float, Index, Integer, LargeBinary, String,
                        Text)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every table of the store."""


class Job(Base):
    """One unit of work of the job engine: a process execution, an order item, a harvest."""

    __tablename__ = 'eoorder_job'

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    type: Mapped[str] = mapped_column(String(32), default='process')
    process_id: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    message: Mapped[str | None] = mapped_column(Text)
    progress: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[datetime] = mapped_column(DateTime)
    started: Mapped[datetime | None] = mapped_column(DateTime)
    finished: Mapped[datetime | None] = mapped_column(DateTime)
    updated: Mapped[datetime] = mapped_column(DateTime)
    duration: Mapped[float | None] = mapped_column(Float)
    inputs: Mapped[dict | None] = mapped_column(JSON)
    requested_outputs: Mapped[dict | None] = mapped_column(JSON)
    response: Mapped[str] = mapped_column(String(16), default='raw')
    subscriber: Mapped[dict | None] = mapped_column(JSON)
    mimetype: Mapped[str | None] = mapped_column(String(255))
    result_file: Mapped[str | None] = mapped_column(String(255))
    error: Mapped[dict | None] = mapped_column(JSON)
    idempotent: Mapped[bool] = mapped_column(Boolean, default=False)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker: Mapped[str | None] = mapped_column(String(64))
    owner: Mapped[str | None] = mapped_column(String(255))
    owner_roles: Mapped[list | None] = mapped_column(JSON)  # the owner's roles at submission
    base_url: Mapped[str | None] = mapped_column(String(2048))  # of the submitting request
    files_removed: Mapped[bool] = mapped_column(Boolean, default=False)
    # engine celery: the running task renews `heartbeat` (its lease); a stale one means
    # its worker is gone. `queued`: when the job was published to the broker.
    heartbeat: Mapped[datetime | None] = mapped_column(DateTime)
    queued: Mapped[datetime | None] = mapped_column(DateTime)
    # what ran (process package digest, Docker image id and digests): OGC API Part 4 prov
    provenance: Mapped[dict | None] = mapped_column(JSON)
    # what its client says about the job (title, description; openEO plan, budget)
    details: Mapped[dict | None] = mapped_column(JSON)

    __table_args__ = (
        Index('ix_eoorder_job_status_created', 'status', 'created'),
        Index('ix_eoorder_job_process_id', 'process_id'),
        Index('ix_eoorder_job_type', 'type'),
        Index('ix_eoorder_job_created', 'created'),
        Index('ix_eoorder_job_owner_started', 'owner', 'started'),  # fair scheduling
        # fair scheduling and quotas: a user's queued (oldest first) and running jobs
        Index('ix_eoorder_job_status_owner_created', 'status', 'owner', 'created', 'id'),
    )


class DeployedProcess(Base):
    """A process added at run time (OGC API - Processes Part 2), shared by all workers."""

    __tablename__ = 'eoorder_process'

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    definition: Mapped[dict] = mapped_column(JSON)
    package: Mapped[str | None] = mapped_column(Text)
    package_media_type: Mapped[str | None] = mapped_column(String(255))
    owner: Mapped[str | None] = mapped_column(String(255))
    created: Mapped[datetime] = mapped_column(DateTime)
    updated: Mapped[datetime] = mapped_column(DateTime)


class JobFile(Base):
    """A job's result file or log kept in the store (`jobs.result_store: database`), so
    that every server instance can serve it, whichever worker produced it."""

    __tablename__ = 'eoorder_job_file'

    job_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    path: Mapped[str] = mapped_column(String(1024), primary_key=True)  # relative to the job dir
    size: Mapped[int] = mapped_column(Integer, default=0)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    updated: Mapped[datetime] = mapped_column(DateTime)

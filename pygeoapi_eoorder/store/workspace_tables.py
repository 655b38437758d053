"""Tables of workspaces (created by store migration 0006): the workspace with its owner and
storage quota, and its members (and its open storage bookings, migration 0013); and who belongs to which workspace (the membership that
the auth rules and the catalogue's visibility read)."""

from __future__ import annotations

from sqlalchemy import (BigInteger, Column, DateTime, ForeignKey, MetaData, String, Table, Text,
                        select)
from sqlalchemy.exc import SQLAlchemyError

METADATA = MetaData()

WORKSPACE = Table(
    'eoorder_workspace', METADATA,
    Column('id', String(64), primary_key=True),
    Column('title', Text),
    Column('owner', String(255), nullable=False),
    Column('quota_bytes', BigInteger, nullable=False),
    Column('personal', String(255), unique=True),  # whose personal workspace it is
    Column('created', DateTime, nullable=False),
    Column('used_bytes', BigInteger),  # stored usage (migration 0008); NULL: not counted yet
)

MEMBER = Table(
    'eoorder_workspace_member', METADATA,
    Column('workspace', String(64), ForeignKey('eoorder_workspace.id', ondelete='CASCADE'),
           primary_key=True),
    Column('user', String(255), primary_key=True),
)

BOOKING = Table(  # open bookings of `used_bytes` (migration 0013; workspaces/bookings.py)
    'eoorder_workspace_booking', METADATA,
    Column('id', String(64), primary_key=True),
    Column('workspace', String(64), nullable=False, index=True),
    Column('purpose', String(16), nullable=False),  # 'job' or 'upload'
    Column('subject', Text, nullable=False),  # the job id, or the uploaded key
    Column('bytes', BigInteger, nullable=False),  # booked in used_bytes
    Column('replaced', BigInteger, nullable=False),  # an upload: the size it replaces
    Column('created', DateTime, nullable=False),
)


def workspaces_of(store, user_name: str) -> frozenset[str]:
    """Ids of the workspaces `user_name` owns or is a member of (none if the store has no
    workspace tables)."""
    member = select(MEMBER.c.workspace).where(MEMBER.c.user == user_name)
    query = select(WORKSPACE.c.id).where((WORKSPACE.c.owner == user_name)
                                         | WORKSPACE.c.id.in_(member))
    try:
        with store.read() as session:
            return frozenset(session.execute(query).scalars())
    except SQLAlchemyError:
        return frozenset()


def titles(store, ids: frozenset[str] | None = None) -> dict[str, str | None]:
    """{workspace id: title} of `ids` (None: of every workspace)."""
    query = select(WORKSPACE.c.id, WORKSPACE.c.title).order_by(WORKSPACE.c.id)
    if ids is not None:
        if not ids:
            return {}
        query = query.where(WORKSPACE.c.id.in_(sorted(ids)))
    try:
        with store.read() as session:
            return {row.id: row.title for row in session.execute(query)}
    except SQLAlchemyError:
        return {}

"""Tables of workspaces (created by store migration 0006): the workspace with its owner and
storage quota, and its members."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, ForeignKey, MetaData, String, Table, Text

METADATA = MetaData()

WORKSPACE = Table(
    'eoorder_workspace', METADATA,
    Column('id', String(64), primary_key=True),
    Column('title', Text),
    Column('owner', String(255), nullable=False),
    Column('quota_bytes', BigInteger, nullable=False),
    Column('personal', String(255), unique=True),  # whose personal workspace it is
    Column('created', DateTime, nullable=False),
)

MEMBER = Table(
    'eoorder_workspace_member', METADATA,
    Column('workspace', String(64), ForeignKey('eoorder_workspace.id', ondelete='CASCADE'),
           primary_key=True),
    Column('user', String(255), primary_key=True),
)

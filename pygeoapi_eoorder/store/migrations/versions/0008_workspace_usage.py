"""Stored usage of a workspace: `eoorder_workspace.used_bytes` (files and registered
records), updated with each upload, deletion, stage-out and registration in the same
statement as the quota check. NULL until first counted from the storage. Idempotent like 0002.

Revision ID: 0008
Revises: 0007
"""
import sqlalchemy as sa

from pygeoapi_eoorder.store.migrations.columns import add_column, drop_column

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column('eoorder_workspace', sa.Column('used_bytes', sa.BigInteger(), nullable=True))


def downgrade() -> None:
    drop_column('eoorder_workspace', 'used_bytes')

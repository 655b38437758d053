"""Workspaces (issue 18): `eoorder_workspace` (owner, storage quota, personal workspace's
user) and `eoorder_workspace_member`. Skipped where the tables exist already.

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def _has(table: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(table)


def upgrade() -> None:
    if not _has('eoorder_workspace'):
        op.create_table(
            'eoorder_workspace',
            sa.Column('id', sa.String(64), primary_key=True),
            sa.Column('title', sa.Text()),
            sa.Column('owner', sa.String(255), nullable=False),
            sa.Column('quota_bytes', sa.BigInteger(), nullable=False),
            sa.Column('personal', sa.String(255), unique=True),
            sa.Column('created', sa.DateTime(), nullable=False))
    if not _has('eoorder_workspace_member'):
        op.create_table(
            'eoorder_workspace_member',
            sa.Column('workspace', sa.String(64),
                      sa.ForeignKey('eoorder_workspace.id', ondelete='CASCADE'),
                      primary_key=True),
            sa.Column('user', sa.String(255), primary_key=True, index=True))


def downgrade() -> None:
    for table in ('eoorder_workspace_member', 'eoorder_workspace'):
        if _has(table):
            op.drop_table(table)

"""Index of jobs by owner and start time: the fair scheduler asks, at every claim, when each
waiting user's last job started. Idempotent like 0002 (a database the baseline created from
today's models has the index already).

Revision ID: 0009
Revises: 0008
"""
import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

NAME = 'ix_eoorder_job_owner_started'


def _exists() -> bool:
    inspector = sa.inspect(op.get_bind())
    return any(index['name'] == NAME for index in inspector.get_indexes('eoorder_job'))


def upgrade() -> None:
    if not _exists():
        op.create_index(NAME, 'eoorder_job', ['owner', 'started'])


def downgrade() -> None:
    if _exists():
        op.drop_index(NAME, table_name='eoorder_job')

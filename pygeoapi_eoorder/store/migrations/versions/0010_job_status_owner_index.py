"""Index of jobs by status, owner, creation and id: the fair scheduler's one statement per
claim seeks each waiting user's oldest queued job and running count, and a queued-jobs
quota counts the user's queued jobs, without reading other users' jobs. Idempotent like
0009 (a database the baseline created from today's models has the index already).

Revision ID: 0010
Revises: 0009
"""
import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None

NAME = 'ix_eoorder_job_status_owner_created'


def _exists() -> bool:
    inspector = sa.inspect(op.get_bind())
    return any(index['name'] == NAME for index in inspector.get_indexes('eoorder_job'))


def upgrade() -> None:
    if not _exists():
        op.create_index(NAME, 'eoorder_job', ['status', 'owner', 'created', 'id'])


def downgrade() -> None:
    if _exists():
        op.drop_index(NAME, table_name='eoorder_job')

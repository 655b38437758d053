"""Job lease (heartbeat), publication time, and result files kept in the store.

`eoorder_job.heartbeat`: renewed by the Celery task that runs the job; a stale one means
the worker is gone. `eoorder_job.queued`: when the job was published to the broker.
`eoorder_job_file`: result files and logs for `jobs.result_store: database`.

Written to be idempotent: a database the baseline created from today's models already
has these columns and the table.

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def _columns(table: str) -> set[str]:
    return {c['name'] for c in sa.inspect(op.get_bind()).get_columns(table)}


def upgrade() -> None:
    existing = _columns('eoorder_job')
    for name in ('heartbeat', 'queued'):
        if name not in existing:
            op.add_column('eoorder_job', sa.Column(name, sa.DateTime(), nullable=True))
    if not sa.inspect(op.get_bind()).has_table('eoorder_job_file'):
        op.create_table(
            'eoorder_job_file',
            sa.Column('job_id', sa.String(36), primary_key=True),
            sa.Column('path', sa.String(1024), primary_key=True),
            sa.Column('size', sa.Integer(), nullable=False, server_default='0'),
            sa.Column('data', sa.LargeBinary(), nullable=False),
            sa.Column('updated', sa.DateTime(), nullable=False))


def downgrade() -> None:
    op.drop_table('eoorder_job_file')
    with op.batch_alter_table('eoorder_job') as batch:
        batch.drop_column('queued')
        batch.drop_column('heartbeat')

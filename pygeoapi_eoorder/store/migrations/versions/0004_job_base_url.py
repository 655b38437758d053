"""The base URL of the request that created a job.

`eoorder_job.base_url`: with `server.url` unset, links follow each request; a job runs in
a worker outside any request, so the links it writes (result hrefs, callbacks) start with
the base URL of the request that submitted it (NULL: the configured or bind address).

Idempotent like 0002: a database the baseline created from today's models has it.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def _has_column(table: str, name: str) -> bool:
    inspector = sa.inspect(op.get_bind())
    return inspector.has_table(table) and name in {c['name'] for c in
                                                   inspector.get_columns(table)}


def upgrade() -> None:
    if not _has_column('eoorder_job', 'base_url'):
        op.add_column('eoorder_job', sa.Column('base_url', sa.String(2048), nullable=True))


def downgrade() -> None:
    if _has_column('eoorder_job', 'base_url'):
        with op.batch_alter_table('eoorder_job') as batch:
            batch.drop_column('base_url')

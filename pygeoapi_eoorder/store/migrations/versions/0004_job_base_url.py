"""The base URL of the request that created a job.

`eoorder_job.base_url`: with `server.url` unset, links follow each request; a job runs in
a worker outside any request, so the links it writes (result hrefs, callbacks) start with
the base URL of the request that submitted it (NULL: the configured or bind address).

Idempotent like 0002: a database the baseline created from today's models has it.

Revision ID: 0004
Revises: 0003
"""
import sqlalchemy as sa

from pygeoapi_eoorder.store.migrations.columns import add_column, drop_column

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column('eoorder_job', sa.Column('base_url', sa.String(2048), nullable=True))


def downgrade() -> None:
    drop_column('eoorder_job', 'base_url')

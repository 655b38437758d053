"""What a job's client says about it: `eoorder_job.details` (title, description; the
openEO API's plan and budget), kept beside the job rather than among its inputs. NULL for
jobs from before. Idempotent like 0002.

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa

from pygeoapi_eoorder.store.migrations.columns import add_column, drop_column

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column('eoorder_job', sa.Column('details', sa.JSON(), nullable=True))


def downgrade() -> None:
    drop_column('eoorder_job', 'details')

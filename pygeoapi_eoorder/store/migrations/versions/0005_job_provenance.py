"""What a job ran: `eoorder_job.provenance` (OGC API - Processes Part 4 `/jobs/{id}/prov`).

The worker records the process package's digest and the Docker image id and digests it
ran; NULL for jobs from before. Idempotent like 0002.

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa

from pygeoapi_eoorder.store.migrations.columns import add_column, drop_column

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_column('eoorder_job', sa.Column('provenance', sa.JSON(), nullable=True))


def downgrade() -> None:
    drop_column('eoorder_job', 'provenance')

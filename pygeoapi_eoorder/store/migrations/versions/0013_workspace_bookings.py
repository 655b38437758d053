"""Open bookings of workspace storage (issue 18): `eoorder_workspace_booking`, one row per
write under way (a job's stage-out, a user's upload) with the bytes it booked in
`eoorder_workspace.used_bytes`, inserted in the booking's transaction and deleted when the
write is settled; what a crash left open is given back by the sweeps. Skipped where the
table exists already.

Revision ID: 0013
Revises: 0012
"""
import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None

TABLE = 'eoorder_workspace_booking'


def upgrade() -> None:
    if sa.inspect(op.get_bind()).has_table(TABLE):
        return
    op.create_table(
        TABLE,
        sa.Column('id', sa.String(64), primary_key=True),
        sa.Column('workspace', sa.String(64), nullable=False, index=True),
        sa.Column('purpose', sa.String(16), nullable=False),
        sa.Column('subject', sa.Text(), nullable=False),
        sa.Column('bytes', sa.BigInteger(), nullable=False),
        sa.Column('replaced', sa.BigInteger(), nullable=False),
        sa.Column('created', sa.DateTime(), nullable=False))


def downgrade() -> None:
    if sa.inspect(op.get_bind()).has_table(TABLE):
        op.drop_table(TABLE)

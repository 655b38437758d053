"""Who a job acts for, and who owns a catalogue record.

`eoorder_job.owner_roles`: the owner's roles when the job was submitted; the job's
permission checks in a worker use them (a job without them may do nothing restricted).
`eoorder_record.owner` / `visibility`: records registered from a job's STAC output
belong to the job's owner; `private` ones are served only to their owner and admins
(NULL: a public record, like every record made before this revision).

Idempotent like 0002: a database the baseline created from today's models has them.

Revision ID: 0003
Revises: 0002
"""
import warnings

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

NEW_COLUMNS = {
    'eoorder_job': [('owner_roles', sa.JSON)],
    'eoorder_record': [('owner', lambda: sa.String(255)), ('visibility', lambda: sa.String(16))],
}


def _columns(table: str) -> set[str] | None:
    inspector = sa.inspect(op.get_bind())
    if not inspector.has_table(table):
        return None  # a component not installed here: its table comes with its models
    with warnings.catch_warnings():  # PostGIS's `geom` column is a type SQLAlchemy lacks
        warnings.simplefilter('ignore', sa.exc.SAWarning)
        return {c['name'] for c in inspector.get_columns(table)}


def upgrade() -> None:
    for table, columns in NEW_COLUMNS.items():
        existing = _columns(table)
        if existing is None:
            continue
        for name, kind in columns:
            if name not in existing:
                op.add_column(table, sa.Column(name, kind(), nullable=True))


def downgrade() -> None:
    for table, columns in NEW_COLUMNS.items():
        if _columns(table) is None:
            continue
        with op.batch_alter_table(table) as batch:
            for name, _ in columns:
                batch.drop_column(name)

"""Baseline: every table the models declare and the database lacks.

Databases created before migrations existed (by `metadata.create_all`) already have the
tables: this revision leaves them as they are, and later revisions bring their columns up
to date. Every table of the store (`store.models`, `store.order_tables`,
`store.record_tables`) subclasses `store.models.Base`; their tables are created here (and,
for tables added after a database reached head, by `store.migrate.upgrade`'s final
`create_all`). A column change to an existing table needs its own revision, like 0002.

Revision ID: 0001
Revises:
"""
from alembic import op

from pygeoapi_eoorder.store.models import Base

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    Base.metadata.create_all(op.get_bind(), checkfirst=True)


def downgrade() -> None:
    raise NotImplementedError('the baseline cannot be downgraded (it would drop every table)')

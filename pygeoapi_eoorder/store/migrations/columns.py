"""Idempotent column steps for migrations: a database that the baseline created from
today's models already has the newer columns, so each step checks first."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def has_column(table: str, name: str) -> bool:
    inspector = sa.inspect(op.get_bind())
    return inspector.has_table(table) and name in {c['name'] for c in
                                                   inspector.get_columns(table)}


def add_column(table: str, column: sa.Column) -> None:
    """Add `column` unless the table has it already."""
    if not has_column(table, column.name):
        op.add_column(table, column)


def drop_column(table: str, name: str) -> None:
    """Drop column `name` if the table has it (batch mode: SQLite too)."""
    if has_column(table, name):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(name)

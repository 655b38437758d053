"""SQLite: the records' R*Tree gets the acquisition time as a third dimension (x, y, time),
so that a bbox + datetime search (and its `numberMatched` count) starts from the records
matching both instead of every record in the box. The index is built again from the
stored records. Idempotent: a table that has the time dimension (made by the baseline
from today's models) is left alone. PostgreSQL is not concerned (PostGIS indexes
footprint and time together already).

Revision ID: 0012
Revises: 0011
"""
import sqlalchemy as sa
from alembic import op

from pygeoapi_eoorder.store.record_tables import RTREE, SQLITE_RTREE, SQLITE_RTREE_FILL

revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

TRIGGERS = ('eoorder_record_rtree_ins', 'eoorder_record_rtree_upd', 'eoorder_record_rtree_del')
FLAT_RTREE = [  # the R*Tree before this revision: footprint envelope only
    f'CREATE VIRTUAL TABLE {RTREE} USING rtree(id, minx, maxx, miny, maxy)',
    f'''CREATE TRIGGER eoorder_record_rtree_ins AFTER INSERT ON eoorder_record
        WHEN NEW.minx IS NOT NULL BEGIN
        INSERT INTO {RTREE} VALUES (NEW.pk, NEW.minx, NEW.maxx, NEW.miny, NEW.maxy); END''',
    f'''CREATE TRIGGER eoorder_record_rtree_upd AFTER UPDATE ON eoorder_record
        BEGIN DELETE FROM {RTREE} WHERE id = OLD.pk;
        INSERT INTO {RTREE} SELECT NEW.pk, NEW.minx, NEW.maxx, NEW.miny, NEW.maxy
        WHERE NEW.minx IS NOT NULL; END''',
    f'''CREATE TRIGGER eoorder_record_rtree_del AFTER DELETE ON eoorder_record
        BEGIN DELETE FROM {RTREE} WHERE id = OLD.pk; END''',
    f'INSERT INTO {RTREE} SELECT pk, minx, maxx, miny, maxy FROM eoorder_record '
    'WHERE minx IS NOT NULL',
]


def _has_time() -> bool:
    definition = op.get_bind().execute(sa.text(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = :name"),
        {'name': RTREE}).scalar()
    return definition is not None and 'maxt' in definition


def _rebuild(statements: list[str]) -> None:
    bind = op.get_bind()
    for trigger in TRIGGERS:
        bind.execute(sa.text(f'DROP TRIGGER IF EXISTS {trigger}'))
    bind.execute(sa.text(f'DROP TABLE IF EXISTS {RTREE}'))
    for statement in statements:
        bind.execute(sa.text(statement))


def upgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite' and not _has_time():
        _rebuild([*SQLITE_RTREE, SQLITE_RTREE_FILL])


def downgrade() -> None:
    if op.get_bind().dialect.name == 'sqlite' and _has_time():
        _rebuild(FLAT_RTREE)

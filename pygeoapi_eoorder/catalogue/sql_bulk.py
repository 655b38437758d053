"""Inserting many record rows in one statement: COPY on PostgreSQL (psycopg 3), one
prepared INSERT run for every row (executemany) on SQLite.

Each value is converted by the column type's own SQLAlchemy bind processor (SQLite) or
stored as SQLAlchemy stores it (PostgreSQL: the document as `json.dumps` text), so the
stored rows are those an ORM insert stores; the database's triggers still maintain what
they maintain (the SQLite R*Tree, the PostGIS geometry).
"""

from __future__ import annotations

import operator

from sqlalchemy import insert
from sqlalchemy.engine import Connection

from ..store.hot import on_cursor
from ..store.record_tables import Record
from .sql_rows import document_text

COLUMNS = [c.name for c in Record.__table__.columns if c.name != 'pk']
_INSERT = (f'INSERT INTO {Record.__tablename__} ({", ".join(COLUMNS)}) '
           f'VALUES ({", ".join("?" for _ in COLUMNS)})')
_DOCUMENT = COLUMNS.index('document')
_GET = operator.itemgetter(*COLUMNS)
_COPY = f'COPY {Record.__tablename__} ({", ".join(COLUMNS)}) FROM STDIN'


def _psycopg(connection) -> bool:
    return type(connection).__module__.split('.')[0] == 'psycopg'


def _copy(driver_connection, rows: list[dict]) -> None:
    with driver_connection.cursor() as cursor, cursor.copy(_COPY) as copy:
        for row in rows:
            values = list(_values(row))
            values[_DOCUMENT] = document_text(row)
            copy.write_row(values)


def _values(row: dict) -> tuple:
    try:
        return _GET(row)
    except KeyError:  # a row without some (nullable) column
        return tuple(row.get(name) for name in COLUMNS)


_PROCESSORS: dict[str, list] = {}  # dialect name -> the columns' bind processors


def _processors(dialect) -> list:
    found = _PROCESSORS.get(dialect.name)
    if found is None:
        found = [Record.__table__.c[name].type.dialect_impl(dialect).bind_processor(dialect)
                 for name in COLUMNS]
        found[_DOCUMENT] = None  # the text below: what the JSON type's processor gives
        _PROCESSORS[dialect.name] = found
    return found


def _executemany(connection, rows: list[dict]) -> None:
    processors = _processors(connection.dialect)
    batch = []
    for row in rows:
        values = list(_values(row))
        values[_DOCUMENT] = document_text(row)
        batch.append(tuple(value if process is None or value is None else process(value)
                           for process, value in zip(processors, values)))
    on_cursor(connection, _INSERT, batch, many=True)  # (`exec_driver_sql`: 0.05-0.1 ms more)


def insert_rows(connection: Connection, rows: list[dict]) -> None:
    """Insert `rows` (dicts of `Record` columns, without `pk`) in the connection's
    transaction."""
    if not rows:
        return
    dialect = connection.dialect.name
    if dialect == 'postgresql' and _psycopg(connection.connection.driver_connection):
        _copy(connection.connection.driver_connection, rows)
    elif dialect == 'sqlite':
        _executemany(connection, rows)
    else:
        connection.execute(insert(Record), rows)

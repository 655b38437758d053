"""The statements every job passes through, run on the driver's cursor where that pays.

A job is read at every status poll, inserted, moved and claimed: a few statements per
job, each compiled once by SQLAlchemy, which still builds an execution context and a
result object at every execution (on SQLite ≈ 0.15 ms of a job read's 0.24; its
`exec_driver_sql` costs the same). A `HotStatement` is compiled once per dialect and,
on SQLite, executed on the cursor of the connection SQLAlchemy holds (its pool,
transaction and `begin` event as for any statement), the parameters and result columns
converted by the type processors SQLAlchemy itself applies, its cursor events fired,
driver errors raised as SQLAlchemy's. Other dialects run the statement through
SQLAlchemy as usual.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import exc
from sqlalchemy.engine import Connection


class HotStatement:
    """A Core statement without expanding parameters (no `IN` of a list: spell it with
    `or_`), its result rows as dicts of its selected or returned columns."""

    def __init__(self, statement):
        self.statement = statement
        self._compiled: dict[str, tuple] = {}  # dialect name -> what running it needs

    def _for(self, dialect) -> tuple:
        found = self._compiled.get(dialect.name)
        if found is None:
            compiled = self.statement.compile(dialect=dialect)
            sql = str(compiled)
            if 'POSTCOMPILE' in sql or compiled.positiontup is None:
                raise ValueError(f'not a statement to run on the cursor: {sql}')
            names = list(compiled.positiontup)
            binds = [compiled.binds[name] for name in names]
            found = (sql, names,
                     {name: bind.value for name, bind in zip(names, binds) if not bind.required},
                     [bind.type.dialect_impl(dialect).bind_processor(dialect) for bind in binds],
                     [(column.key, column.type.dialect_impl(dialect).result_processor(
                         dialect, None)) for column in self.statement.exported_columns])
            self._compiled[dialect.name] = found
        return found

    def execute(self, connection: Connection, params: dict[str, Any]
                ) -> tuple[list[dict], int]:
        """The rows (as dicts) and the row count of the statement run with `params`."""
        if connection.dialect.name != 'sqlite':
            result = connection.execute(self.statement, params)
            rows = [dict(row) for row in result.mappings()] if result.returns_rows else []
            return rows, result.rowcount
        sql, keys, fixed, converters, columns = self._for(connection.dialect)
        values = tuple(convert(value) if convert else value for convert, value in zip(
            converters, (params[key] if key in params else fixed[key] for key in keys)))
        raw, count = on_cursor(connection, sql, values)
        rows = [{key: convert(value) if convert else value
                 for (key, convert), value in zip(columns, row)} for row in raw]
        return rows, count


def on_cursor(connection: Connection, sql: str, values: tuple | list = (),
              many: bool = False) -> tuple[list, int]:
    """Run SQL on the cursor of the connection SQLAlchemy holds, its cursor events fired
    (e.g. tracing sees it as any other statement) and driver errors raised as
    SQLAlchemy's; the raw rows and the row count. `many`: `values` is a list of
    parameter tuples, the statement run for each (executemany)."""
    cursor = connection.connection.cursor()
    events = connection.dispatch  # (the listeners of the engine and the connection)
    try:
        if events.before_cursor_execute:
            events.before_cursor_execute(connection, cursor, sql, values, None, many)
        if many:
            cursor.executemany(sql, values)
        else:
            cursor.execute(sql, values)
        raw = cursor.fetchall() if cursor.description else []
        count = cursor.rowcount
        if events.after_cursor_execute:
            events.after_cursor_execute(connection, cursor, sql, values, None, many)
    except connection.dialect.loaded_dbapi.Error as err:
        raise exc.DBAPIError.instance(sql, values, err,
                                      connection.dialect.loaded_dbapi.Error) from err
    finally:
        cursor.close()
    return raw, count

"""Schema creation and upgrades of the shared store with Alembic.

Every process that opens the store calls :func:`upgrade`: a database at the newest
revision costs one query; an older one (including one made before migrations existed, by
`metadata.create_all`) is upgraded in place, never dropped. Concurrent first starts (a
server and several workers) are serialised: PostgreSQL by an advisory lock held by the
upgrading transaction, SQLite by its write lock (`BEGIN IMMEDIATE`).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

from . import order_tables  # noqa: F401 - the store's schema: every table joins Base.metadata
from . import record_tables
from .models import Base

MIGRATIONS = Path(__file__).resolve().parent / 'migrations'
ADVISORY_LOCK = 0x656f6f72  # 'eoor'


def _config(connection: Connection | None = None):
    from alembic.config import Config
    config = Config()
    config.set_main_option('script_location', str(MIGRATIONS))
    config.attributes['connection'] = connection
    return config


@lru_cache(maxsize=1)
def head() -> str:
    from alembic.script import ScriptDirectory
    return ScriptDirectory.from_config(_config()).get_current_head()


def current(connection: Connection) -> str | None:
    from alembic.runtime.migration import MigrationContext
    return MigrationContext.configure(connection).get_current_revision()


def pending(before: str | None) -> list[str]:
    """Revisions between `before` and head, oldest first."""
    from alembic.script import ScriptDirectory
    script = ScriptDirectory.from_config(_config())
    steps = [rev.revision for rev in script.iterate_revisions('head', before)]
    return list(reversed(steps))


def upgrade(engine: Engine, *, force: bool = False, on_step=None) -> tuple[str | None, str]:
    """Bring the database to the newest revision; return (revision before, revision now).

    Also creates tables added after the database reached head (their column changes need
    a revision of their own) and the record table's newer spatial index
    (`record_tables.add_geom_time_index`). `on_step(revision)` is called after each
    revision is applied (progress for the CLI).
    """
    target = head()
    if not force:
        with engine.connect() as connection:
            before = current(connection)
        if before == target:
            with engine.begin() as connection:
                _complete(connection)
            return before, target
    from alembic import command
    with engine.begin() as connection:
        if connection.dialect.name == 'postgresql':
            connection.execute(text('SELECT pg_advisory_xact_lock(:key)'), {'key': ADVISORY_LOCK})
        before = current(connection)
        for revision in pending(before) if before != target else []:
            command.upgrade(_config(connection), revision)
            if on_step is not None:
                on_step(revision)
        _complete(connection)
    return before, target


def _complete(connection: Connection) -> None:
    """Tables and indexes that need no revision: created if missing (IF NOT EXISTS)."""
    Base.metadata.create_all(connection, checkfirst=True)
    record_tables.add_geom_time_index(connection)

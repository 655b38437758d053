"""The job table's hot statements (`store.hot.HotStatement`) against SQLAlchemy's own
execution of the same statements: on SQLite (run on the driver's cursor) every stored
value and every row read back equals SQLAlchemy's, to the stored bytes; on PostgreSQL
(run by SQLAlchemy) the same repository calls give the same jobs. Cursor events fire,
driver errors arrive as SQLAlchemy's, a statement it cannot run on the cursor is refused."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import event, exc, insert, select, update

from pygeoapi_eoorder.jobs.repository import COLUMNS, JobRepository, _TABLE
from pygeoapi_eoorder.store import Store, utcnow
from pygeoapi_eoorder.store.hot import HotStatement
from tests.support.cluster import Database

FACTS = {'package': {'digest': 'sha256:ab'}, 'image': None}


def _rows(path, job_id: str) -> tuple:
    """The stored row as SQLite keeps it: each value with its storage class."""
    with sqlite3.connect(path) as raw:
        names = [c.key for c in COLUMNS]
        return raw.execute(f'SELECT {", ".join(f"typeof({n}), {n}" for n in names)} '
                           'FROM eoorder_job WHERE id = ?', (job_id,)).fetchone()


def _job_fields(**more):
    return dict(inputs={'a': [1, 2.5, None, 'é'], 'b': {'c': True}}, owner='alice',
                status='created', message='created',
                owner_roles=['r1', 'r2'], subscriber=None, details={'title': 't'},
                requested_outputs=None, **more)


def test_sqlite_hot_statements_store_and_read_what_sqlalchemy_does(tmp_path):
    path = tmp_path / 'store.db'
    repo = JobRepository(Store(f'sqlite:///{path}'))
    ours = repo.add('p', **_job_fields())  # the hot insert
    theirs = repo.new_row('p', **_job_fields())
    theirs['created'] = theirs['updated'] = ours['created']
    with repo.store.write_engine.begin() as connection:  # SQLAlchemy's insert
        connection.execute(insert(_TABLE), theirs)
    assert _rows(path, ours['id'])[2:] == _rows(path, theirs['id'])[2:]  # (past the id)
    with repo.store.read_engine.connect() as connection:
        by_sqlalchemy = dict(connection.execute(select(*COLUMNS).where(
            _TABLE.c.id == ours['id'])).mappings().one())
    assert repo.get(ours['id']) == by_sqlalchemy == ours  # read back as written
    assert repo.get('no-such-job') is None
    # a move (hot) and the same values set by SQLAlchemy
    assert repo.transition(ours['id'], 'accepted', message='queued', error=None)
    moved = repo.get(ours['id'])
    with repo.store.write_engine.begin() as connection:
        connection.execute(update(_TABLE).where(_TABLE.c.id == theirs['id']).values(
            status='accepted', message='queued', error=None, updated=moved['updated']))
    assert _rows(path, ours['id'])[2:] == _rows(path, theirs['id'])[2:]
    assert not repo.transition(ours['id'], 'successful')  # (not a move the table allows)
    # a claim returns the job as it now is, once
    claimed = repo.claim_id(ours['id'], 'host:1', FACTS, first=True)
    assert claimed == repo.get(ours['id'])
    assert claimed['status'] == 'running' and claimed['attempts'] == 1
    assert claimed['provenance'] == FACTS and claimed['worker'] == 'host:1'
    assert repo.claim_id(ours['id'], 'host:2', FACTS, first=True) is None


def test_cursor_events_fire_and_driver_errors_are_sqlalchemys(tmp_path):
    repo = JobRepository(Store(f'sqlite:///{tmp_path / "store.db"}'))
    seen = []

    def note(_connection, _cursor, statement, parameters, _context, _many):
        seen.append((statement.split()[0], parameters))
    event.listen(repo.store.write_engine, 'before_cursor_execute', note)
    job = repo.add('p', job_id='fixed-id', **_job_fields())
    assert ('INSERT', ) == seen[-1][:1] and 'fixed-id' in seen[-1][1]
    with pytest.raises(exc.IntegrityError):  # the same id again: what callers catch
        repo.add('p', job_id='fixed-id', **_job_fields())
    assert repo.get(job['id'])['inputs'] == job['inputs']


def test_a_write_transaction_takes_the_write_lock_at_its_begin_as_tracing_sees(tmp_path):
    """SQLite transactions begin on the driver's cursor: a writer's `BEGIN IMMEDIATE`
    holds the lock before any statement (another writer waits, here refused at once),
    a reader's `BEGIN` does not; both are seen by cursor listeners."""
    path = tmp_path / 'store.db'
    store = Store(f'sqlite:///{path}')
    seen = []

    def note(_connection, _cursor, statement, *_):
        seen.append(statement)
    for engine in (store.write_engine, store.read_engine):
        event.listen(engine, 'before_cursor_execute', note)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    with store.write_engine.begin():
        assert seen == ['BEGIN IMMEDIATE']
        with pytest.raises(sqlite3.OperationalError, match='locked'):
            other.execute('BEGIN IMMEDIATE')
    other.execute('BEGIN IMMEDIATE')
    other.execute('ROLLBACK')
    with store.read_engine.begin():
        assert seen[-1] == 'BEGIN'
        other.execute('BEGIN IMMEDIATE')  # (a reader leaves writers be)
        other.execute('ROLLBACK')


def test_a_statement_with_an_expanding_parameter_is_refused_on_the_cursor(tmp_path):
    store = Store(f'sqlite:///{tmp_path / "store.db"}')
    statement = HotStatement(select(_TABLE.c.id).where(_TABLE.c.status.in_(['a', 'b'])))
    with store.read_engine.connect() as connection, pytest.raises(ValueError):
        statement.execute(connection, {})


def test_on_postgresql_the_same_calls_give_the_same_jobs():
    database = Database('eoorder_hot').create()
    try:
        repo = JobRepository(Store(database.url))
        job = repo.add('p', **_job_fields())
        assert repo.get(job['id']) == job
        assert repo.transition(job['id'], 'accepted', message='queued')
        claimed = repo.claim_id(job['id'], 'host:1', FACTS, first=True)
        assert claimed == repo.get(job['id']) and claimed['status'] == 'running'
        assert claimed['inputs'] == job['inputs'] and claimed['provenance'] == FACTS
        assert claimed['started'] >= job['created'] and claimed['started'] <= utcnow()
        assert repo.claim_id(job['id'], 'host:2', FACTS, first=True) is None
        repo.store.dispose()
    finally:
        database.drop()

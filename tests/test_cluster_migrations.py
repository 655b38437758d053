"""Schema upgrades with Alembic: a database made before migrations existed is upgraded in
place (rows kept), on PostgreSQL and SQLite; `eoorder db upgrade` and `eoorder worker`
answer in one line."""

from __future__ import annotations

import sqlite3
import subprocess

import pytest
import yaml

from tests.conftest import make_config, eoorder_cmd, server_env
from tests.support.cluster import Database

OLD_JOB_TABLE = """create table eoorder_job (
    id varchar(36) primary key, type varchar(32), process_id varchar(255) not null,
    status varchar(16) not null, message text, progress integer, created timestamp,
    started timestamp, finished timestamp, updated timestamp, duration float, inputs text,
    requested_outputs text, response varchar(16), subscriber text, mimetype varchar(255),
    result_file varchar(255), error text, idempotent boolean, attempts integer,
    worker varchar(64), owner varchar(255), files_removed boolean)"""
OLD_ROW = ("insert into eoorder_job (id, process_id, status, created, updated, attempts, "
           "idempotent, files_removed) values ('old-job', 'p', 'successful', "
           "'2025-01-01 00:00:00', '2025-01-01 00:00:00', 1, false, false)")


def upgrade(config) -> subprocess.CompletedProcess:
    return subprocess.run(eoorder_cmd('db', 'upgrade', '--config', str(config)),
                          capture_output=True, text=True, env=server_env(), timeout=120)


@pytest.fixture
def pg_database():
    database = Database('eoorder_migrate').create()
    yield database
    database.drop()


def test_postgresql_database_from_before_migrations_is_upgraded(tmp_path, pg_database):
    pg_database.query(OLD_JOB_TABLE)
    pg_database.query(OLD_ROW)
    config = make_config(tmp_path, 5000, {'store': {'url': pg_database.url}})
    first = upgrade(config)
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip().endswith('upgraded from no revision to 0013')
    columns = {c for (c,) in pg_database.query(
        "select column_name from information_schema.columns where table_name = 'eoorder_job'")}
    assert {'heartbeat', 'queued', 'owner_roles', 'base_url', 'provenance'} <= columns
    assert pg_database.query('select status from eoorder_job where id = %s', 'old-job') == [
        ('successful',)]
    tables = {t for (t,) in pg_database.query(
        "select tablename from pg_tables where schemaname = 'public'")}
    # our tables and those of the other components (ordering, catalogue)
    assert {'eoorder_job_file', 'eoorder_process', 'alembic_version'} <= tables
    assert {'eoorder_order', 'eoorder_order_item', 'eoorder_record'} <= tables
    assert {'eoorder_workspace', 'eoorder_workspace_booking'} <= tables
    again = upgrade(config)
    assert again.returncode == 0 and 'already at revision 0013' in again.stdout


def test_sqlite_database_from_before_migrations_is_upgraded(tmp_path):
    db_path = tmp_path / 'data' / 'eoorder.db'
    db_path.parent.mkdir()
    with sqlite3.connect(db_path) as db:
        db.execute(OLD_JOB_TABLE)
        db.execute(OLD_ROW.replace('false', '0'))
    config = make_config(tmp_path, 5000)
    result = upgrade(config)
    assert result.returncode == 0, result.stderr
    with sqlite3.connect(db_path) as db:
        columns = {r[1] for r in db.execute('pragma table_info(eoorder_job)')}
        assert {'heartbeat', 'queued', 'owner_roles', 'base_url', 'provenance'} <= columns
        assert db.execute("select status from eoorder_job").fetchall() == [('successful',)]
        booking = {r[1] for r in db.execute('pragma table_info(eoorder_workspace_booking)')}
        assert booking == {'id', 'workspace', 'purpose', 'subject', 'bytes', 'replaced',
                           'created'}
        assert db.execute('select version_num from alembic_version').fetchall() == [('0013',)]


def test_unreachable_store_is_one_line(tmp_path):
    config = make_config(tmp_path, 5000, {'store': {
        'url': 'postgresql+psycopg://postgres@127.0.0.1:5432/no_such_database_here'}})
    result = upgrade(config)
    assert result.returncode == 1
    assert result.stderr.count('\n') == 1 and 'Traceback' not in result.stderr
    assert 'no_such_database_here' in result.stderr and 'fix:' in result.stderr


def test_worker_refuses_the_local_engine_in_one_line(tmp_path):
    config = make_config(tmp_path, 5000)
    result = subprocess.run(eoorder_cmd('worker', '--config', str(config)), capture_output=True,
                            text=True, env=server_env(), timeout=60)
    assert result.returncode == 2
    assert result.stderr.count('\n') == 1 and 'engine: celery' in result.stderr


def test_cluster_config_is_valid_and_broker_env_overrides(monkeypatch):
    from pygeoapi_eoorder import config as eoconfig
    from tests.conftest import REPO
    monkeypatch.setenv('EOORDER_BROKER_URL', 'amqp://guest:guest@127.0.0.1:5672//')
    _, settings = eoconfig.load(REPO / 'config' / 'cluster.yml', strict=True)
    assert settings.jobs.engine == 'celery' and settings.jobs.result_store == 'database'
    assert settings.jobs.broker_url == 'amqp://guest:guest@127.0.0.1:5672//'
    assert settings.store_url.startswith('postgresql+psycopg://')
    bad = yaml.safe_load((REPO / 'config' / 'cluster.yml').read_text())
    bad['eoorder']['jobs']['broker_url'] = 'http://nope'
    with pytest.raises(eoconfig.ConfigError, match=r'eoorder\.jobs\.broker_url'):
        eoconfig.validate_block(bad['eoorder'])

"""Planner statistics are refreshed after an ingest when the record table doubled since
they were taken, by the store's own figure: every process agrees, whichever analysed."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import psycopg
import pytest
from sqlalchemy import text

from pygeoapi_eoorder.catalogue.repository import (
    MIN_GROWTH, RecordRepository, refresh_statistics, refresh_statistics_if_grown)
from pygeoapi_eoorder.store import get_store
from tests.conftest import REPO
from tests.support.catalogue import eo_record
from tests.support.cluster import Database

ANOTHER_PROCESS = ('import sys\n'
                   'from pygeoapi_eoorder.catalogue.repository import '
                   'refresh_statistics_if_grown\n'
                   'print(refresh_statistics_if_grown(sys.argv[1]))\n')


@pytest.fixture(params=['sqlite', 'postgresql'])
def store(request, tmp_path):
    """A fresh store's URL and a reader of the rows its planner statistics were taken at
    (read apart from the code under test)."""
    if request.param == 'sqlite':
        path = tmp_path / 'store.db'

        def analysed() -> int:
            with sqlite3.connect(path) as connection:
                stats = connection.execute(
                    "SELECT stat FROM sqlite_stat1 WHERE tbl = 'eoorder_record'").fetchall()
            return max(int(stat.split()[0]) for (stat,) in stats)
        yield f'sqlite:///{path}', analysed
        return
    database = Database('eoorder_stats').create()

    def analysed() -> int:
        with psycopg.connect(database.dsn) as connection:
            return int(connection.execute("SELECT reltuples FROM pg_class "
                                          "WHERE relname = 'eoorder_record'").fetchone()[0])
    yield database.url, analysed
    database.drop()


def in_another_process(url: str) -> bool:
    """`refresh_statistics_if_grown` as a process started afresh answers it."""
    done = subprocess.run([sys.executable, '-c', ANOTHER_PROCESS, url], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return {'True': True, 'False': False}[done.stdout.strip()]


def add(records: RecordRepository, first: int, count: int) -> None:
    records.upsert([eo_record(index) for index in range(first, first + count)])


def test_growth_is_counted_from_the_stores_statistics_in_every_process(store):
    url, analysed = store
    records = RecordRepository(url, 'products')
    records.load([eo_record(index) for index in range(300)])  # a bulk load analyses
    assert analysed() == 300
    assert refresh_statistics_if_grown(url) is False  # this process's first look
    add(records, 300, MIN_GROWTH - 1)  # doubled, but fewer new rows than MIN_GROWTH
    assert in_another_process(url) is False
    assert refresh_statistics_if_grown(url) is False
    assert analysed() == 300
    add(records, 300 + MIN_GROWTH - 1, 1)
    assert in_another_process(url) is True
    assert analysed() == 300 + MIN_GROWTH
    assert refresh_statistics_if_grown(url) is False  # analysed by the other: nothing grew
    rows = 300 + MIN_GROWTH
    add(records, rows, rows - 1)  # one short of doubling
    assert refresh_statistics_if_grown(url) is False
    assert in_another_process(url) is False
    add(records, 2 * rows - 1, 1)
    assert refresh_statistics_if_grown(url) is True
    assert analysed() == 2 * rows
    assert in_another_process(url) is False  # analysed by this one: nothing grew


def test_deleted_records_do_not_have_the_table_analysed_at_every_ingest(store):
    """Keys of deleted records do not come back: the highest key overstates the rows."""
    url, analysed = store
    records = RecordRepository(url, 'products')
    records.load([eo_record(index) for index in range(3 * MIN_GROWTH)])
    with get_store(url).write() as session:
        session.execute(text('DELETE FROM eoorder_record WHERE pk <= :last'),
                        {'last': 2 * MIN_GROWTH})
    refresh_statistics(url, force=True)  # e.g. a bulk load meanwhile
    assert analysed() == MIN_GROWTH
    assert refresh_statistics_if_grown(url) is True  # the gap is taken for growth, once
    add(records, 3 * MIN_GROWTH, 10)
    assert refresh_statistics_if_grown(url) is False
    assert refresh_statistics_if_grown(url) is False
    assert analysed() == MIN_GROWTH

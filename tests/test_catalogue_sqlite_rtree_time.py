"""SQLite: the records' R*Tree indexes the acquisition time as a third dimension, and a bbox
+ datetime search asks it for both. Answers (open-ended intervals on either end, instants,
records without a time, bounds a fraction of a millisecond apart) are checked against
shapely and an interval test computed here; a database made with the flat R*Tree is
upgraded by migration 0012 and answers the same."""

from __future__ import annotations

import random
import sqlite3
import uuid
from datetime import datetime, timedelta

import pytest
from shapely.geometry import box, shape
from sqlalchemy import text

from pygeoapi_eoorder.catalogue import cql
from pygeoapi_eoorder.catalogue.query import build
from pygeoapi_eoorder.catalogue.repository import RecordRepository
from pygeoapi_eoorder.catalogue.sql import to_sql

T0 = datetime(2022, 1, 1)
MS = 1 / 86_400_000  # a millisecond in days
FLAT_RTREE = [  # the schema before migration 0012 (footprint envelope only)
    'CREATE VIRTUAL TABLE eoorder_record_rtree USING rtree(id, minx, maxx, miny, maxy)',
    '''CREATE TRIGGER eoorder_record_rtree_ins AFTER INSERT ON eoorder_record
       WHEN NEW.minx IS NOT NULL BEGIN INSERT INTO eoorder_record_rtree
       VALUES (NEW.pk, NEW.minx, NEW.maxx, NEW.miny, NEW.maxy); END''',
    '''CREATE TRIGGER eoorder_record_rtree_upd AFTER UPDATE ON eoorder_record
       BEGIN DELETE FROM eoorder_record_rtree WHERE id = OLD.pk;
       INSERT INTO eoorder_record_rtree SELECT NEW.pk, NEW.minx, NEW.maxx, NEW.miny, NEW.maxy
       WHERE NEW.minx IS NOT NULL; END''',
    '''CREATE TRIGGER eoorder_record_rtree_del AFTER DELETE ON eoorder_record
       BEGIN DELETE FROM eoorder_record_rtree WHERE id = OLD.pk; END''',
]


def iso(value: datetime | None) -> str:
    return '..' if value is None else value.strftime('%Y-%m-%dT%H:%M:%S.%fZ')


def records(count: int = 300) -> list[dict]:
    """Closed intervals, open on either end, instants, no time, and bounds next to the
    query bounds of `edge_queries` (0.1 ms apart)."""
    rng = random.Random(12)
    found = []
    for index in range(count):
        x, y = rng.uniform(-1, 9), rng.uniform(-1, 9)
        start = T0 + timedelta(hours=rng.randrange(24 * 90))
        end = start + timedelta(hours=rng.choice([0, 1, 200]))
        kind = rng.choice(['closed', 'closed', 'open-end', 'open-start', 'instant', 'none'])
        document = {'id': f'r{index}', 'geometry': {'type': 'Polygon', 'coordinates': [[
            [x, y], [x + 1, y], [x + 1, y + 1], [x, y + 1], [x, y]]]},
            'properties': {'platform': rng.choice(['S1A', 'S2A'])}}
        if kind == 'instant':
            document['properties']['datetime'] = iso(start)
        elif kind != 'none':
            document['time'] = {'interval': [None if kind == 'open-start' else iso(start),
                                             None if kind == 'open-end' else iso(end)]}
        found.append(document)
    edge = T0 + timedelta(days=30, microseconds=400)
    for index, (first, last) in enumerate([(edge - timedelta(days=1), edge),
                                           (edge, edge + timedelta(days=1))]):
        found.append({'id': f'edge{index}', 'geometry': {'type': 'Point', 'coordinates': [4, 4]},
                      'time': {'interval': [iso(first), iso(last)]}, 'properties': {}})
    return found


def bounds(document) -> tuple[datetime | None, datetime | None] | None:
    """The record's interval (None: open end), None when it has no time."""
    if 'time' in document:
        first, last = document['time']['interval']
        read = [None if v is None else datetime.fromisoformat(v.rstrip('Z'))
                for v in (first, last)]
        return read[0], read[1]
    if 'datetime' in document['properties']:
        instant = datetime.fromisoformat(document['properties']['datetime'].rstrip('Z'))
        return instant, instant
    return None


def expected(documents, bbox, start, end, platform_or=None, outside=False) -> set[str]:
    """Records whose time meets [start, end] (None: open), and whose footprint meets the
    bbox (or whose platform is `platform_or`; `outside`: does not meet the bbox)."""
    found = set()
    for document in documents:
        interval = bounds(document)
        if interval is None:
            continue
        first, last = interval
        meets_time = ((end is None or first is None or first <= end)
                      and (start is None or last is None or last >= start))
        in_box = box(*bbox).intersects(shape(document['geometry']))
        chosen = platform_or is not None and platform_or == document['properties'].get('platform')
        if meets_time and (in_box != outside or chosen):
            found.add(document['id'])
    return found


def queries(rng: random.Random):
    """(bbox, start, end) with closed, instant and half-open windows."""
    for _ in range(30):
        x, y = rng.uniform(-1, 7), rng.uniform(-1, 7)
        bbox = [x, y, x + rng.choice([1.0, 3.0]), y + rng.choice([1.0, 3.0])]
        start = T0 + timedelta(hours=rng.randrange(24 * 90))
        end = start + timedelta(hours=rng.choice([0, 5, 24 * 10]))
        shape_ = rng.choice(['closed', 'instant', 'open-start', 'open-end'])
        if shape_ == 'instant':
            end = start
        yield (bbox, None if shape_ == 'open-start' else start,
               None if shape_ == 'open-end' else end)
    edge = T0 + timedelta(days=30, microseconds=300)  # 0.1 ms before/after the edge records
    yield [3, 3, 5, 5], edge, edge + timedelta(hours=1)
    yield [3, 3, 5, 5], edge - timedelta(hours=1), edge + timedelta(microseconds=200)


def datetime_parameter(start, end) -> str:
    return iso(start) if start == end else f'{iso(start)}/{iso(end)}'


def check_answers(repository, documents) -> int:
    answered = 0
    for bbox, start, end in queries(random.Random(5)):
        node = build(bbox=bbox, datetime_=datetime_parameter(start, end))
        found, matched = repository.search(node, limit=1000)
        want = expected(documents, bbox, start, end)
        assert {d['id'] for d in found} == want, (bbox, start, end)
        assert repository.search(node, limit=1)[1] == len(want)  # numberMatched: the count
        answered += len(want)
        either = cql.parse(f"S_INTERSECTS(geometry, BBOX({', '.join(map(str, bbox))})) "
                           "OR platform = 'S2A'")  # the spatial test under an OR
        node = build(datetime_=datetime_parameter(start, end), filterq=either)
        found, _ = repository.search(node, limit=1000)
        assert {d['id'] for d in found} == expected(documents, bbox, start, end, 'S2A')
        node = build(datetime_=datetime_parameter(start, end), filterq=cql.parse(
            f"NOT S_INTERSECTS(geometry, BBOX({', '.join(map(str, bbox))}))"))
        found, _ = repository.search(node, limit=1000)
        assert {d['id'] for d in found} == expected(documents, bbox, start, end, outside=True)
    return answered


@pytest.fixture
def repository(tmp_path):
    repo = RecordRepository(f"sqlite:///{tmp_path / 'store.db'}", f'c-{uuid.uuid4().hex[:8]}')
    repo.upsert(records())
    return repo


def test_bbox_datetime_answers_match_an_interval_oracle(repository):
    documents = records()
    assert check_answers(repository, documents) > 100
    found, _ = repository.search(build(bbox=[3.5, 3.5, 4.5, 4.5],
                                       datetime_='2022-01-31T00:00:00.0004Z'))
    assert {d['id'] for d in found} >= {'edge0', 'edge1'}  # both meet that instant
    moved = {**documents[-1], 'time': {'interval': ['2030-01-01T00:00:00Z', None]}}
    repository.upsert([moved])  # the R*Tree follows an updated record
    found, _ = repository.search(build(bbox=[3.5, 3.5, 4.5, 4.5],
                                       datetime_='2031-06-01T00:00:00Z'))
    assert {d['id'] for d in found} == {'edge1'} | expected(
        documents, [3.5, 3.5, 4.5, 4.5], datetime(2031, 6, 1), datetime(2031, 6, 1))
    check_rtree(repository.url.removeprefix('sqlite:///'), documents[:-1] + [moved])


def test_the_rtree_is_asked_for_the_time_window():
    node = build(bbox=[0, 0, 10, 10], datetime_='2022-01-01T00:00:00Z/2022-02-01T00:00:00Z')
    where = str(to_sql(node, 'sqlite', False, 'c').compile(
        compile_kwargs={'literal_binds': True}))
    rtree = where[where.index('eoorder_record_rtree'):]
    assert 'maxt >=' in rtree and 'mint <=' in rtree
    open_end = build(bbox=[0, 0, 10, 10], datetime_='2022-01-01T00:00:00Z/..')
    where = str(to_sql(open_end, 'sqlite', False, 'c').compile(
        compile_kwargs={'literal_binds': True}))
    assert 'maxt >=' in where and 'mint <=' not in where


def rtree_rows(path) -> list[tuple]:
    with sqlite3.connect(path) as db:
        return db.execute('SELECT * FROM eoorder_record_rtree ORDER BY id').fetchall()


def flatten(connection) -> None:
    """The R*Tree and its triggers as revision 0011 made them, filled from the records."""
    for name in ('eoorder_record_rtree_ins', 'eoorder_record_rtree_upd',
                 'eoorder_record_rtree_del'):
        connection.execute(text(f'DROP TRIGGER {name}'))
    connection.execute(text('DROP TABLE eoorder_record_rtree'))
    for statement in FLAT_RTREE:
        connection.execute(text(statement))
    connection.execute(text('INSERT INTO eoorder_record_rtree SELECT pk, minx, maxx, miny, '
                            'maxy FROM eoorder_record WHERE minx IS NOT NULL'))
    connection.execute(text("UPDATE alembic_version SET version_num = '0011'"))


def test_migration_builds_the_time_dimension_from_stored_records(tmp_path):
    from pygeoapi_eoorder.store import Store, migrate
    path, documents = tmp_path / 'old.db', records()
    RecordRepository(f'sqlite:///{path}', 'old').upsert(documents)
    store = Store(f'sqlite:///{path}')
    try:
        for _ in range(2):  # and again: the upgrade is idempotent
            with store.write_engine.begin() as connection:
                flatten(connection)
            assert len(rtree_rows(path)[0]) == 5
            assert migrate.upgrade(store.write_engine) == ('0011', migrate.head())
        migrate.upgrade(store.write_engine)  # at head: nothing to do
    finally:
        store.write_engine.dispose()
        store.read_engine.dispose()
    check_rtree(path, documents)
    assert check_answers(RecordRepository(f'sqlite:///{path}', 'old'), documents) > 100


def check_rtree(path, documents) -> None:
    """Every record with a footprint is in the R*Tree once, with its time in days since
    1970 rounded outwards (open ends at the bounds of `datetime`, no time: every time)."""
    rows = rtree_rows(path)
    assert len(rows) == len(documents)
    by_id = {d['id']: d for d in documents}
    with sqlite3.connect(path) as db:
        ids = dict(db.execute('SELECT pk, identifier FROM eoorder_record'))
    for pk, _, _, _, _, mint, maxt in rows:
        first, last = bounds(by_id[ids[pk]]) or (None, None)
        # SQLite reads times to the millisecond (searches widen their window for that)
        assert mint <= day(first or datetime.min) + MS and maxt >= day(last or datetime.max) - MS
        if first and last:
            assert day(first) - mint < 0.01 and maxt - day(last) < 0.01


def day(value: datetime) -> float:
    return (value - datetime(1970, 1, 1)) / timedelta(days=1)

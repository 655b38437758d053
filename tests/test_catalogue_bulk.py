"""The bulk load path (`sql_rows` + `sql_bulk`, behind `RecordRepository.upsert/load`)
stores exactly what the row path stores: the oracle is the row path itself,
`records.to_row(collection, records.normalise(document))` inserted by the ORM, compared
column by column (and PostGIS geometry, SQLite R*Tree entries, search answers) on SQLite
and PostGIS."""

from __future__ import annotations

import copy
import json
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text

from pygeoapi_eoorder.catalogue import records, sql_rows
from pygeoapi_eoorder.catalogue.cql import parse
from pygeoapi_eoorder.catalogue.repository import RecordRepository
from pygeoapi_eoorder.catalogue.visibility import CURATED
from pygeoapi_eoorder.store import get_store
from pygeoapi_eoorder.store.record_tables import RTREE, Record
from tests.support.catalogue import eo_record
from tests.support.cluster import Database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / 'benchmarks'))
from catalogue_bench import synthetic  # noqa: E402

STAMPS = {'created': '2024-05-01T10:00:00Z', 'updated': '2024-05-02T11:30:00.25Z'}


def square(x, y, size=1.0):
    return [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]


# rows alike, but the store refuses them (both paths): GEOS (SQLite's exact spatial test)
# an unclosed ring (shapely closes it) and a lower-case type name (shapely accepts it),
# PostGIS's 2D geometry column a polygon with z
UNSEARCHABLE = {'scene-105', 'scene-112', 'scene-106'}


def corpus() -> list[dict]:
    """Plain records and every shape the row path treats specially."""
    docs = [eo_record(i, properties=dict(STAMPS)) for i in range(20)]
    docs += list(synthetic(40, seed=3))
    odd = [
        {'geometry': None},
        {'geometry': {'type': 'Point', 'coordinates': [12, -3.5]}},
        {'geometry': {'type': 'MultiPolygon', 'coordinates': [[square(0, 0)], [square(5, 5)]]}},
        {'geometry': {'type': 'Polygon', 'coordinates': [square(0, 0, 4), square(1, 1)]}},
        {'geometry': {'type': 'Polygon', 'coordinates': [square(0, 0), square(3, 3)]}},
        {'geometry': {'type': 'Polygon', 'coordinates': [square(0, 0)[:-1]]}},  # unclosed
        {'geometry': {'type': 'Polygon', 'coordinates': [[[0, 0, 5], [1, 0, 5], [1, 1, 5],
                                                         [0, 0, 5]]]}},
        {'geometry': {'type': 'GeometryCollection', 'geometries': [
            {'type': 'Point', 'coordinates': [1, 2]}]}},
        {'geometry': {'type': 'Polygon', 'coordinates': []}},  # empty: stored without
        {'geometry': {'type': 'LineString', 'coordinates': [[170, 1], [-170, 2]]}},
        {'geometry': {'type': 'MultiLineString', 'coordinates': [[[0, 0], [1, 1]]]}},
        {'geometry': {'type': 'MultiPoint', 'coordinates': [[0, 0], [2.5, -1]]}},
        {'geometry': {'type': 'point', 'coordinates': [1, 1]}},
        {'time': {'interval': ['2020-01-01T00:00:00Z', '..']}},
        {'time': {'interval': ['..', '2020-01-01']}},
        {'time': {'timestamp': '2021-06-01T12:00:00+02:00'}},
        {'time': None, 'properties': {'datetime': '2022-02-02T02:02:02.5Z', **STAMPS}},
        {'time': None, 'properties': {'start_datetime': '2022-02-02T00:00:00Z', **STAMPS}},
        {'time': None, 'properties': {'end_datetime': '2022-02-02T00:00:00Z'}},
        {'properties': {'instrument': ['OLI', 'TIRS'], 'keywords': ['a', 'b'],
                        'externalIds': ['x', {'scheme': 's', 'value': 'v'}], **STAMPS}},
        {'id': 42, 'properties': {'orbitNumber': '17', 'cloudCover': '3.5', **STAMPS}},
        {'links': [], 'conformsTo': ['x'], 'properties': {'title': 'Ünïcode ☃', **STAMPS}},
    ]
    for index, extra in enumerate(odd):
        base = eo_record(100 + index, properties=dict(STAMPS))
        props = {**base['properties'], **extra.pop('properties', {})}
        base.update(extra, properties=props)
        if base.get('time') is None:
            base.pop('time')
        docs.append(base)
    return docs


BAD = [
    'not a dict',
    {'id': '', 'properties': {}},
    {'id': 'a', 'properties': []},
    {'id': 'b', 'links': {}},
    {'id': 'c', 'geometry': {'type': 'Polygon', 'coordinates': [[[0, 0], [1, 1], [0, 0]]]}},
    {'id': 'd', 'time': {'interval': ['2021-01-02', '2021-01-01']}},
    {'id': 'e', 'properties': {'cloudCover': 'cloudy'}},
    {'id': 'f', 'properties': {'instrument': ['x' * 100, 'y' * 100]}},
    {'id': 'g', 'properties': {'created': 'yesterday'}},
]


def row_path(collection, document):
    return records.to_row(collection, records.normalise(document))


def outcome(function, *args):
    try:
        return function(*args)
    except records.RecordError as err:
        return ('RecordError', str(err))


@pytest.mark.parametrize('owned', [False, True])
def test_rows_are_the_row_paths(owned):
    for document in corpus() + BAD:
        expected = outcome(row_path, 'c', copy.deepcopy(document))
        given_doc = copy.deepcopy(document)
        assert repr(outcome(sql_rows.row, 'c', given_doc, owned)) == repr(expected), document
        if not owned:
            assert given_doc == document  # the caller's document is left as it was


coordinate = st.one_of(st.integers(-200, 200), st.floats(-1e3, 1e3),
                       st.sampled_from([float('nan'), float('inf'), True, '1', None]))
position = st.lists(coordinate, min_size=0, max_size=4)
ring = st.lists(position, min_size=0, max_size=6).map(
    lambda r: r + r[:1] if r and len(r) % 2 else r)
geometry = st.one_of(
    st.none(),
    st.builds(lambda c: {'type': 'Point', 'coordinates': c}, position),
    st.builds(lambda c: {'type': 'LineString', 'coordinates': c}, st.lists(position,
                                                                           max_size=4)),
    st.builds(lambda c: {'type': 'Polygon', 'coordinates': c}, st.lists(ring, max_size=3)),
    st.builds(lambda c: {'type': 'MultiPolygon', 'coordinates': c},
              st.lists(st.lists(ring, max_size=2), max_size=3)),
    st.builds(lambda c: {'type': 'MultiPoint', 'coordinates': c}, st.lists(position,
                                                                           max_size=3)))
moment = st.one_of(st.none(), st.just('..'), st.just('2021-03-04'),
                   st.datetimes().map(lambda d: d.isoformat() + 'Z'), st.just('nope'))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(geometry=geometry, start=moment, end=moment,
       props=st.dictionaries(st.sampled_from(['cloudCover', 'orbitNumber', 'instrument',
                                              'keywords', 'platform', 'datetime']),
                             st.one_of(st.integers(), st.floats(), st.text(max_size=5),
                                       st.lists(st.text(max_size=3), max_size=3)),
                             max_size=4))
def test_rows_match_on_generated_documents(geometry, start, end, props):
    document = {'id': 'gen', 'geometry': geometry, 'properties': props}
    if start is not None or end is not None:
        document['time'] = {'interval': [start, end]}
    try:
        expected = outcome(row_path, 'c', copy.deepcopy(document))
    except Exception as err:  # shapely's own errors: the fast path must raise alike
        with pytest.raises(type(err)):
            sql_rows.row('c', copy.deepcopy(document))
        return
    found = outcome(sql_rows.row, 'c', copy.deepcopy(document), True)
    assert repr(found) == repr(expected)  # repr: NaN bounds (from NaN coordinates) compare


# -- stored rows ---------------------------------------------------------------------------------
def load_row_path(url: str, collection: str, documents: list[dict]) -> None:
    """What `upsert` did before the bulk path: one ORM object per new record."""
    now = records.parse_time('2024-06-01T00:00:00Z', 'now')
    with get_store(url).write() as session:
        for document in documents:
            row = row_path(collection, document)
            row.update(owner=CURATED.owner, visibility=CURATED.visibility)
            row['created'] = row['created'] or now
            row['updated'] = row['updated'] or now
            props = row['document'].setdefault('properties', {})
            props.setdefault('created', records.iso(row['created']))
            props.setdefault('updated', records.iso(row['updated']))
            session.add(Record(**row))


def stored(url: str, collection: str, extra: str = '') -> dict:
    columns = [c.name for c in Record.__table__.columns if c.name not in ('pk', 'collection')]
    listed = ', '.join(f'r.{c}' for c in columns)
    with get_store(url).read() as session:
        found = session.execute(text(
            f'SELECT {listed}{extra} FROM eoorder_record r WHERE r.collection = :c'),
            {'c': collection}).all()
    return {row[0 if columns[0] == 'identifier' else columns.index('identifier')]: tuple(row)
            for row in found}


def stamped_corpus() -> list[dict]:
    """Documents with their own created/updated (the two paths run at other times)."""
    found = []
    for document in corpus():
        if document['id'] in UNSEARCHABLE:
            continue
        document = copy.deepcopy(document)
        document.setdefault('properties', {}).update(STAMPS)
        found.append(document)
    return found


QUERIES = ["S_INTERSECTS(geometry, BBOX(-10, -10, 20, 20))",
           "T_INTERSECTS(datetime, INTERVAL('2021-01-05T00:00:00Z', '2021-01-12T00:00:00Z'))",
           "platform = 'SENTINEL-2A' AND cloudCover > 20",
           "instrument = 'TIRS'", "T_AFTER(datetime, TIMESTAMP('2021-06-01T00:00:00Z'))"]


def check_same(url: str, extra: str = '') -> None:
    documents = stamped_corpus()
    reference, bulk = f'row-{uuid.uuid4().hex[:6]}', f'bulk-{uuid.uuid4().hex[:6]}'
    load_row_path(url, reference, copy.deepcopy(documents))
    result = RecordRepository(url, bulk).load(copy.deepcopy(documents), batch=7, owned=True)
    assert result.inserted == len(documents)
    expected, found = stored(url, reference, extra), stored(url, bulk, extra)
    assert len(expected) == len(documents)
    assert found == expected
    for query in QUERIES:
        node = parse(query)
        answers = [sorted(d['id'] for d in RecordRepository(url, name).search(
            node, limit=1000)[0]) for name in (reference, bulk)]
        assert answers[0] == answers[1], query
        assert answers[0], f'{query} matches nothing: not a comparison'
    return reference, bulk


def test_sqlite_bulk_load_stores_the_same_rows(tmp_path):
    url = f'sqlite:///{tmp_path / "bulk.db"}'
    reference, bulk = check_same(url)
    with get_store(url).read() as session:  # the R*Tree got the same boxes
        boxes = [sorted(tuple(b) for b in session.execute(text(
            f'SELECT t.minx, t.maxx, t.miny, t.maxy FROM {RTREE} t JOIN eoorder_record r '
            'ON r.pk = t.id WHERE r.collection = :c'), {'c': name}).all())
            for name in (reference, bulk)]
    assert boxes[0] == boxes[1] and len(boxes[0]) > 40


@pytest.fixture(scope='module')
def postgis_url():
    database = Database('eoorder_bulk').create(postgis=True)
    yield database.url
    database.drop()


def test_postgis_bulk_load_stores_the_same_rows(postgis_url):
    """Also the text of the JSON columns and the PostGIS geometry, byte for byte."""
    check_same(postgis_url, ', r.document::text, encode(ST_AsEWKB(r.geom), \'hex\')')


def test_upsert_semantics_kept(postgis_url, tmp_path):
    for url in (postgis_url, f'sqlite:///{tmp_path / "upsert.db"}'):
        repository = RecordRepository(url, f'up-{uuid.uuid4().hex[:6]}')
        documents = stamped_corpus()[:10]
        assert repository.load(copy.deepcopy(documents)).inserted == 10
        again = repository.load(copy.deepcopy(documents), batch=3)
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 10)
        documents[0]['properties']['title'] = 'changed'
        documents.append(eo_record(999, properties=dict(STAMPS)))
        third = repository.upsert(copy.deepcopy(documents))
        assert (third.inserted, third.updated, third.unchanged) == (1, 1, 9)
        assert repository.get(documents[0]['id'])['properties']['title'] == 'changed'
        with get_store(url).read() as session:
            titles = session.execute(select(Record.title).where(
                Record.collection == repository.collection,
                Record.identifier == documents[0]['id'])).scalars().all()
        assert titles == ['changed']
        assert json.loads(json.dumps(repository.get('scene-999')))['id'] == 'scene-999'

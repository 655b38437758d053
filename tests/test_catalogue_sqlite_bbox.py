"""bbox searches on SQLite: a footprint whose envelope lies inside the query rectangle is
answered without the exact (shapely) test, and the exact test runs after the cheap column
tests. Answers are checked against shapely and a time test computed here."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta

import pytest
from shapely.geometry import box, shape

from pygeoapi_eoorder.catalogue import cql
from pygeoapi_eoorder.catalogue.query import build
from pygeoapi_eoorder.catalogue.repository import RecordRepository
from pygeoapi_eoorder.catalogue.sql import is_rectangle, to_sql

T0 = datetime(2022, 1, 1)


def iso(value: datetime) -> str:
    return value.strftime('%Y-%m-%dT%H:%M:%SZ')


def footprint(rng: random.Random) -> dict:
    """A point, a square, a thin triangle (its envelope overlaps far more than it does),
    a line or a two-part multipolygon around (0..10, 0..10)."""
    x, y = rng.uniform(-2, 11), rng.uniform(-2, 11)
    size = rng.choice([0.5, 1.0, 3.0])
    kind = rng.choice(['Point', 'square', 'triangle', 'LineString', 'MultiPolygon'])
    if kind == 'Point':
        return {'type': 'Point', 'coordinates': [x, y]}
    if kind == 'LineString':
        return {'type': 'LineString', 'coordinates': [[x, y], [x + size, y + size]]}
    square = [[x, y], [x + size, y], [x + size, y + size], [x, y + size], [x, y]]
    if kind == 'square':
        return {'type': 'Polygon', 'coordinates': [square]}
    triangle = [[x, y], [x + size, y], [x, y + size], [x, y]]
    if kind == 'triangle':
        return {'type': 'Polygon', 'coordinates': [triangle]}
    far = [[px + 6, py - 6] for px, py in square]
    return {'type': 'MultiPolygon', 'coordinates': [[square], [far]]}


def records(count: int = 400) -> list[dict]:
    rng = random.Random(16)
    found = []
    for index in range(count):
        start = T0 + timedelta(hours=rng.randrange(24 * 60))
        found.append({'id': f'r{index}', 'geometry': footprint(rng),
                      'time': {'interval': [iso(start), iso(start + timedelta(hours=2))]},
                      'properties': {'title': f'r{index}',
                                     'platform': rng.choice(['S1A', 'S2A'])}})
    return found


@pytest.fixture(scope='module')
def repository(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('bbox') / 'store.db'}"
    repo = RecordRepository(url, f'bbox-{uuid.uuid4().hex[:8]}')
    repo.upsert(records())
    return repo


def expected(documents, bbox, start, end, platform=None) -> set[str]:
    query = box(*bbox)
    found = set()
    for document in documents:
        first, last = (datetime.fromisoformat(v.rstrip('Z'))
                       for v in document['time']['interval'])
        if (query.intersects(shape(document['geometry'])) and first <= end and last >= start
                and platform in (None, document['properties']['platform'])):
            found.add(document['id'])
    return found


def test_bbox_datetime_and_filter_answers_match_shapely(repository):
    documents, rng = records(), random.Random(7)
    answered = 0
    for _ in range(40):
        x, y = rng.uniform(-1, 8), rng.uniform(-1, 8)
        bbox = [x, y, x + rng.choice([0.7, 2.0, 4.0]), y + rng.choice([0.7, 2.0, 4.0])]
        start = T0 + timedelta(hours=rng.randrange(24 * 50))
        end = start + timedelta(days=rng.choice([1, 5, 20]))
        platform = rng.choice([None, 'S1A'])
        node = build(bbox=bbox, datetime_=f'{iso(start)}/{iso(end)}', q=None, properties=[],
                     filterq=cql.parse(f"platform = '{platform}'") if platform else None)
        found, matched = repository.search(node, limit=1000)
        want = expected(documents, bbox, start, end, platform)
        assert {d['id'] for d in found} == want
        assert matched == len(want)
        page, matched = repository.search(node, limit=3)  # numberMatched by the count
        assert matched == len(want) and len(page) == min(3, len(want))
        answered += len(want)
    assert answered > 100  # the queries found something to compare


def test_touching_and_envelope_only_overlaps(repository):
    edge = RecordRepository(repository.url, f'edge-{uuid.uuid4().hex[:8]}')
    shapes = {  # against BBOX(0, 0, 10, 10)
        'inside': [[1, 1], [2, 1], [2, 2], [1, 1]],
        'on-edge': [[10, 2], [12, 2], [12, 3], [10, 2]],      # touches the right edge
        'corner': [[10, 10], [11, 10], [11, 11], [10, 10]],  # touches a corner
        'envelope-only': [[9, 12], [12, 9], [12, 12], [9, 12]],  # its envelope overlaps
    }
    edge.upsert([{'id': name, 'geometry': {'type': 'Polygon', 'coordinates': [ring]}}
                 for name, ring in shapes.items()])
    found, _ = edge.search(cql.parse('S_INTERSECTS(geometry, BBOX(0, 0, 10, 10))'))
    query = box(0, 0, 10, 10)
    assert {d['id'] for d in found} == {
        name for name, ring in shapes.items()
        if query.intersects(shape({'type': 'Polygon', 'coordinates': [ring]}))}
    assert {d['id'] for d in found} == {'inside', 'on-edge', 'corner'}
    edge.clear()


def test_exact_spatial_test_comes_after_the_column_tests():
    node = build(bbox=[0, 0, 10, 10], datetime_='2022-01-01T00:00:00Z/2022-02-01T00:00:00Z',
                 q=None, properties=[], filterq=cql.parse("platform = 'S1A'"))
    where = str(to_sql(node, 'sqlite', False, 'c').compile(
        compile_kwargs={'literal_binds': True}))
    exact = where.index('eoorder_spatial')
    assert where.index('time_start') < exact and where.index('platform') < exact
    assert where.index('eoorder_record_rtree') < exact


@pytest.mark.parametrize('wkt, rectangle', [
    ('POLYGON((0 0, 2 0, 2 1, 0 1, 0 0))', True),
    ('POLYGON((0 0, 1 0, 2 0, 2 1, 0 1, 0 0))', True),  # a collinear extra vertex
    ('POLYGON((0 0, 2 0, 2 1, 0 0))', False),
    ('POLYGON((0 0, 2 0, 2 2, 0 2, 0 0), (0.5 0.5, 1 0.5, 1 1, 0.5 1, 0.5 0.5))', False),
    ('LINESTRING(0 0, 2 0)', False), ('POINT(1 1)', False),
])
def test_is_rectangle(wkt, rectangle):
    from shapely import wkt as reader
    assert is_rectangle(reader.loads(wkt)) is rectangle

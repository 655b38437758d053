"""CQL2 through pygeofilter with our workarounds, translated to SQL on real SQLite and
PostgreSQL/PostGIS: every temporal operator with instant and interval records and operands,
checked against an independent oracle of CQL2's definitions."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta

import pytest
from pygeofilter import ast

from pygeoapi_eoorder.catalogue import cql
from pygeoapi_eoorder.catalogue.query import QueryError, check_queryables
from pygeoapi_eoorder.catalogue.repository import RecordRepository

from .support.cluster import Database

T0 = datetime(2022, 3, 1)


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def iso(value: datetime) -> str:
    return value.strftime('%Y-%m-%dT%H:%M:%SZ')


# records: instants and intervals (hours after T0)
RECORDS = {
    'i2': (2, 2), 'i5': (5, 5), 'i8': (8, 8),
    'a1-3': (1, 3), 'a2-5': (2, 5), 'a3-4': (3, 4), 'a4-9': (4, 9), 'a5-8': (5, 8),
    'a6-7': (6, 7), 'a0-10': (0, 10),
}
INF = float('inf')
# open-ended records ('..' at one end): -INF / INF in the oracle
RECORDS.update({'o3-': (3, INF), 'o5-': (5, INF), 'o-4': (-INF, 4), 'o-6': (-INF, 6)})
OPEN_IDS = {k for k, v in RECORDS.items() if INF in (abs(v[0]), abs(v[1]))}
# operands: (cql2 text literal, (start, end) in hours; None = open)
OPERANDS = {
    'instant5': (f"TIMESTAMP('{iso(at(5))}')", (5, 5)),
    'interval2-5': (f"INTERVAL('{iso(at(2))}', '{iso(at(5))}')", (2, 5)),
    'interval3-8': (f"INTERVAL('{iso(at(3))}', '{iso(at(8))}')", (3, 8)),
    'open-start-4': (f"INTERVAL('..', '{iso(at(4))}')", (-INF, 4)),
    'open-end-5': (f"INTERVAL('{iso(at(5))}', '..')", (5, INF)),
}
ORACLE = {  # CQL2 1.0, temporal functions: A is the record, B the operand
    'T_AFTER': lambda a, b: a[0] > b[1],
    'T_BEFORE': lambda a, b: a[1] < b[0],
    'T_CONTAINS': lambda a, b: a[0] < b[0] and a[1] > b[1],
    'T_DISJOINT': lambda a, b: not (a[0] <= b[1] and a[1] >= b[0]),
    'T_DURING': lambda a, b: a[0] > b[0] and a[1] < b[1],
    'T_EQUALS': lambda a, b: a[0] == b[0] and a[1] == b[1],
    'T_FINISHEDBY': lambda a, b: a[0] < b[0] and a[1] == b[1],
    'T_FINISHES': lambda a, b: a[0] > b[0] and a[1] == b[1],
    'T_INTERSECTS': lambda a, b: a[0] <= b[1] and a[1] >= b[0],
    'T_MEETS': lambda a, b: a[1] == b[0],
    'T_METBY': lambda a, b: a[0] == b[1],
    'T_OVERLAPPEDBY': lambda a, b: a[0] > b[0] and a[0] < b[1] and a[1] > b[1],
    'T_OVERLAPS': lambda a, b: a[0] < b[0] and a[1] > b[0] and a[1] < b[1],
    'T_STARTEDBY': lambda a, b: a[0] == b[0] and a[1] > b[1],
    'T_STARTS': lambda a, b: a[0] == b[0] and a[1] < b[1],
}


def record(identifier: str, start: float, end: float) -> dict:
    def bound(hours: float) -> str:
        return '..' if abs(hours) == INF else iso(at(hours))
    time = ({'timestamp': iso(at(start))} if start == end
            else {'interval': [bound(start), bound(end)]})
    point = [start, end] if identifier not in OPEN_IDS else [-50, -50]
    return {'id': identifier, 'geometry': {'type': 'Point', 'coordinates': point},
            'time': time, 'properties': {'title': identifier}}


@pytest.fixture(scope='module', params=['sqlite', 'postgresql'])
def repository(request, tmp_path_factory):
    if request.param == 'sqlite':
        url = f"sqlite:///{tmp_path_factory.mktemp('cql') / 'store.db'}"
    else:  # a PostGIS database of this module's own (fails loudly without PostgreSQL)
        database = Database('eoorder_cql').create(postgis=True)
        request.addfinalizer(database.drop)
        url = database.url
    repo = RecordRepository(url, f'cql-{uuid.uuid4().hex[:8]}')
    repo.upsert([record(k, *v) for k, v in RECORDS.items()])
    yield repo
    repo.clear()


def search(repo, text: str) -> set[str]:
    documents, matched = repo.search(cql.parse(text), limit=1000)
    assert matched == len(documents)
    return {d['id'] for d in documents}


CASES = list(itertools.product(sorted(ORACLE), sorted(OPERANDS)))


@pytest.mark.parametrize('operator, operand', CASES)
def test_temporal_operator_function_style(repository, operator, operand):
    literal, bounds = OPERANDS[operand]
    expected = {k for k, v in RECORDS.items() if ORACLE[operator](v, bounds)}
    assert search(repository, f'{operator}(datetime, {literal})') == expected


@pytest.mark.parametrize('operator', ['T_INTERSECTS', 'T_OVERLAPS', 'T_DISJOINT', 'T_DURING'])
def test_temporal_operators_in_cql2_json(repository, operator):
    bounds = OPERANDS['interval3-8'][1]
    document = {'op': operator.lower(), 'args': [
        {'property': 'datetime'}, {'interval': [iso(at(3)), iso(at(8))]}]}
    expected = {k for k, v in RECORDS.items() if ORACLE[operator](v, bounds)}
    documents, _ = repository.search(cql.parse_json(document), limit=1000)
    assert {d['id'] for d in documents} == expected


CLOSED = {k for k, v in RECORDS.items() if k.startswith('a')}  # start < end, both known
JSON_NAMES = {'T_FINISHEDBY': 't_finishedBy', 'T_METBY': 't_metBy', 'T_STARTEDBY': 't_startedBy',
              'T_OVERLAPPEDBY': 't_overlappedBy'}  # (CQL2 JSON's spelling)


@pytest.mark.parametrize('operator', sorted(ORACLE))
def test_an_interval_of_properties(repository, operator):
    """INTERVAL(start_datetime, end_datetime) is each record's own interval (CQL2 allows
    properties as an interval's ends), in text and in JSON (with CQL2 JSON's camel-case
    operator names); the oracle over the records of a closed interval."""
    bounds = OPERANDS['interval3-8'][1]
    expected = {k for k in CLOSED if ORACLE[operator](RECORDS[k], bounds)}
    text = (f'{operator}(interval(start_datetime, end_datetime), '
            f"INTERVAL('{iso(at(3))}', '{iso(at(8))}'))")
    assert search(repository, text) & CLOSED == expected
    document = {'op': JSON_NAMES.get(operator, operator.lower()), 'args': [
        {'interval': [{'property': 'start_datetime'}, {'property': 'end_datetime'}]},
        {'interval': [iso(at(3)), iso(at(8))]}]}
    documents, _ = repository.search(cql.parse_json(document), limit=1000)
    assert {d['id'] for d in documents} & CLOSED == expected


def test_true_and_false_are_filters(repository):
    """Basic CQL2: `true`/`false` alone, combined, in text and JSON; a boolean where a
    value stands stays a value."""
    everything = set(RECORDS)
    assert search(repository, 'true') == everything
    assert search(repository, 'FALSE') == set()
    assert search(repository, "(NOT true AND title = 'i5') OR NOT (false)") == everything
    assert search(repository, "title = 'i5' and (true)") == {'i5'}
    for document, expected in ((True, everything), (False, set()),
                               ({'op': 'and', 'args': [True, {'op': '=', 'args': [
                                   {'property': 'title'}, 'i5']}]}, {'i5'})):
        documents, _ = repository.search(cql.parse_json(document), limit=1000)
        assert {d['id'] for d in documents} == expected
    assert isinstance(cql.parse_text('title = true'), ast.Equal)


def test_datetime_against_an_interval_of_its_own_properties(repository):
    """Every record's interval intersects the one from its own start on (the time-window
    shortcuts of both backends take literal times only)."""
    assert search(repository, "T_INTERSECTS(datetime, INTERVAL(start_datetime, '..'))") == \
        set(RECORDS)


def test_an_interval_of_a_property_that_is_no_time_is_refused(repository):
    for text in ("T_DURING(INTERVAL(title, '..'), INTERVAL('..', '..'))",
                 "T_DURING(INTERVAL(start_datetime), INTERVAL('..', '..'))",
                 "T_DURING(INTERVAL('2022-13-01', '..'), datetime)"):
        with pytest.raises((QueryError, cql.CQLError)):
            search(repository, text)


def test_instant_operand_in_json_and_date_literals(repository):
    document = {'op': 't_intersects', 'args': [{'property': 'datetime'},
                                               {'timestamp': iso(at(5))}]}
    expected = {k for k, v in RECORDS.items() if ORACLE['T_INTERSECTS'](v, (5, 5))}
    assert {d['id'] for d in repository.search(cql.parse_json(document), limit=100)[0]} \
        == expected
    # a DATE is the whole day: every record of 2022-03-01 intersects it
    assert search(repository, "T_INTERSECTS(datetime, DATE('2022-03-01'))") == set(RECORDS)
    # CQL2 keywords are case-insensitive
    assert search(repository, "t_intersects(datetime, date('2022-03-01'))") == set(RECORDS)
    assert search(repository, "T_INTERSECTS(datetime, interval('2022-03-01', '..'))") == \
        set(RECORDS)
    next_day = (24, 48 - 1e-9)
    assert search(repository, "T_INTERSECTS(datetime, DATE('2022-03-02'))") == {
        k for k, v in RECORDS.items() if ORACLE['T_INTERSECTS'](v, next_day)} == {'o3-', 'o5-'}


def test_infix_form_still_parses(repository):
    assert search(repository, f"datetime T_INTERSECTS TIMESTAMP('{iso(at(5))}')") == \
        {k for k, v in RECORDS.items() if ORACLE['T_INTERSECTS'](v, (5, 5))}


def test_json_bbox_is_not_scrambled(repository):
    # pygeofilter reads {"bbox": [minx, miny, maxx, maxy]} into the wrong envelope slots
    document = {'op': 's_intersects', 'args': [{'property': 'geometry'},
                                               {'bbox': [4.5, 7.5, 5.5, 8.5]}]}
    assert {d['id'] for d in repository.search(cql.parse_json(document))[0]} == {'a5-8'}


def test_spatial_operators(repository):
    assert search(repository, 'S_INTERSECTS(geometry, BBOX(1.5, 2.5, 2.5, 5.5))') == {'a2-5'}
    assert search(repository, 'S_WITHIN(geometry, POLYGON((-1 -1, 3.5 -1, 3.5 3.5, '
                              '-1 3.5, -1 -1)))') == {'i2', 'a1-3'}
    disjoint = search(repository, 'S_DISJOINT(geometry, BBOX(-1, -1, 4.5, 20))')
    assert disjoint == {'i5', 'i8', 'a5-8', 'a6-7'} | OPEN_IDS
    # CQL2 keywords in any case, `Z` geometries
    assert search(repository, 's_within(geometry, polygon z ((-1 -1 0, 3.5 -1 0, 3.5 3.5 0, '
                              '-1 3.5 0, -1 -1 0)))') == {'i2', 'a1-3'}


@pytest.mark.parametrize('text, value', [
    ("title = 'it''s'", "it's"), ("title = 'it\\'s'", "it's"), ("title = ''", ''),
    ("title = 'a(b) AND T_AFTER(c'", 'a(b) AND T_AFTER(c'), ("title = 'true'", 'true')])
def test_text_literals_with_quotes_and_keywords(text, value):
    """CQL2 escapes a quote in a text literal as `''` or `\\'`; nothing in a literal is
    read as CQL2."""
    assert cql.parse_text(text + " AND title <> 'x'").lhs.rhs == value


@pytest.mark.parametrize('text', [
    'T_INTERSECTS(datetime)', "T_AFTER(datetime, 'x'", 'cloudCover <', "INTERVAL('a','b')",
    "T_INTERSECTS(datetime, INTERVAL('2022-13-01', '..'))"])
def test_malformed_filters_raise(text):
    with pytest.raises(cql.CQLError):
        cql.parse(text)


@pytest.mark.parametrize('document', [
    {'type': 'Feature', 'id': 'x', 'bbox': [1, 2, 1, 2], 'geometry': None},  # (an Envelope)
    {'type': 'Point', 'coordinates': [1, 2]},  # (a geometry)
    {'property': 'id'},  # (an attribute)
])
def test_a_filter_that_is_a_value_is_refused(document):
    """A JSON object that parses as a value (e.g. a STAC item POSTed to a search) is no
    filter: refused, not handed to the database (it failed there: 500)."""
    with pytest.raises(cql.CQLError, match='a filter is a condition'):
        cql.parse_json(document)


WRONG_KINDS = [
    "cloudCover = 'x'", 'title < 5', 'geometry = POINT(1 2)', "datetime LIKE 'x%'",
    'cloudCover LIKE 5', 'T_INTERSECTS(geometry, 5)', "T_INTERSECTS(title, DATE('2020-01-01'))",
    'S_INTERSECTS(title, POINT(1 2))', 'cloudCover < 1/0', "cloudCover + 'x' > 1",
    'cloudCover BETWEEN TRUE AND 5', "cloudCover IN (1, 'x')", 'cloudCover < NULL',
    'CASEI(cloudCover) = 5', "datetime = 'yesterday'",
    "UPPER(title, title) = 'X'",
]


@pytest.mark.parametrize('text', WRONG_KINDS)
def test_operands_of_the_wrong_kind_are_the_callers_error(repository, text):
    """Each failed in SQLAlchemy or the database (500) before the kinds were checked."""
    with pytest.raises(QueryError, match='filter: '):
        search(repository, text)


def test_operands_of_the_wrong_kind_in_cql2_json(repository):
    for document in ({'op': 'in', 'args': [{'property': 'cloudCover'}, 5]},
                     {'op': '<', 'args': [{'property': 'geometry'},
                                          {'type': 'Point', 'coordinates': [1, 2]}]},
                     {'op': 'a_contains', 'args': [{'property': 'cloudCover'}, [1]]},
                     {'op': 'a_equals', 'args': [{'property': 'title'}, ['x']]},
                     {'op': 'a_overlaps', 'args': [{'property': 'keywords'}, [1]]},
                     {'op': 'a_contains', 'args': [{'property': 'keywords'},
                                                   [{'property': 'title'}]]}):
        with pytest.raises(QueryError):
            repository.search(cql.parse_json(document), limit=10)


def test_unknown_queryable_is_rejected_before_any_query():
    with pytest.raises(QueryError, match="unknown queryable 'secret'"):
        check_queryables(cql.parse("secret = 1 OR cloudCover < 3"))


DATETIME_PARAMETERS = {  # Records `datetime=` value: (start, end) in hours, None = open
    f'{iso(at(5))}': (5, 5),
    f'{iso(at(7))}': (7, 7),
    f'{iso(at(2))}/{iso(at(5))}': (2, 5),
    f'../{iso(at(2.5))}': (-INF, 2.5),
    f'{iso(at(8.5))}/..': (8.5, INF),
    f'{iso(at(-2))}/{iso(at(-1))}': (-2, -1),
}


@pytest.mark.parametrize('value', sorted(DATETIME_PARAMETERS))
def test_records_datetime_parameter_sees_open_ended_intervals(repository, value):
    from pygeoapi_eoorder.catalogue.query import datetime_node
    expected = {k for k, v in RECORDS.items()
                if ORACLE['T_INTERSECTS'](v, DATETIME_PARAMETERS[value])}
    documents, _ = repository.search(datetime_node(value), limit=1000)
    assert {d['id'] for d in documents} == expected
    # a record open at its end is found by any later instant
    if DATETIME_PARAMETERS[value][0] >= 5:
        assert {'o3-', 'o5-'} <= expected


OPENSEARCH_RELATIONS = {'intersects': 'T_INTERSECTS', 'during': 'T_DURING',
                        'contains': 'T_CONTAINS', 'disjoint': 'T_DISJOINT',
                        'equals': 'T_EQUALS'}
OPENSEARCH_PERIODS = [(2, 5), (5, 5), (None, 4), (5, None), (3, None), (None, 6)]


@pytest.mark.parametrize('relation, period',
                         list(itertools.product(sorted(OPENSEARCH_RELATIONS),
                                                OPENSEARCH_PERIODS)))
def test_opensearch_time_relation_sees_open_ended_intervals(repository, relation, period):
    from pygeoapi_eoorder.opensearch.query import query_model
    args = {'relation': relation}
    if period[0] is not None:
        args['start'] = iso(at(period[0]))
    if period[1] is not None:
        args['end'] = iso(at(period[1]))
    bounds = (-INF if period[0] is None else period[0], INF if period[1] is None else period[1])
    expected = {k for k, v in RECORDS.items()
                if ORACLE[OPENSEARCH_RELATIONS[relation]](v, bounds)}
    documents, _ = repository.search(query_model(args), limit=1000)
    assert {d['id'] for d in documents} == expected


def test_parsing_writes_nothing_to_the_output(capsys):
    """(pygeofilter's WKT reader prints some geometries to stdout: the server's log.)"""
    cql.parse_text('S_INTERSECTS(geometry, MULTIPOINT((1 2),(3 4))) OR '
                   'S_INTERSECTS(geometry, SRID=4326;POINT(1 2))')
    assert capsys.readouterr().out == ''


@pytest.mark.parametrize('text, value', [
    ('cloudCover = +3', 3), ('cloudCover=+.5', 0.5), ('cloudCover = -3', -3),
    ('cloudCover = 1 + 2', ast.Add(1, 2)),
    ('cloudCover = "x" +3', ast.Add(ast.Attribute('x'), 3)),
    ("cloudCover = '+3'", '+3')])
def test_numbers_with_a_sign(text, value):
    """CQL2 numbers may carry either sign; a plus between two values is an addition."""
    assert cql.parse_text(text).rhs == value

"""Property tests of the catalogue's query parsers (CQL2 text and JSON, OpenSearch EO values
and parameters): on any input they return a query model node or raise the module's error
type (CQLError, QueryError); and the HTTP routes built on them never answer 5xx."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st
from werkzeug.datastructures import MultiDict

from pygeoapi_eoorder.catalogue import cql, eovalues
from pygeoapi_eoorder.opensearch import query as opensearch
from pygeoapi_eoorder.catalogue.query import QueryError
from pygeoapi_eoorder.catalogue.queryables import QUERYABLES

from .fuzzing import nasty_text, query_string

FAST = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
NAMES = sorted(QUERYABLES)
EO_TEXT = st.one_of(nasty_text, st.from_regex(
    r'\A[\[\]{]?[ 0-9.eE+\-:TZ]{0,12}(,[ 0-9.eE+\-:TZ]{0,12}){0,2}[\]\[}]?\Z'))

CQL_TEXT_SEEDS = [
    "cloudCover < 20 AND platform = 'SENTINEL-2A'",
    "S_INTERSECTS(geometry, POLYGON((0 0, 1 0, 1 1, 0 1, 0 0)))",
    "T_INTERSECTS(datetime, INTERVAL('2021-01-01T00:00:00Z', '..'))",
    "orbitNumber BETWEEN 1000 AND 1010 OR NOT (orbitDirection = 'ASCENDING')",
    "title LIKE 'Scene%' AND productType IN ('GRD', 'S2MSI1C')",
    "datetime > TIMESTAMP('2021-01-05T00:00:00Z')",
    "BBOX(geometry, 0, 0, 10, 10) AND cloudCover IS NULL",
]
CQL_TOKENS = ['(', ')', ',', "'", ' AND ', ' OR ', 'NOT ', ' = ', ' < ', 'INTERVAL(',
              'TIMESTAMP(', 'DATE(', 'POLYGON((', 'POINT(', 'BBOX(', 'T_INTERSECTS(',
              'S_INTERSECTS(', 'A_CONTAINS(', 'CASEI(', '..', '1e999', '-', '%', '"', ' ',
              'cloudCover', 'datetime', 'geometry', 'nosuch', 'NULL', 'TRUE']


@st.composite
def cql_text(draw):
    seed = draw(st.sampled_from(CQL_TEXT_SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        position = draw(st.integers(0, len(seed)))
        end = draw(st.integers(position, min(len(seed), position + 8)))
        seed = seed[:position] + draw(st.one_of(st.sampled_from(CQL_TOKENS), nasty_text)) \
            + seed[end:]
    return seed


json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20),
                      st.floats(), nasty_text)
cql_json = st.recursive(
    json_leaf | st.fixed_dictionaries({'property': st.sampled_from(NAMES + ['nosuch'])}),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.fixed_dictionaries({'op': st.sampled_from(
            ['and', 'or', 'not', '=', '<', '>=', 'between', 'like', 'in', 'isNull',
             's_intersects', 't_intersects', 't_overlaps', 't_disjoint', 'a_contains',
             'casei', 'nosuch']), 'args': st.lists(children, max_size=3)}),
        st.fixed_dictionaries({'bbox': st.lists(json_leaf, max_size=6)}),
        st.fixed_dictionaries({'interval': st.lists(json_leaf, max_size=3)}),
        st.fixed_dictionaries({'timestamp': json_leaf}),
        st.fixed_dictionaries({'type': st.sampled_from(['Polygon', 'Point', 'Nope']),
                               'coordinates': children})),
    max_leaves=15)


@FAST
@given(name=st.sampled_from(NAMES), text=EO_TEXT)
def test_eo_value_parser(name, text):
    try:
        eovalues.parse(name, text)
    except QueryError:
        pass


@FAST
@example(text="T_INTERSECTS(datetime, INTERVAL('..', '..'))")
@given(text=cql_text())
def test_cql2_text_parser(text):
    try:
        cql.parse(text, 'cql2-text')
    except cql.CQLError:
        pass


@FAST
@given(document=cql_json)
def test_cql2_json_parser(document):
    try:
        cql.parse(json.dumps(document), 'cql2-json')
    except cql.CQLError:
        pass


OS_VALUES = st.one_of(EO_TEXT, st.sampled_from(
    ['0,0,1,1', '-190,0,1,1', '1,1,0,0', 'POINT(1 1)', 'POLYGON((0 0,1 0,1 1,0 0))',
     'LINESTRING(0 0)', '2021-01-01T00:00:00Z', '2021-01-01', 'during', 'contains',
     'disjoint', 'equals', '95', '-1', '1e400', 'nan']))


@FAST
@given(pairs=st.lists(st.tuples(st.sampled_from(sorted(opensearch.PARAMETERS)
                                                + sorted(opensearch.CONTROL) + ['zz']),
                                OS_VALUES), max_size=6))
def test_opensearch_parameters(pairs):
    args = MultiDict(pairs)
    try:
        opensearch.query_model(args)
        count, start_index, offset = opensearch.paging(args, 20, 100)
    except QueryError:
        return
    assert 0 <= count <= 100 and start_index >= 1 and offset >= 0


# -- the routes, in process ---------------------------------------------------------------
@pytest.fixture(scope='module')
def client(inprocess_app):
    inprocess_app.error_log.take()
    client = inprocess_app.test_client()
    for route in ROUTES:  # the routes exist and answer a plain search
        assert client.get(route).status_code == 200, route
    return client


ROUTES = ['/collections/products/items', '/opensearch/search',
          '/opensearch/collections/products/search']
ITEM_PARAMS = sorted(set(NAMES) | {'q', 'bbox', 'datetime', 'limit', 'offset', 'sortby',
                                   'filter', 'filter-lang', 'ids', 'externalIds', 'f'})


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(route=st.sampled_from(ROUTES), data=st.data())
def test_search_routes_never_answer_5xx(inprocess_app, client, route, data):
    names = ITEM_PARAMS if route.startswith('/collections') else \
        sorted(opensearch.PARAMETERS) + sorted(opensearch.CONTROL)
    pairs = data.draw(st.lists(st.tuples(st.sampled_from(names), st.one_of(
        OS_VALUES, cql_text(), st.sampled_from(['cql2-json', 'cql2-text', 'json', 'html',
                                                '-cloudCover', 'nosuch'])
    )), max_size=4), label='query')
    reply = client.get(route, query_string=query_string(pairs))
    errors = inprocess_app.error_log.take()
    assert reply.status_code < 500, (route, pairs, reply.status_code, reply.get_data()[:500])
    assert not errors, errors[0]


@pytest.mark.parametrize('url', [
    '/collections/products/items?offset=99999999999999999999999',
    '/collections/products/items?orbitNumber=99999999999999999999999',
    '/collections/products/items?filter=orbitNumber=99999999999999999999999',
    '/opensearch/collections/products/search?startPage=99999999999999999999999',
    '/opensearch/collections/products/search?orbitNumber=[1,99999999999999999999999]',
    '/collections/products/items?datetime=0001-01-01T00:00:00%2B01:00',
    '/opensearch/collections/products/search?start=0001-01-01T00:00:00%2B01:00',
    '/opensearch/collections/products/search?end=9999-12-31T23:00:00-02:00',
])
def test_out_of_range_numbers_and_dates_are_400(client, url):
    reply = client.get(url)
    assert reply.status_code == 400, reply.get_data()[:300]

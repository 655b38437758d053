"""The query model as a STAC API item search (pystac-client), and STAC errors as HTTP ones.

bbox, datetime, ids and q use the search's own parameters; every other condition becomes a
CQL2-JSON `filter` with STAC property names, written by pygeofilter's CQL2-JSON backend
(its datetime, open-interval and attribute-mapping gaps are filled in here).
"""

from __future__ import annotations

from datetime import date, datetime

from pygeofilter import ast, values
from pygeofilter.backends.cql2_json.evaluate import CQL2Evaluator
from pygeofilter.backends.evaluator import handle

from . import cql
from .query import EXTERNAL_IDS, TEXT, QueryError
from .queryables import MULTI_VALUED, QUERYABLES


def _iso(value) -> str:
    if isinstance(value, datetime):
        return cql.to_utc(value).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
    return value.isoformat()


class STACFilterEncoder(CQL2Evaluator):
    """pygeofilter's CQL2-JSON encoder with STAC names, timestamps and open intervals."""

    def __init__(self):
        super().__init__({}, {})

    @handle(cql.TimeIntersects)
    def time_intersects(self, node, lhs, rhs):
        return {'op': 't_intersects', 'args': [lhs, rhs]}

    @handle(ast.Attribute)
    def attribute(self, node):
        if node.name in (TEXT, EXTERNAL_IDS):
            raise QueryError(f'{node.name}: not supported by the remote STAC API')
        if node.name == 'geometry':
            return {'property': 'geometry'}
        queryable = QUERYABLES.get(node.name)
        if queryable is None or queryable.stac is None:
            raise QueryError(f'filter: {node.name!r} cannot be queried on the remote STAC API')
        return {'property': queryable.stac}

    @handle(datetime)
    def datetime_(self, node):
        return {'timestamp': _iso(node)}

    @handle(date)
    def date_(self, node):
        return {'date': node.isoformat()}

    @handle(type(None))
    def open_end(self, node):
        return '..'

    @handle(values.Interval)
    def interval(self, node, start, end):
        def bound(value):
            if value in (None, '..'):
                return '..'
            return value.get('timestamp') or value.get('date') if isinstance(value, dict) \
                else value
        return {'interval': [bound(start), bound(end)]}

    @handle(ast.Between)
    def between(self, node, lhs, low, high):
        """CQL2-JSON's three-argument form (pygeofilter writes [lhs, [low, high]])."""
        expression = {'op': 'between', 'args': [lhs, low, high]}
        return {'op': 'not', 'args': [expression]} if node.not_ else expression

    @handle(ast.Equal, ast.NotEqual)
    def equality(self, node, lhs, rhs):
        if not _multi_valued(node.lhs):
            return {'op': '=' if isinstance(node, ast.Equal) else '<>', 'args': [lhs, rhs]}
        expression = {'op': 'a_contains', 'args': [lhs, [rhs]]}  # an array property
        return expression if isinstance(node, ast.Equal) else {'op': 'not',
                                                                 'args': [expression]}

    @handle(ast.Like)
    def like(self, node, lhs):
        pattern = {'op': 'like', 'args': [lhs, node.pattern]}
        if node.nocase:
            pattern = {'op': 'like', 'args': [{'function': {'name': 'casei', 'args': [lhs]}},
                                              {'function': {'name': 'casei',
                                                            'args': [node.pattern]}}]}
        return {'op': 'not', 'args': [pattern]} if node.not_ else pattern

    @handle(ast.In)
    def in_(self, node, lhs, *options):
        expression = {'op': 'a_overlaps' if _multi_valued(node.lhs) else 'in',
                      'args': [lhs, list(options)]}
        return {'op': 'not', 'args': [expression]} if node.not_ else expression


def _multi_valued(node) -> bool:
    return isinstance(node, ast.Attribute) and node.name in MULTI_VALUED


def uses_array_functions(node: ast.Node | None) -> list[str]:
    """The multi-valued queryables a filter compares (encoded with CQL2 array functions)."""
    return sorted(cql.attributes(node) & MULTI_VALUED) if node is not None else []


def to_filter(node: ast.Node | None) -> dict | None:
    if node is None:
        return None
    return STACFilterEncoder().evaluate(node)


def sortby(sorts: list[dict]) -> list[dict] | None:
    fields = []
    for sort in sorts or []:
        queryable = QUERYABLES[sort['property']]
        if queryable.stac is None:
            raise QueryError(f'sortby: {sort["property"]!r} cannot be sorted on the remote')
        field = queryable.stac if queryable.stac in ('id', 'collection') \
            else f'properties.{queryable.stac}'
        fields.append({'field': field,
                       'direction': 'desc' if sort.get('order') == '-' else 'asc'})
    return fields or None

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
from .queryables import QUERYABLES


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
        expression = {'op': 'in', 'args': [lhs, list(options)]}
        return {'op': 'not', 'args': [expression]} if node.not_ else expression


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

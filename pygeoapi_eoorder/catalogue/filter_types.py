"""A filter's operands checked for their kinds before it becomes SQL: a comparison of
values of different kinds (a number with a text, a geometry with a time), a temporal
operator on a queryable that holds no time, arithmetic dividing by zero, an array
operator, are the caller's `QueryError` (400 in every protocol), not a database error.
Kinds: number, text, time, geometry, interval, boolean, null, list; `any` for a property
read from the stored documents (a STAC property that is no queryable: of any plain kind)."""

from __future__ import annotations

from datetime import date

from pygeofilter import ast, values

from .query import EXTERNAL_IDS, GEOMETRY, TEXT, QueryError
from .queryables import MULTI_VALUED, NUMERIC, QUERYABLES, TEMPORAL

ANY = 'any'  # (GEOMETRY: the geometry queryable and its kind)
ORDERED = {'number', 'text', 'time'}
TEXT_FUNCTIONS = {'lower', 'upper', 'casei', 'accenti'}


def check(node, parameter: str = 'filter') -> None:
    """QueryError if a condition of the filter compares values of the wrong kinds."""
    if isinstance(node, (ast.And, ast.Or)):
        check(node.lhs, parameter)
        check(node.rhs, parameter)
    elif isinstance(node, ast.Not):
        check(node.sub_node, parameter)
    elif isinstance(node, ast.Node):
        _condition(node, parameter)


def _condition(node, parameter: str) -> None:
    def refuse(why: str):
        raise QueryError(f'{parameter}: {why}')
    if isinstance(node, ast.Comparison):
        kinds = {_kind(node.lhs, parameter), _kind(node.rhs, parameter)}
        if len(kinds - {ANY}) > 1 or not kinds <= ORDERED | {'boolean', ANY}:
            refuse(f'{node.op.value} compares {" with ".join(sorted(kinds))} (compare a '
                   'queryable with a value of its kind; IS NULL tests for no value)')
    elif isinstance(node, ast.Between):
        kinds = {_kind(n, parameter) for n in (node.lhs, node.low, node.high)}
        if len(kinds - {ANY}) > 1 or not kinds <= {'number', 'time', ANY}:
            refuse('BETWEEN takes a number or a time and two bounds of its kind')
    elif isinstance(node, ast.Like):
        if _kind(node.lhs, parameter) not in ('text', ANY) or not isinstance(node.pattern, str):
            refuse('LIKE takes a text queryable and a text pattern')
    elif isinstance(node, ast.In):
        if not isinstance(node.sub_nodes, (list, tuple)):
            refuse('IN takes a queryable and a list of values of its kind')
        kinds = {_kind(node.lhs, parameter)} | {_kind(o, parameter) for o in node.sub_nodes}
        if len(kinds - {ANY}) > 1 or not kinds <= ORDERED | {ANY}:
            refuse('IN takes a queryable and a list of values of its kind')
    elif isinstance(node, ast.IsNull):
        if not isinstance(node.lhs, ast.Attribute):
            refuse('IS NULL tests a queryable')
    elif isinstance(node, ast.TemporalPredicate):
        for operand in (node.lhs, node.rhs):
            if _kind(operand, parameter) not in ('time', 'interval'):
                refuse('temporal operators take times, intervals and temporal queryables')
    elif isinstance(node, (ast.SpatialComparisonPredicate, ast.SpatialDistancePredicate,
                           ast.Relate, ast.BBox)):
        for operand in (node.lhs,) if isinstance(node, ast.BBox) else (node.lhs, node.rhs):
            if _kind(operand, parameter) != 'geometry':
                refuse('spatial operators take `geometry` and geometry literals')
    elif isinstance(node, ast.ArrayPredicate):
        attribute, given = (node.rhs, node.lhs) if isinstance(node.lhs, list) else \
            (node.lhs, node.rhs)
        if getattr(attribute, 'name', None) not in MULTI_VALUED or not isinstance(
                given, list) or not all(isinstance(v, str) and '|' not in v
                                        for v in given):
            refuse('the array functions compare a multi-valued queryable (e.g. '
                   'instruments, keywords) with a list of texts (without "|")')
    elif not isinstance(node, (ast.Include, bool)):
        refuse(f'{type(node).__name__} is not a condition this catalogue evaluates')


def _kind(node, parameter: str) -> str:
    """The kind of an operand (QueryError: one that has none, e.g. a division by 0)."""
    if isinstance(node, ast.Attribute):
        if node.name not in QUERYABLES and node.name not in (GEOMETRY, TEXT, EXTERNAL_IDS):
            return ANY
        return GEOMETRY if node.name == GEOMETRY else 'number' if node.name in NUMERIC \
            else 'time' if node.name in TEMPORAL else 'text'
    if isinstance(node, ast.Arithmetic):
        if not {_kind(node.lhs, parameter), _kind(node.rhs, parameter)} <= {'number', ANY}:
            raise QueryError(f'{parameter}: arithmetic takes numbers')
        if isinstance(node, ast.Div) and not isinstance(node.rhs, ast.Node) and \
                node.rhs == 0:
            raise QueryError(f'{parameter}: division by zero')
        return 'number'
    if isinstance(node, ast.Function):
        name = node.name.lower()
        if name == 'bbox':
            return GEOMETRY
        if name in TEXT_FUNCTIONS and len(node.arguments) == 1 and \
                _kind(node.arguments[0], parameter) in ('text', ANY):
            return 'text'
        raise QueryError(f'{parameter}: {node.name}() takes one text (functions: '
                         'CASEI, ACCENTI, LOWER, UPPER)')
    if isinstance(node, values.Interval) and any(
            isinstance(end, ast.Attribute) and _kind(end, parameter) != 'time'
            for end in (node.start, node.end)):
        raise QueryError(f"{parameter}: an INTERVAL's ends are dates, date-times, '..' or "
                         'temporal queryables')
    return _literal_kind(node)


def _literal_kind(value) -> str:
    if value is None:
        return 'null'
    if isinstance(value, bool):
        return 'boolean'
    if isinstance(value, (int, float)):
        return 'number'
    if isinstance(value, str):
        return 'text'
    if isinstance(value, date):  # (a datetime too)
        return 'time'
    if isinstance(value, values.Interval):
        return 'interval'
    if isinstance(value, (values.Geometry, values.Envelope)):
        return GEOMETRY
    return 'list' if isinstance(value, (list, tuple)) else type(value).__name__

"""CQL2 text and JSON parsing through pygeofilter, with workarounds for its known bugs.

pygeofilter 0.3/0.4 problems handled here (each covered by tests/test_catalogue_cql.py):

- cql2-text only knows the infix form ``a T_INTERSECTS b``; CQL2's function form
  ``T_INTERSECTS(a, b)`` (and every other ``T_*`` function) fails to parse: rewritten to infix.
- cql2-text ``INTERVAL`` accepts neither dates nor open ends (``'..'``): rewritten to
  sentinel timestamps and turned back into open ends after parsing.
- CQL2 names ``T_STARTS/T_STARTEDBY/T_FINISHES/T_FINISHEDBY`` are ``T_BEGINS/...`` there.
- cql2-json ``{"bbox": [minx, miny, maxx, maxy]}`` becomes ``Envelope(x1, x2, y1, y2)`` with
  the numbers in the wrong slots: replaced by the equivalent polygon before parsing.
- ``T_INTERSECTS`` is mapped to ``TimeOverlaps`` (a different Allen relation) in both
  parsers, and ``T_DISJOINT`` is missing: parsed here into :class:`TimeIntersects` and
  ``NOT TimeIntersects``.
- A cql2-json document passed as ``filter`` in a GET query string is parsed as JSON.

Filters nested deeper than :data:`MAX_DEPTH` or longer than :data:`MAX_LENGTH` are refused
before parsing (pygeofilter and the SQL translation recurse, and would fail with
RecursionError); AND/OR chains are balanced after it (`balanced`).
"""

from __future__ import annotations

import json
import math
import re
from datetime import date, datetime, timezone
from typing import Iterator

import shapely
from pygeofilter import ast, values
from lark import Lark, v_args
from pygeofilter.parsers.cql2_json import parse as _parse_json
from pygeofilter.parsers.cql2_json.parser import BINARY_OP_PREDICATES_MAP
from pygeofilter.parsers.cql2_text import parser as _pygeofilter_text
from shapely.geometry import shape

from .. import nesting
from .accents import without_accents
from .cql_text_rewrites import RENAMED, rewritten

# the CQL2 conformance classes this parser and the SQL translation implement (every
# adapter that accepts a `filter` declares them)
CONFORMANCE = [
    'http://www.opengis.net/spec/cql2/1.0/conf/cql2-text',
    'http://www.opengis.net/spec/cql2/1.0/conf/cql2-json',
    'http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2',
    'http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators',
    'http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison',
    'http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions',
    'http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus',
    'http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions',
    'http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions',
    'http://www.opengis.net/spec/cql2/1.0/conf/array-functions',
]
COLLECTION_MARK = ()  # a GeometryCollection's stand-in `coordinates` while pygeofilter parses
MAX_DEPTH = 100  # deeper filters are refused before the (recursive) parsers see them
# longer filters are refused before they are parsed: ~8,000 conditions (a second of CPU)
MAX_LENGTH = 128 * 1024  # characters (text; JSON as sent or encoded)


class CQLError(ValueError):
    """A filter that cannot be parsed; the message says why."""


class TimeIntersects(ast.TemporalPredicate):
    """CQL2 T_INTERSECTS (pygeofilter has no node of its own for it)."""

    op = ast.TemporalComparisonOp.TOVERLAPS

    def __init__(self, lhs, rhs):
        self.lhs, self.rhs = lhs, rhs

    def __repr__(self):
        return f'TimeIntersects(lhs={self.lhs!r}, rhs={self.rhs!r})'


ARRAY_PREDICATES = {'a_equals': ast.ArrayEquals, 'a_contains': ast.ArrayContains,
                    'a_containedby': ast.ArrayContainedBy, 'a_overlaps': ast.ArrayOverlaps}
# the operators pygeofilter's CQL2 JSON parser knows, besides those `_json_fixes` rewrites
# (another `op` is a function call)
KNOWN_JSON_OPS = {'and', 'or', 'not', 'isNull', 'between', 'like', 'in', 'casei',
                  't_disjoint', *BINARY_OP_PREDICATES_MAP, *ARRAY_PREDICATES}
# what pygeofilter's CQL2 text grammar lacks: NOT of a parenthesized condition
# (`NOT (a AND b)`: it negates one predicate only), the array functions and array
# literals (`A_CONTAINS(keywords, ('a', 'b'))`), quotes in text literals (`'it''s'`),
# line breaks between tokens, and property names of one letter
_GRAMMAR_ADDED = r"""
%override ?condition_1: predicate
            | "NOT"i predicate -> not_
            | "NOT"i "(" condition ")" -> not_
            | "(" condition ")"
%override SINGLE_QUOTED: /'(?:[^'\\]|''|\\.)*'/
%override attribute: /[a-zA-Z][a-zA-Z_:0-9.]*/
                   | DOUBLE_QUOTED
%extend predicate: _array_function "(" array_operand "," array_operand ")" -> array_predicate
!_array_function: "A_EQUALS"i | "A_CONTAINS"i | "A_CONTAINEDBY"i | "A_OVERLAPS"i
?array_operand: attribute | func | array
array: "(" [array_element ("," array_element)*] ")"
?array_element: literal | attribute | func | array | "-" number -> neg
%import common.WS
%ignore WS
"""


@v_args(meta=False, inline=True)
class _Transformer(_pygeofilter_text.CQLTransformer):
    def binary_temporal_predicate(self, lhs, op, rhs):
        if str(op).lower() == 't_intersects':
            return TimeIntersects(lhs, rhs)
        return super().binary_temporal_predicate(lhs, op, rhs)

    def SINGLE_QUOTED(self, token):
        """A text literal; `''` and `\\'` in it are quotes."""
        return token[1:-1].replace("''", "'").replace("\\'", "'")

    def wkt__multipoint_2(self, *coordinates):  # (pygeofilter's prints them to stdout)
        return {'type': 'MultiPoint', 'coordinates': coordinates}

    def wkt__geometry_with_srid(self, srid, geometry):  # (the same)
        return {**geometry, 'crs': {'type': 'name', 'properties': {
            'name': f'urn:ogc:def:crs:EPSG::{srid}'}}}

    def array_predicate(self, op, lhs, rhs):
        return ARRAY_PREDICATES[str(op).lower()](lhs, rhs)

    def like(self, node, pattern):
        return super().like(*_caseless_like(node, pattern))

    def not_like(self, node, pattern):
        return super().not_like(*_caseless_like(node, pattern))

    def array(self, *elements):
        return list(elements)

    def function(self, func_name, *expressions):
        """`date('...')`, `timestamp('...')` (CQL2 keywords are case-insensitive; the
        grammar knows them in capitals only) as the literals they are; an INTERVAL of
        properties (`_intervals_as_calls`) as an interval."""
        name = func_name.name.lower()
        if name == 'interval':
            return interval_of(list(expressions))
        if name in ('date', 'timestamp') and len(expressions) == 1 and \
                isinstance(expressions[0], str):
            try:
                return (self.DATE if name == 'date' else self.DATETIME)(expressions[0])
            except ValueError:
                raise CQLError(f'{name.upper()}: not an RFC 3339 '
                               f'{"date" if name == "date" else "date-time"}: '
                               f'{expressions[0]!r}') from None
        return super().function(func_name, *expressions)


PATTERN_FUNCTIONS = {'lower': str.lower, 'accenti': without_accents}


def _caseless_like(node, pattern):
    """`CASEI(x) LIKE CASEI(ACCENTI('Fôo%'))`: the pattern's CASEI and ACCENTI applied now
    (a pattern is text, not a function of one), and to the value (again: they are
    idempotent)."""
    names = []
    while isinstance(pattern, ast.Function) and pattern.name in PATTERN_FUNCTIONS and \
            len(pattern.arguments) == 1:
        names.append(pattern.name)
        pattern = pattern.arguments[0]
    if not names or not isinstance(pattern, str):
        return node, pattern
    for name in reversed(names):
        pattern, node = PATTERN_FUNCTIONS[name](pattern), ast.Function(name, [node])
    return node, pattern


def interval_of(ends: list) -> values.Interval:
    """An INTERVAL: each end a property (`INTERVAL(start_datetime, '..')`), an open end
    ('..') or an RFC 3339 date or date-time."""
    def end(value):
        if isinstance(value, (ast.Attribute, date)) or value is None:
            return value
        if not isinstance(value, str):
            raise CQLError('INTERVAL takes dates, date-times, \'..\' and properties')
        if value in ('..', ''):
            return None
        try:
            if re.fullmatch(r'\d{4}-\d{2}-\d{2}', value):
                return date.fromisoformat(value)
            return datetime.fromisoformat(value.replace('Z', '+00:00').replace('z', '+00:00'))
        except ValueError:
            raise CQLError(f'INTERVAL: not an RFC 3339 date or date-time: {value!r}') \
                from None
    if len(ends) != 2:
        raise CQLError('INTERVAL takes two ends')
    return values.Interval(*(end(value) for value in ends))


def _text_parser() -> Lark:
    from pathlib import Path
    grammar = Path(_pygeofilter_text.__file__).with_name('grammar.lark')
    return Lark(grammar.read_text() + _GRAMMAR_ADDED, source_path=str(grammar),
                parser='lalr', maybe_placeholders=False, transformer=_Transformer(),
                import_paths=[str(grammar.parent.parent)])


_TEXT_PARSER = _text_parser()


def parse_text(text: str) -> ast.Node:
    """Parse CQL2 text (a JSON document is accepted too)."""
    if text.lstrip().startswith('{'):
        return parse_json(text)
    try:
        _check_length(len(text))
        nesting.check_cql_text_depth(text, MAX_DEPTH)
        return condition(check_geometries(balanced(_TEXT_PARSER.parse(rewritten(text)))))
    except CQLError:
        raise
    except Exception as err:
        raise CQLError(_short(err)) from None


def _check_length(length: int) -> None:
    if length > MAX_LENGTH:
        raise CQLError(f'the filter is longer than {MAX_LENGTH} characters')


def _json_fixes(node):
    """bbox literals to polygons; t_overlaps/t_disjoint into forms parsed unambiguously;
    the temporal and array operators in CQL2 JSON's spelling (`t_metBy`, `t_starts`,
    `a_containedBy`) in pygeofilter's; other operators as the function calls they are."""
    if isinstance(node, dict):
        op = str(node.get('op', '')).lower()
        args = node.get('args')
        if op.startswith(('t_', 'a_')):
            op = RENAMED.get(op.upper(), op.upper()).lower()
            node = {**node, 'op': op}
        if op == 't_overlaps' and isinstance(args, list) and len(args) == 2:
            return {'op': 't_overlappedby', 'args': _json_fixes(args[::-1])}
        if op in ('between', 'not between') and isinstance(args, list) and len(args) == 3:
            args = [args[0], args[1:]]  # CQL2-JSON's three-argument form
            node = {**node, 'args': args}
        if 'op' in node and node['op'] not in KNOWN_JSON_OPS and op not in KNOWN_JSON_OPS \
                and isinstance(args, list):  # a function: `{"op": "avg", "args": [...]}`
            return {'function': {'name': node['op'], 'arguments': _json_fixes(args)}}
        if isinstance(node.get('interval'), list) and any(
                isinstance(end, dict) for end in node['interval']):  # (see `interval_of`)
            return {'function': {'name': 'interval', 'arguments': _json_fixes(
                node['interval'])}}
        if node.get('type') == 'GeometryCollection' and 'coordinates' not in node:
            # (pygeofilter takes a geometry by its `coordinates`: marked, see check_geometries)
            return {**node, 'coordinates': COLLECTION_MARK}
        if op == 't_disjoint' and isinstance(args, list):
            return {'op': 'not', 'args': [{'op': 't_intersects', 'args': _json_fixes(args)}]}
        if set(node) == {'bbox'} and isinstance(node['bbox'], list):
            box = node['bbox']
            if len(box) == 6:
                box = [box[0], box[1], box[3], box[4]]
            if len(box) != 4 or not all(isinstance(v, (int, float)) for v in box):
                raise CQLError('bbox needs 4 or 6 numbers')
            x1, y1, x2, y2 = box
            return {'type': 'Polygon',
                    'coordinates': [[[x1, y1], [x2, y1], [x2, y2], [x1, y2], [x1, y1]]]}
        return {k: _json_fixes(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_json_fixes(v) for v in node]
    return node


def _json_nodes(tree):
    """After _json_fixes: every TimeOverlaps came from t_intersects; an `interval`
    function is an interval whose ends may be properties (`interval_of`); a LIKE's
    pattern functions are applied (`_caseless_like`)."""
    def change(node):
        if isinstance(node, ast.TimeOverlaps):
            return TimeIntersects(node.lhs, node.rhs)
        if isinstance(node, ast.Function) and node.name == 'interval':
            return interval_of(node.arguments)
        if isinstance(node, ast.Like):
            node.lhs, node.pattern = _caseless_like(node.lhs, node.pattern)
        return node
    return _rewritten(tree, change)


def _rewritten(node, change, into=lambda node: True):
    """The tree with `change` applied to each node, its parts first (those of the nodes
    `into` accepts; `change` rewrites those of the others)."""
    if isinstance(node, list):
        return [_rewritten(item, change, into) for item in node]
    if isinstance(node, ast.Node) and into(node):
        for name, value in vars(node).items():
            if isinstance(value, (ast.Node, list)):
                setattr(node, name, _rewritten(value, change, into))
    return change(node)


def balanced(tree):
    """AND and OR chains (parsed nested one deeper per operand: `a OR b OR c ...`) as
    balanced trees: thousands of alternatives nest a dozen deep, and every step after
    the parser (checks, the SQL) walks them without reaching Python's recursion limit."""
    def change(node):
        if not isinstance(node, (ast.And, ast.Or)):
            return node
        operands, stack = [], [node]
        while stack:  # (in order: the left operand first)
            part = stack.pop()
            if type(part) is type(node):
                stack += [part.rhs, part.lhs]
            else:
                operands.append(balanced(part))
        while len(operands) > 1:
            paired = [type(node)(*operands[i:i + 2]) for i in range(0, len(operands) - 1, 2)]
            operands = paired + operands[len(paired) * 2:]
        return operands[0]
    return _rewritten(tree, change, into=lambda node: not isinstance(node, (ast.And, ast.Or)))


def parts(tree) -> Iterator:
    """Every part of a parsed filter (nodes, values, lists of them), each before its own
    parts."""
    stack = [tree]
    while stack:
        part = stack.pop()
        yield part
        if isinstance(part, values.Interval):
            stack += [part.end, part.start]
        elif isinstance(part, ast.Node):
            stack += reversed(vars(part).values())
        elif isinstance(part, list):
            stack += reversed(part)


def parse_json(document: str | dict) -> ast.Node:
    """Parse CQL2 JSON (a string or a decoded document)."""
    try:
        if isinstance(document, (str, bytes)):
            _check_length(len(document))
            nesting.check_json_depth(document, MAX_DEPTH)
            data = json.loads(document)
        else:
            data = document
        nesting.check_value_depth(data, MAX_DEPTH)
        if not isinstance(document, (str, bytes)):
            _check_length(len(json.dumps(data, separators=(',', ':'))))
        if isinstance(data, bool):  # (`true`, `false`: Basic CQL2)
            return ast.Include(not data)
        if not isinstance(data, dict):
            raise CQLError('a CQL2 JSON filter is an object or a boolean')
        return condition(check_geometries(_named(_json_nodes(balanced(_parse_json(
            _json_fixes(data)))))))
    except CQLError:
        raise
    except Exception as err:
        raise CQLError(_short(err)) from None


def _named(tree):
    """The tree, if each of its properties is named by a string (CQL2 JSON's
    `{"property": ...}` can hold any JSON value)."""
    for part in parts(tree):
        if isinstance(part, ast.Attribute) and not isinstance(part.name, str):
            raise CQLError('a property is named by a string: {"property": "name"}, not '
                           f'{json.dumps(part.name)[:80]}')
    return tree


def condition(node):
    """The parsed filter, if it is a condition (true or false for each record); a value
    (e.g. a GeoJSON object, read as a geometry or an envelope) is refused."""
    if isinstance(node, (ast.Condition, ast.Predicate, bool)):
        for part in parts(node):
            if isinstance(part, float) and not math.isfinite(part):
                raise CQLError('a number of the filter is out of range (beyond what a '
                               '64-bit floating-point number holds)')
        return node
    raise CQLError('a filter is a condition (a comparison, a spatial or temporal '
                   f'predicate, and/or/not...), not a value ({type(node).__name__})')


def check_geometries(tree):
    """Refuse malformed or invalid geometry literals (before any database sees them)."""
    for node in parts(tree):
        if not isinstance(node, values.Geometry):
            continue
        if node.geometry.get('coordinates') is COLLECTION_MARK:
            del node.geometry['coordinates']
        try:
            geom = shape(node.geometry)
        except Exception as err:  # noqa: BLE001 - shapely raises several kinds
            raise CQLError(f'malformed geometry literal: {_short(err)}') from None
        if not geom.is_valid:
            raise CQLError(f'invalid geometry literal: {shapely.is_valid_reason(geom)}')
    return tree


def parse(text: str, lang: str | None = None) -> ast.Node:
    """Parse a `filter` value in `filter-lang` (cql2-text by default)."""
    if lang in ('cql2-json', 'cql-json'):
        return parse_json(text)
    return parse_text(text)


def _short(err: Exception) -> str:
    first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return first[:200]


def to_utc(value: date | datetime | None) -> datetime | None:
    """Naive UTC datetime (the store's convention) of a parsed date or datetime."""
    if value is None:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            try:
                value = value.astimezone(timezone.utc).replace(tzinfo=None)
            except OverflowError:
                raise CQLError(f'{value.isoformat()} is out of range in UTC '
                               '(years 1 to 9999)') from None
        return value
    return datetime(value.year, value.month, value.day)


def attributes(tree) -> set[str]:
    """Names of every attribute (queryable) the AST refers to."""
    return {node.name for node in parts(tree) if isinstance(node, ast.Attribute)}

"""The one query model: Records / OpenSearch parameters as a pygeofilter AST.

The SQL provider translates it to SQL (:mod:`.sql`), the STAC provider to a STAC search
(:mod:`.stac`). Parameters are checked here; problems raise :class:`QueryError` naming the
parameter, which the HTTP layers answer with 400.
"""

from __future__ import annotations

import re
from datetime import datetime

from pygeofilter import ast, values

from . import cql
from .queryables import NUMERIC, QUERYABLES, TEMPORAL

GEOMETRY = 'geometry'
TEXT = '_text'                 # internal attribute: the words `q` searches
EXTERNAL_IDS = '_externalIds'  # internal attribute: '|id|scheme:id|'


class QueryError(ValueError):
    """A bad query parameter; the message starts with the parameter's name."""


def parse_datetime_value(text: str, parameter: str) -> datetime:
    text = text.strip()
    try:
        if re.fullmatch(r'\d{4}-\d{2}-\d{2}', text):
            return datetime.fromisoformat(text)
        value = datetime.fromisoformat(text.replace('Z', '+00:00').replace('z', '+00:00'))
    except ValueError:
        raise QueryError(f'{parameter}: not an RFC 3339 date-time: {text!r}') from None
    try:
        return cql.to_utc(value)
    except cql.CQLError as err:
        raise QueryError(f'{parameter}: {err}') from None


def datetime_node(text: str, parameter: str = 'datetime') -> ast.Node:
    """`datetime=` (instant, closed or half-open interval) as T_INTERSECTS(datetime, ...)."""
    text = (text or '').strip()
    if not text:
        raise QueryError(f'{parameter}: empty value')
    if '/' in text:
        parts = text.split('/')
        if len(parts) != 2:
            raise QueryError(f'{parameter}: an interval has exactly one "/"')
        bounds = [None if p.strip() in ('', '..') else parse_datetime_value(p, parameter)
                  for p in parts]
        if bounds[0] is None and bounds[1] is None:
            raise QueryError(f'{parameter}: both ends of the interval are open')
        if bounds[1] is not None and re.fullmatch(r'\s*\d{4}-\d{2}-\d{2}\s*', parts[1]):
            bounds[1] = bounds[1].replace(hour=23, minute=59, second=59, microsecond=999999)
        if bounds[0] and bounds[1] and bounds[1] < bounds[0]:
            raise QueryError(f'{parameter}: the interval ends before it starts')
        return cql.TimeIntersects(ast.Attribute('datetime'), values.Interval(*bounds))
    instant = parse_datetime_value(text, parameter)
    if re.fullmatch(r'\d{4}-\d{2}-\d{2}', text):  # a whole day
        end = instant.replace(hour=23, minute=59, second=59, microsecond=999999)
        return cql.TimeIntersects(ast.Attribute('datetime'), values.Interval(instant, end))
    return cql.TimeIntersects(ast.Attribute('datetime'), instant)


def parse_bbox(value, parameter: str = 'bbox') -> list[float]:
    if isinstance(value, str):
        parts = value.split(',')
    else:
        parts = list(value)
    try:
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError):
        raise QueryError(f'{parameter}: values must be numbers') from None
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4:
        raise QueryError(f'{parameter}: needs 4 (or 6) numbers: minx,miny,maxx,maxy')
    minx, miny, maxx, maxy = numbers
    if not (-180 <= minx <= 180 and -180 <= maxx <= 180 and -90 <= miny <= maxy <= 90):
        raise QueryError(f'{parameter}: coordinates out of range or miny > maxy')
    return numbers


def bbox_node(numbers: list[float]) -> ast.Node:
    minx, miny, maxx, maxy = numbers
    polygon = {'type': 'Polygon', 'coordinates': [[[minx, miny], [maxx, miny], [maxx, maxy],
                                                    [minx, maxy], [minx, miny]]]}
    if minx > maxx:  # crosses the antimeridian
        polygon = {'type': 'MultiPolygon', 'coordinates': [
            [[[minx, miny], [180, miny], [180, maxy], [minx, maxy], [minx, miny]]],
            [[[-180, miny], [maxx, miny], [maxx, maxy], [-180, maxy], [-180, miny]]]]}
    return ast.GeometryIntersects(ast.Attribute(GEOMETRY), values.Geometry(polygon))


MAX_Q_WORDS = 100  # words of a `q` in all (each is a LIKE of the text of every record)


def q_node(text: str) -> ast.Node:
    """`q`: comma-separated alternatives (OR), each a set of words that must all appear."""
    if len(text.replace(',', ' ').split()) > MAX_Q_WORDS:
        raise QueryError(f'q: at most {MAX_Q_WORDS} words (a longer search is a filter)')
    alternatives = []
    for alternative in text.split(','):
        words = [w for w in alternative.lower().split() if w]
        if words:
            alternatives.append(ast.And.from_items(*[
                ast.Like(ast.Attribute(TEXT), f'%{escape_like(w)}%', nocase=False,
                         wildcard='%', singlechar='_', escapechar='\\', not_=False)
                for w in words]) if len(words) > 1 else ast.Like(
                    ast.Attribute(TEXT), f'%{escape_like(words[0])}%', nocase=False,
                    wildcard='%', singlechar='_', escapechar='\\', not_=False))
    if not alternatives:
        raise QueryError('q: no search words')
    return ast.Or.from_items(*alternatives) if len(alternatives) > 1 else alternatives[0]


def escape_like(word: str) -> str:
    """`word` as a LIKE pattern (escape character `\\`) matching only itself."""
    return word.replace('\\', '\\\\').replace('%', '\\%').replace('_', '\\_')


def list_values(value: str) -> list[str]:
    return [v.strip() for v in str(value).split(',') if v.strip()]


def typed_value(name: str, text: str, parameter: str):
    if name in NUMERIC:
        try:
            return int(text) if QUERYABLES[name].type == 'integer' else float(text)
        except ValueError:
            raise QueryError(f'{parameter}: not a number: {text!r}') from None
    if name in TEMPORAL:
        return parse_datetime_value(text, parameter)
    if name == 'orbitDirection':
        return text.upper()
    return text


def property_node(name: str, value: str) -> ast.Node:
    """`property=value` (comma = any of the values)."""
    if name == 'ids':
        return ast.In(ast.Attribute('id'), list_values(value), False)
    if name == 'externalIds':
        nodes = [ast.Like(ast.Attribute(EXTERNAL_IDS), f'%|{escape_like(v)}|%', nocase=False,
                          wildcard='%', singlechar='_', escapechar='\\', not_=False)
                 for v in list_values(value)]
        if not nodes:
            raise QueryError('externalIds: no identifiers')
        return ast.Or.from_items(*nodes) if len(nodes) > 1 else nodes[0]
    if name not in QUERYABLES or name == 'datetime':
        raise QueryError(f'{name}: unknown query parameter (see /queryables)')
    options = [typed_value(name, v, name) for v in list_values(value)]
    if not options:
        raise QueryError(f'{name}: empty value')
    if len(options) == 1:
        return ast.Equal(ast.Attribute(name), options[0])
    return ast.In(ast.Attribute(name), options, False)


def check_queryables(node: ast.Node, parameter: str = 'filter') -> None:
    """Every attribute of a filter must be a queryable (no silent full scans)."""
    for name in cql.attributes(node):
        if name not in QUERYABLES and name != GEOMETRY:
            raise QueryError(f'{parameter}: unknown queryable {name!r} (see /queryables)')


def combine(nodes: list[ast.Node]) -> ast.Node | None:
    nodes = [n for n in nodes if n is not None]
    if not nodes:
        return None
    return nodes[0] if len(nodes) == 1 else ast.And.from_items(*nodes)


def build(*, bbox=None, datetime_: str | None = None, q: str | None = None,
          properties: list[tuple[str, str]] | None = None, filterq: ast.Node | None = None
          ) -> ast.Node | None:
    """The AST of a Records query (pygeoapi's already-split parameters)."""
    nodes = []
    if bbox:
        nodes.append(bbox_node(parse_bbox(bbox)))
    if datetime_:
        nodes.append(datetime_node(datetime_))
    if q:
        nodes.append(q_node(q))
    for name, value in properties or []:
        nodes.append(property_node(name, value))
    if filterq is not None:
        check_queryables(filterq)
        nodes.append(filterq)
    return combine(nodes)

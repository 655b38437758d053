"""The query model (pygeofilter AST) as SQLAlchemy expressions over `eoorder_record`.

Built on pygeofilter's SQLAlchemy backend (its comparison/like/between/combine helpers and
evaluator), with the parts it gets wrong for records replaced:

- temporal predicates follow CQL2 (Allen's relations) on the record's acquisition interval
  [start, end] against instants, dates (whole days) and intervals with open ends, where
  pygeofilter compares a single column and ignores the record's end;
- spatial predicates use the spatial index (SQLite R*Tree, PostGIS GiST) and an exact test
  (shapely inside SQLite, PostGIS functions on PostgreSQL) instead of GeoAlchemy calls; on
  SQLite the R*Tree is asked for the query's `datetime` window too (`time_windows`).
"""

from __future__ import annotations

import functools
from datetime import date, datetime, time, timedelta

import shapely
from pygeofilter import ast, values
from pygeofilter.backends.evaluator import Evaluator, handle
from pygeofilter.backends.sqlalchemy import filters
from shapely.geometry import box, shape
from sqlalchemy import (DateTime, and_, cast, false, func, literal_column, not_, null, or_,
                        select, true)
from sqlalchemy.sql import operators
from sqlalchemy.sql.elements import BooleanClauseList, Grouping

from . import cql, filter_types
from ..store.record_tables import RTREE, Record, rtree_day
from .query import EXTERNAL_IDS, GEOMETRY, TEXT, QueryError
from .accents import without_accents
from .sql_text import accent_insensitive, contained_by, glob_pattern, has_value
from .records import OPEN_END, OPEN_START
from .queryables import MULTI_VALUED, QUERYABLES

# open ends of query intervals: the same bounds open-ended records are stored with
NEG_INF, POS_INF = OPEN_START, OPEN_END
_CONVERSE = {'WITHIN': 'CONTAINS', 'CONTAINS': 'WITHIN'}
_SHAPELY_OPS = {'INTERSECTS': 'intersects', 'DISJOINT': 'disjoint', 'CONTAINS': 'contains',
                'WITHIN': 'within', 'TOUCHES': 'touches', 'CROSSES': 'crosses',
                'OVERLAPS': 'overlaps', 'EQUALS': 'equals'}


def column(name: str):
    """The SQL expression of a queryable (or of an internal attribute)."""
    if name == TEXT:
        return Record.search_text
    if name == EXTERNAL_IDS:
        return Record.external_ids
    if name == 'datetime':
        return Record.time_start
    if name == GEOMETRY:
        return Record.geometry
    queryable = QUERYABLES.get(name)
    if queryable is None or queryable.column is None:
        raise QueryError(f'filter: unknown queryable {name!r} (see /queryables)')
    return getattr(Record, queryable.column)


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day, time.max)


def _bounds(node):
    """(start, end) of a temporal operand: SQL expressions, datetimes or open markers."""
    if isinstance(node, ast.Attribute):
        if node.name == 'datetime':
            return Record.time_start, func.coalesce(Record.time_end, Record.time_start)
        col = column(node.name)
        if QUERYABLES[node.name].format != 'date-time':
            raise QueryError(f'filter: {node.name!r} is not a temporal queryable')
        return col, col
    if isinstance(node, values.Interval):
        start, end = node.start, node.end
        if isinstance(start, timedelta) or isinstance(end, timedelta):
            if isinstance(start, timedelta):
                end = _instant(end)
                return end - start, end
            start = _instant(start)
            return start, start + end
        return (NEG_INF if start is None else _bounds(start)[0] if isinstance(
                    start, ast.Attribute) else _start(start),
                POS_INF if end is None else _bounds(end)[1] if isinstance(
                    end, ast.Attribute) else _finish(end))
    if isinstance(node, datetime):
        instant = cql.to_utc(node)
        return instant, instant
    if isinstance(node, date):
        return _start(node), _finish(node)
    raise QueryError(f'filter: {node!r} is not a time instant, interval or temporal queryable')


def _instant(value):
    return cql.to_utc(value)


def _start(value):
    return cql.to_utc(value) if isinstance(value, datetime) else datetime.combine(value, time.min)


def _finish(value):
    return cql.to_utc(value) if isinstance(value, datetime) else _end_of_day(value)


def _cmp(a, op: str, b):
    """a <op> b where either may be a SQL expression or a datetime."""
    sql_a, sql_b = not isinstance(a, datetime), not isinstance(b, datetime)
    if not sql_a and not sql_b:
        result = {'<': a < b, '<=': a <= b, '>': a > b, '>=': a >= b, '=': a == b}[op]
        return true() if result else false()
    if not sql_a:  # keep the column on the left so the bind gets its type
        a, b, op = b, a, {'<': '>', '<=': '>=', '>': '<', '>=': '<=', '=': '='}[op]
    return {'<': a < b, '<=': a <= b, '>': a > b, '>=': a >= b, '=': a == b}[op]


TEMPORAL_RELATIONS = {  # CQL2: relation(A, B) on (A.start, A.end), (B.start, B.end)
    ast.TimeAfter: lambda a, b: [(a[0], '>', b[1])],
    ast.TimeBefore: lambda a, b: [(a[1], '<', b[0])],
    ast.TimeContains: lambda a, b: [(a[0], '<', b[0]), (a[1], '>', b[1])],
    ast.TimeDuring: lambda a, b: [(a[0], '>', b[0]), (a[1], '<', b[1])],
    ast.TimeEquals: lambda a, b: [(a[0], '=', b[0]), (a[1], '=', b[1])],
    ast.TimeEndedBy: lambda a, b: [(a[0], '<', b[0]), (a[1], '=', b[1])],
    ast.TimeEnds: lambda a, b: [(a[0], '>', b[0]), (a[1], '=', b[1])],
    cql.TimeIntersects: lambda a, b: [(a[0], '<=', b[1]), (a[1], '>=', b[0])],
    ast.TimeMeets: lambda a, b: [(a[1], '=', b[0])],
    ast.TimeMetBy: lambda a, b: [(a[0], '=', b[1])],
    ast.TimeOverlappedBy: lambda a, b: [(a[0], '>', b[0]), (a[0], '<', b[1]),
                                         (a[1], '>', b[1])],
    ast.TimeOverlaps: lambda a, b: [(a[0], '<', b[0]), (a[1], '>', b[0]), (a[1], '<', b[1])],
    ast.TimeBegunBy: lambda a, b: [(a[0], '=', b[0]), (a[1], '>', b[1])],
    ast.TimeBegins: lambda a, b: [(a[0], '=', b[0]), (a[1], '<', b[1])],
}


def temporal(node) -> object:
    relation = TEMPORAL_RELATIONS.get(type(node))
    if relation is None:
        raise QueryError(f'filter: unsupported temporal operator {type(node).__name__}')
    a, b = _bounds(node.lhs), _bounds(node.rhs)
    return and_(*[_cmp(x, op, y) for x, op, y in relation(a, b)])


def postgres_interval_intersects(start, end):
    """The record interval overlaps [start, end]: one operator the GiST index
    ix_eoorder_record_geom_time answers (same expression as the index)."""
    def bound(value):
        return cast(null(), DateTime) if value in (NEG_INF, POS_INF) else cast(value, DateTime)
    closed = literal_column("'[]'")
    record = func.tsrange(Record.time_start, func.coalesce(Record.time_end, Record.time_start),
                          closed)
    return and_(Record.time_start.isnot(None),
                record.op('&&')(func.tsrange(bound(start), bound(end), closed)))


def literal_geometry(node):
    """A shapely geometry from a CQL2 geometry literal, envelope or BBOX() function."""
    if isinstance(node, values.Geometry):
        return shape(node.geometry)
    if isinstance(node, values.Envelope):
        return box(node.x1, node.y1, node.x2, node.y2)
    if isinstance(node, ast.Function) and node.name.lower() == 'bbox':
        args = [float(a) for a in node.arguments]
        if len(args) == 6:
            args = [args[0], args[1], args[3], args[4]]
        return box(*args)
    raise QueryError(f'filter: {node!r} is not a geometry literal')


@functools.lru_cache(maxsize=64)
def _prepared(wkb_hex: str):
    geom = shapely.from_wkb(bytes.fromhex(wkb_hex))
    shapely.prepare(geom)
    return geom


def sqlite_spatial(op: str, record_geojson: str | None, query_wkb_hex: str) -> int:
    """SQL function `eoorder_spatial` on SQLite: the exact test with shapely."""
    if record_geojson is None:
        return 0
    query = _prepared(query_wkb_hex)
    record = shapely.from_geojson(record_geojson)
    return int(bool(getattr(query, _SHAPELY_OPS[_CONVERSE.get(op, op)])(record)))


def register_sqlite_functions(dbapi_connection) -> None:
    dbapi_connection.create_function('eoorder_spatial', 3, sqlite_spatial, deterministic=True)
    dbapi_connection.create_function('eoorder_accenti', 1, without_accents, deterministic=True)
    for name, change in (('eoorder_lower', str.lower), ('eoorder_upper', str.upper)):
        dbapi_connection.create_function(
            name, 1, lambda text, change=change: None if text is None else change(str(text)),
            deterministic=True)


GROUPED_FROM = 64  # terms of an AND or OR list (see `combination`)


class Parenthesized(Grouping):
    """An AND or OR list in parentheses that stay (a Grouping is joined into the list of
    the same operator around it)."""
    inherit_cache = True
    operator = None


ARRAY_CONVERSE = {ast.ArrayEquals: ast.ArrayEquals, ast.ArrayOverlaps: ast.ArrayOverlaps,
                  ast.ArrayContains: ast.ArrayContainedBy,
                  ast.ArrayContainedBy: ast.ArrayContains}


# B-tree indexed columns of few distinct values. Next to a PostGIS spatial test they are read
# as filters of the rows the spatial(-temporal) GiST index finds: PostgreSQL costs PostGIS's
# exact tests (ST_Intersects, COST 10000) so high that it would AND in a bitmap of the B-tree
# (e.g. a sixth of the table for one platform) to save them, 200x slower at 1M records.
FILTER_ONLY = frozenset({'platform', 'product_type', 'parent_identifier', 'cloud_cover'})


def is_rectangle(geom) -> bool:
    """An axis-aligned rectangle of non-zero area (a bbox)."""
    return geom.geom_type == 'Polygon' and geom.area > 0 and geom.equals(box(*geom.bounds))


def _conjuncts(clause) -> list:
    if isinstance(clause, BooleanClauseList) and clause.operator is operators.and_:
        return [part for sub in clause.clauses for part in _conjuncts(sub)]
    return [clause]


def exact_tests_last(clause, exact_tests: list):
    """The conjunction with the (Python) exact spatial tests evaluated last: SQLite
    evaluates a WHERE clause's terms in order, and cheap column tests (time, attributes)
    first leave few rows to shapely."""
    if not exact_tests:
        return clause
    costly = {id(test) for test in exact_tests}
    parts = _conjuncts(clause)
    is_exact = [id(p.element if isinstance(p, Grouping) else p) in costly for p in parts]
    return and_(*[p for p, exact in zip(parts, is_exact) if not exact],
                *[p for p, exact in zip(parts, is_exact) if exact])


def _top_conjuncts(node) -> list:
    if isinstance(node, ast.And):
        return _top_conjuncts(node.lhs) + _top_conjuncts(node.rhs)
    return [node]


def _literal_time(node) -> bool:
    """A time or interval given as such (no queryable in it)."""
    return not isinstance(node, ast.Attribute) and not (
        isinstance(node, values.Interval) and any(
            isinstance(end, ast.Attribute) for end in (node.start, node.end)))


RTREE_TIME_MARGIN = 1 / 1440  # days: SQLite reads times to the millisecond


def time_windows(node) -> list[tuple[float | None, float | None]]:
    """The R*Tree time ranges (days since 1970, None: open) of the `T_INTERSECTS(datetime,
    <literal>)` terms the whole query is a conjunction of. A record outside any of them
    matches no such query, whatever its other terms (even under OR or NOT), so every R*Tree
    lookup of the query may ask for them too: the spatial candidates are then those of the
    time window as well (the column tests still decide)."""
    windows = []
    for term in _top_conjuncts(node):
        if not (isinstance(term, cql.TimeIntersects) and isinstance(term.lhs, ast.Attribute)
                and term.lhs.name == 'datetime' and _literal_time(term.rhs)):
            continue
        try:
            start, end = _bounds(term.rhs)
            windows.append((None if start == NEG_INF else rtree_day(start) - RTREE_TIME_MARGIN,
                            None if end == POS_INF else rtree_day(end) + RTREE_TIME_MARGIN))
        except (QueryError, cql.CQLError, TypeError, OverflowError):
            continue  # not a time: the temporal predicate reports it
    return windows


def has_spatial(node) -> bool:
    """The query AST has a spatial predicate (answered by the GiST index on PostGIS)."""
    if isinstance(node, (ast.SpatialComparisonPredicate, ast.BBox)):
        return True
    subnodes = node.get_sub_nodes() if hasattr(node, 'get_sub_nodes') else None
    if isinstance(subnodes, list):
        return any(has_spatial(sub) for sub in subnodes)
    return subnodes is not None and has_spatial(subnodes)


def _multi_valued(node) -> bool:
    return isinstance(node, ast.Attribute) and node.name in MULTI_VALUED


class RecordFilterEvaluator(Evaluator):
    """pygeofilter evaluator producing SQLAlchemy expressions for `eoorder_record`."""

    def __init__(self, dialect: str, postgis: bool, collection: str):
        self.dialect, self.postgis, self.collection = dialect, postgis, collection
        self.filter_only = False
        self.exact_tests: list = []  # SQLite's shapely tests, moved to the end of the AND
        self.time_windows: list = []  # SQLite: asked of the R*Tree with the footprint

    def evaluate(self, node, adopt_result: bool = True):
        if not adopt_result:  # an inner node (the whole AST is evaluated with True)
            return super().evaluate(node, adopt_result)
        filter_types.check(node)  # (QueryError: operands of the wrong kinds)
        self.filter_only = self.postgis and has_spatial(node)
        self.exact_tests = []
        self.time_windows = time_windows(node) if self.dialect == 'sqlite' else []
        return exact_tests_last(super().evaluate(node, adopt_result), self.exact_tests)

    @handle(ast.Not)
    def not_(self, node, sub):
        return filters.negate(sub)

    @handle(ast.And, ast.Or)
    def combination(self, node, lhs, rhs):
        """`lhs AND rhs` (OR); a side of `GROUPED_FROM` terms or more stays in parentheses
        (SQL would join it into one flat list, which SQLite parses as deep as it is long:
        it refuses more than 1000 deep; `cql.balanced` keeps the halves even)."""
        return filters.combine([Parenthesized(side) if isinstance(side, BooleanClauseList)
                                and len(side.clauses) >= GROUPED_FROM else side
                                for side in (lhs, rhs)], node.op.value)

    @handle(ast.Comparison, subclasses=True)
    def comparison(self, node, lhs, rhs):
        for operand in (lhs, rhs):
            if isinstance(operand, (values.Interval, values.Geometry, values.Envelope)):
                raise QueryError('filter: intervals and geometries need temporal or spatial '
                                 'operators')
        if _multi_valued(node.lhs) and node.op.value in ('=', '<>'):
            match = has_value(lhs, rhs)  # any of the values
            return match if node.op.value == '=' else not_(match)
        return filters.runop(lhs, rhs, node.op.value)

    @handle(ast.Between)
    def between(self, node, lhs, low, high):
        return filters.between(lhs, low, high, node.not_)

    @handle(ast.Like)
    def like(self, node, lhs):
        pattern = node.pattern
        if node.wildcard != '%' or node.singlechar not in ('_', '.'):
            pattern = pattern.replace(node.wildcard, '%').replace(node.singlechar, '_')
        sqlite = self.dialect == 'sqlite'  # (its LIKE and lower() fold ASCII letters only)
        if node.nocase:
            expression = func.eoorder_lower(lhs).like(pattern.lower(), escape='\\') \
                if sqlite else lhs.ilike(pattern, escape='\\')
        else:
            expression = lhs.like(pattern, escape='\\')
            if sqlite:
                expression = and_(expression, lhs.op('GLOB')(glob_pattern(pattern)))
        return not_(expression) if node.not_ else expression

    @handle(ast.In)
    def in_(self, node, lhs, *options):
        if _multi_valued(node.lhs):
            match = or_(*[has_value(lhs, option) for option in options])
            return not_(match) if node.not_ else match
        return filters.runop(lhs, list(options), 'in', node.not_)

    @handle(ast.ArrayEquals, ast.ArrayContains, ast.ArrayContainedBy, ast.ArrayOverlaps)
    def array(self, node, lhs, rhs):
        """The array functions on a multi-valued queryable and a list of texts, compared as
        sets (CQL2), in either order (their kinds checked before: `filter_types`)."""
        relation, attribute = type(node), node.lhs
        if isinstance(node.lhs, list):  # the list first: the converse relation
            lhs, rhs, relation, attribute = rhs, lhs, ARRAY_CONVERSE[relation], node.rhs
        held = [has_value(lhs, value) for value in rhs]
        if relation is ast.ArrayContains:
            return and_(true(), *held)
        if relation is ast.ArrayOverlaps:
            return or_(false(), *held)
        within = contained_by(lhs, rhs, wrapped=getattr(attribute, 'name', None) == EXTERNAL_IDS)
        return within if relation is ast.ArrayContainedBy else and_(within, *held)

    @handle(ast.Include)
    def include(self, node):
        """`true` / `false` (INCLUDE / EXCLUDE) as a condition."""
        return false() if node.not_ else true()

    @handle(ast.IsNull)
    def null(self, node, lhs):
        return filters.runop(lhs, None, 'is_null', node.not_)

    @handle(ast.TemporalPredicate, cql.TimeIntersects, subclasses=True)
    def temporal_predicate(self, node, *_):
        if (self.postgis and isinstance(node, cql.TimeIntersects)
                and isinstance(node.lhs, ast.Attribute) and node.lhs.name == 'datetime'
                and _literal_time(node.rhs)):
            return postgres_interval_intersects(*_bounds(node.rhs))
        return temporal(node)

    @handle(ast.SpatialComparisonPredicate, subclasses=True)
    def spatial_predicate(self, node, *_):
        lhs, rhs, op = node.lhs, node.rhs, node.op.name
        if isinstance(rhs, ast.Attribute) and not isinstance(lhs, ast.Attribute):
            lhs, rhs, op = rhs, lhs, _CONVERSE.get(op, op)
        if not (isinstance(lhs, ast.Attribute) and lhs.name == GEOMETRY):
            raise QueryError('filter: spatial operators compare `geometry` with a literal')
        return self.spatial(op, literal_geometry(rhs))

    @handle(ast.BBox)
    def bbox_predicate(self, node, *_):
        return self.spatial('INTERSECTS', box(node.minx, node.miny, node.maxx, node.maxy))

    def spatial(self, op: str, geom) -> object:
        if op not in _SHAPELY_OPS:
            raise QueryError(f'filter: unsupported spatial operator {op}')
        minx, miny, maxx, maxy = geom.bounds
        if self.dialect == 'sqlite':
            exact = func.eoorder_spatial(op, Record.geometry, shapely.to_wkb(geom, hex=True)) == 1
            if op == 'DISJOINT':  # (a record without a geometry: unknown, not disjoint)
                return exact
            if op == 'INTERSECTS' and is_rectangle(geom):  # a footprint inside intersects
                exact = or_(and_(Record.minx >= minx, Record.maxx <= maxx,
                                 Record.miny >= miny, Record.maxy <= maxy), exact)
            self.exact_tests.append(exact)
            return and_(Record.pk.in_(self._rtree_candidates(minx, miny, maxx, maxy)), exact)
        if self.postgis:
            fn = getattr(func, f'ST_{op.capitalize()}')
            return fn(literal_column('eoorder_record.geom'),
                      func.ST_GeomFromText(geom.wkt, 4326))
        # PostgreSQL without PostGIS: bounding boxes only
        overlap = and_(Record.maxx >= minx, Record.minx <= maxx, Record.maxy >= miny,
                       Record.miny <= maxy)
        return not_(overlap) if op == 'DISJOINT' else overlap

    def _rtree_candidates(self, minx, miny, maxx, maxy):
        rtree = _rtree_table()
        terms = [rtree.c.maxx >= minx, rtree.c.minx <= maxx,
                 rtree.c.maxy >= miny, rtree.c.miny <= maxy]
        for start, end in self.time_windows:
            if start is not None:
                terms.append(rtree.c.maxt >= start)
            if end is not None:
                terms.append(rtree.c.mint <= end)
        return select(rtree.c.id).where(*terms)

    @handle(ast.Attribute)
    def attribute(self, node):
        col = column(node.name)
        if self.filter_only and getattr(col, 'key', None) in FILTER_ONLY:
            # the same value in an expression no B-tree index answers (see FILTER_ONLY)
            return col + (0 if col.key == 'cloud_cover' else '')
        return col

    @handle(ast.Arithmetic, subclasses=True)
    def arithmetic(self, node, lhs, rhs):
        return filters.runop(lhs, rhs, node.op.value)

    @handle(ast.Function)
    def function(self, node, *arguments):
        name = node.name.lower()
        if name in ('lower', 'casei', 'upper'):
            upper = name == 'upper'
            if self.dialect == 'sqlite':  # (its own lower() and upper() fold ASCII only)
                return (func.eoorder_upper if upper else func.eoorder_lower)(arguments[0])
            return (func.upper if upper else func.lower)(arguments[0])
        if name == 'accenti':
            return accent_insensitive(arguments[0], self.dialect)
        if name == 'bbox':  # a literal, read by the spatial predicate
            return node
        raise QueryError(f'filter: unsupported function {node.name}')

    @handle(*values.LITERALS)
    def literal(self, node):
        if isinstance(node, datetime):
            return cql.to_utc(node)
        if isinstance(node, date):
            return datetime.combine(node, time.min)
        return node

    @handle(type(None))
    def open_bound(self, node, *_):
        return None

    @handle(values.Interval, values.Geometry, values.Envelope)
    def operand_literal(self, node, *_):
        """Kept as they are: only temporal/spatial predicates (which read nodes) use them."""
        return node


@functools.lru_cache(maxsize=1)
def _rtree_table():
    from sqlalchemy import Column, Float, Integer, MetaData, Table
    return Table(RTREE, MetaData(), Column('id', Integer), Column('minx', Float),
                 Column('maxx', Float), Column('miny', Float), Column('maxy', Float),
                 Column('mint', Float), Column('maxt', Float))


def to_sql(node, dialect: str, postgis: bool, collection: str):
    """The WHERE clause of a query model AST (None: everything)."""
    if node is None:
        return true()
    return RecordFilterEvaluator(dialect, postgis, collection).evaluate(node)

"""OpenSearch parameters to the catalogue's query model (a pygeofilter AST)."""

from __future__ import annotations

from pygeofilter import ast, values
from shapely import wkt as shapely_wkt
from shapely.geometry import Point, mapping

from ..catalogue import eovalues
from ..catalogue.query import (QueryError, bbox_node, combine, datetime_node, list_values,
                               parse_bbox, parse_datetime_value, q_node)


# query parameter -> (OpenSearch parameter, queryable or None, title)
PARAMETERS = {
    'q': ('searchTerms', None, 'words searched in title, description, keywords (comma = or)'),
    'count': ('count', None, 'number of results per page'),
    'startIndex': ('startIndex', None, 'index of the first result (1-based)'),
    'startPage': ('startPage', None, 'page number (1-based)'),
    'bbox': ('geo:box', None, 'west,south,east,north in EPSG:4326'),
    'geometry': ('geo:geometry', None, 'WKT geometry (EPSG:4326) the results intersect'),
    'lat': ('geo:lat', None, 'latitude of a circle centre'),
    'lon': ('geo:lon', None, 'longitude of a circle centre'),
    'radius': ('geo:radius', None, 'circle radius in metres'),
    'uid': ('geo:uid', None, 'record identifier(s), comma-separated'),
    'start': ('time:start', None, 'start of the time of interest (RFC 3339)'),
    'end': ('time:end', None, 'end of the time of interest (RFC 3339)'),
    'relation': ('time:relation', None, 'intersects (default), during, contains, disjoint'),
    'parentIdentifier': ('eo:parentIdentifier', None, 'collection (series) identifier'),
    'platform': ('eo:platform', 'platform', 'platform short name'),
    'instrument': ('eo:instrument', 'instrument', 'instrument short name'),
    'productType': ('eo:productType', 'productType', 'product type'),
    'processingLevel': ('eo:processingLevel', 'processingLevel', 'processing level'),
    'sensorType': ('eo:sensorType', 'sensorType', 'sensor type'),
    'orbitDirection': ('eo:orbitDirection', 'orbitDirection', 'ASCENDING or DESCENDING'),
    'cloudCover': ('eo:cloudCover', 'cloudCover', 'cloud cover %: n, {a,b}, [a,b], ]a,b[, '
                   '[a, ]a, b], b['),
    'orbitNumber': ('eo:orbitNumber', 'orbitNumber', 'orbit number: n, {a,b}, [a,b], ...'),
}
CONTROL = {'httpAccept', 'format'}
RANGE_PATTERN = r'^(\{[^{}]+\}|[\[\]][^,\[\]]+(,[^,\[\]]+[\[\]])?|[^,\[\]{}]+[\[\]]?)$'



# -- parameters to the query model --------------------------------------------------------------
def _circle(args) -> ast.Node:
    try:
        lat, lon = float(args['lat']), float(args['lon'])
        radius = float(args.get('radius', 0) or 0)
    except (KeyError, ValueError):
        raise QueryError('lat: lat and lon (and radius, in metres) must be numbers') from None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or radius < 0:
        raise QueryError('lat: lat/lon out of range or negative radius')
    area = Point(lon, lat).buffer(radius / 111_320.0) if radius else Point(lon, lat)
    return ast.GeometryIntersects(ast.Attribute('geometry'), values.Geometry(mapping(area)))


def _time(args) -> ast.Node | None:
    start, end = args.get('start'), args.get('end')
    relation = (args.get('relation') or 'intersects').lower()
    if relation not in ('intersects', 'during', 'contains', 'disjoint', 'equals'):
        raise QueryError(f'relation: {relation!r} is not one of intersects, during, contains, '
                         'disjoint, equals')
    if not start and not end:
        return None
    low = parse_datetime_value(start, 'start') if start else None
    high = parse_datetime_value(end, 'end') if end else None
    if low and high and high < low:
        raise QueryError('end: before start')
    node = datetime_node(f"{start or '..'}/{end or '..'}", 'start')
    operators = {'intersects': None, 'during': ast.TimeDuring, 'contains': ast.TimeContains,
                 'disjoint': 'disjoint', 'equals': ast.TimeEquals}
    if relation not in operators:
        raise QueryError(f'relation: {relation!r} is not one of {", ".join(operators)}')
    operator = operators[relation]
    interval = values.Interval(low, high)
    if operator is None:
        return node
    if operator == 'disjoint':
        return ast.Not(node)
    return operator(ast.Attribute('datetime'), interval)


def query_model(args, parent_field: bool = True) -> ast.Node | None:
    """The query model of OpenSearch parameters (QueryError names a bad one)."""
    for name in args:
        if name not in PARAMETERS and name not in CONTROL:
            raise QueryError(f'{name}: unknown parameter (see the description document)')
    nodes = []
    if args.get('q', '').strip():
        nodes.append(q_node(args['q']))
    if args.get('bbox'):
        nodes.append(bbox_node(parse_bbox(args['bbox'])))
    if args.get('geometry'):
        try:
            geom = shapely_wkt.loads(args['geometry'])
        except Exception:  # noqa: BLE001 - shapely raises several kinds
            raise QueryError('geometry: not a WKT geometry') from None
        nodes.append(ast.GeometryIntersects(ast.Attribute('geometry'),
                                            values.Geometry(mapping(geom))))
    if args.get('lat') or args.get('lon'):
        nodes.append(_circle(args))
    if args.get('uid'):
        nodes.append(ast.In(ast.Attribute('id'), list_values(args['uid']), False))
    nodes.append(_time(args))
    for name, (_, queryable, _) in PARAMETERS.items():
        if queryable and args.get(name):
            nodes.append(eovalues.parse(queryable, args[name], name))
    if parent_field and args.get('parentIdentifier'):
        nodes.append(ast.Equal(ast.Attribute('parentIdentifier'), args['parentIdentifier']))
    return combine(nodes)


def paging(args, default: int, maximum: int) -> tuple[int, int, int]:
    """(count, startIndex, offset) from count/startIndex/startPage (1-based)."""
    def integer(name, fallback, minimum):
        if args.get(name) in (None, ''):
            return fallback
        try:
            value = int(args[name])
        except ValueError:
            raise QueryError(f'{name}: not an integer: {args[name]!r}') from None
        if value < minimum:
            raise QueryError(f'{name}: must be >= {minimum}')
        return value
    count = min(integer('count', default, 0), maximum)
    start_index = integer('startIndex', 1, 1)
    start_page = integer('startPage', 1, 1)
    return count, start_index, (start_page - 1) * count + (start_index - 1)


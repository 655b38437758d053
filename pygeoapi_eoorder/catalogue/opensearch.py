"""OpenSearch with the Geo, Time and EO extensions (OGC 10-032r8, OGC 13-026r9) at /opensearch.

Two-step search: /opensearch describes the search over collections (series); each entry of
its results links to the description of one collection, /opensearch/collections/{id},
whose template searches that collection's products (`parentIdentifier` selects it in the
first-step endpoint too). Results are Atom or GeoJSON (OGC 17-047), by `httpAccept`.
Every query becomes the shared query model (a pygeofilter AST), run by the SQL provider.

This module is also the catalogue's app hook: `install()` and `openapi_paths()`.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

from flask import Flask, Response, request
from lxml import etree
from pygeofilter import ast, values
from shapely import wkt as shapely_wkt
from shapely.geometry import Point, mapping, shape

from pygeoapi_eoorder.errors import problem

from . import eovalues, http, runtime
from .query import (QueryError, bbox_node, combine, datetime_node, list_values, parse_bbox,
                    parse_datetime_value, q_node)
from .queryables import QUERYABLES
from .records import values_of

NS = {
    None: 'http://a9.com/-/spec/opensearch/1.1/',
    'os': 'http://a9.com/-/spec/opensearch/1.1/',
    'param': 'http://a9.com/-/spec/opensearch/extensions/parameters/1.0/',
    'geo': 'http://a9.com/-/opensearch/extensions/geo/1.0/',
    'time': 'http://a9.com/-/opensearch/extensions/time/1.0/',
    'eo': 'http://a9.com/-/opensearch/extensions/eo/1.0/',
    'atom': 'http://www.w3.org/2005/Atom',
    'georss': 'http://www.georss.org/georss',
    'dc': 'http://purl.org/dc/elements/1.1/',
}
OSDD_TYPE = 'application/opensearchdescription+xml'
ATOM = 'application/atom+xml'
GEOJSON = 'application/geo+json'

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


# -- the app hook -----------------------------------------------------------------------------
def install(app: Flask, api, settings) -> None:
    """Called by pygeoapi_eoorder.app for every web worker."""
    runtime.configure(api.base_url, settings, api.config.get('resources', {}))
    http.install(app, api)
    block = (settings.block.get('catalogue') or {}).get('opensearch') or {}
    if not block.get('enabled', True):
        return
    service = OpenSearch(api, block)
    prefix = ''
    try:
        import pygeoapi.flask_app as flask_app
        prefix = flask_app.API_RULES.get_url_prefix('flask') or ''
    except Exception:  # noqa: BLE001
        pass
    app.add_url_rule(prefix + '/opensearch', 'eoorder.opensearch', service.describe_catalogue)
    app.add_url_rule(prefix + '/opensearch/search', 'eoorder.opensearch_search',
                     service.search_catalogue)
    app.add_url_rule(prefix + '/opensearch/collections/<collection_id>',
                     'eoorder.opensearch_collection', service.describe_collection)
    app.add_url_rule(prefix + '/opensearch/collections/<collection_id>/search',
                     'eoorder.opensearch_collection_search', service.search_collection)


def openapi_paths() -> dict:
    """OpenAPI path items of the OpenSearch routes."""
    def operation(summary, params=(), content=(ATOM, GEOJSON)):
        return {'get': {'summary': summary, 'tags': ['opensearch'],
                        'parameters': [{'name': n, 'in': 'query', 'required': False,
                                        'schema': {'type': 'string'}} for n in params],
                        'responses': {'200': {'description': 'OK', 'content': {
                            c: {'schema': {'type': 'string'}} for c in content}},
                            '400': {'description': 'bad parameter (problem+json)'}}}}
    search_params = list(PARAMETERS) + ['httpAccept']
    collection = {'name': 'collection_id', 'in': 'path', 'required': True,
                  'schema': {'type': 'string'}}
    paths = {
        '/opensearch': operation('OpenSearch description of the catalogue', (), (OSDD_TYPE,)),
        '/opensearch/search': operation('search collections, or products of a '
                                        'parentIdentifier', search_params),
        '/opensearch/collections/{collection_id}': operation(
            'OpenSearch description of one collection', (), (OSDD_TYPE,)),
        '/opensearch/collections/{collection_id}/search': operation(
            'search the products of one collection', search_params),
    }
    for path in ('/opensearch/collections/{collection_id}',
                 '/opensearch/collections/{collection_id}/search'):
        paths[path]['get']['parameters'].insert(0, collection)
    return paths


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


# -- the service --------------------------------------------------------------------------------
class OpenSearch:
    def __init__(self, api, block: dict):
        self.api = api
        self.default_count = int(block.get('default_count', 20))
        self.max_count = int(block.get('max_count', 100))
        self.resources = api.config.get('resources', {})

    @property
    def base(self) -> str:
        """The server's base URL for this request (see `pygeoapi_eoorder.urls`)."""
        return self.api.base_url.rstrip('/')

    # collections served by the SQL provider
    def collections(self) -> dict:
        return {cid: provider for cid in self.resources
                if (provider := http.record_provider(self.resources, cid))
                and provider['name'].endswith('SQLRecordProvider')}

    def provider(self, collection_id: str):
        from .sql_provider import SQLRecordProvider
        definition = self.collections().get(collection_id)
        if definition is None:
            return None
        definition = dict(definition)
        definition.setdefault('collection', runtime.resource_id_of(
            self.collections()[collection_id]) or collection_id)
        return SQLRecordProvider(definition)

    # description documents
    def describe_catalogue(self):
        return self._osdd('EO catalogue', 'Search the catalogue\'s collections; with '
                          'parentIdentifier, the products of one collection.',
                          f'{self.base}/opensearch/search', first_step=True)

    def describe_collection(self, collection_id: str):
        if collection_id not in self.collections():
            return problem(404, 'not-found', f'collection {collection_id!r} not found')
        title = self.resources[collection_id].get('title', collection_id)
        if isinstance(title, dict):
            title = next(iter(title.values()))
        return self._osdd(str(title)[:16], f'Search the products of {collection_id}',
                          f'{self.base}/opensearch/collections/{collection_id}/search',
                          first_step=False, collection_id=collection_id)

    def _osdd(self, short_name, description, endpoint, first_step, collection_id=None):
        root = etree.Element('OpenSearchDescription', nsmap=NS)
        etree.SubElement(root, 'ShortName').text = short_name[:16]
        etree.SubElement(root, 'Description').text = description
        etree.SubElement(root, 'Tags').text = 'EO catalogue OGC'
        options = self._options(collection_id)
        for mime in (ATOM, GEOJSON):
            url = etree.SubElement(root, 'Url', type=mime, rel='results', indexOffset='1',
                                   pageOffset='1')
            pairs = []
            for name, (os_name, _, _) in PARAMETERS.items():
                if name == 'parentIdentifier' and not first_step:
                    continue
                pairs.append(f'{name}={{{os_name}?}}')
            url.set('template', f'{endpoint}?httpAccept={mime.replace("+", "%2B")}&'
                    + '&'.join(pairs))
            for name, (os_name, queryable, title) in PARAMETERS.items():
                if name == 'parentIdentifier' and not first_step:
                    continue
                param = etree.SubElement(url, f'{{{NS["param"]}}}Parameter', name=name,
                                         value=f'{{{os_name}}}', title=title, minimum='0')
                self._describe_parameter(param, name, queryable, options)
        etree.SubElement(root, 'Url', type=OSDD_TYPE, rel='self',
                         template=(f'{self.base}/opensearch' if first_step else
                                   f'{self.base}/opensearch/collections/{collection_id}'))
        etree.SubElement(root, 'Query', role='example', searchTerms='sentinel')
        etree.SubElement(root, 'OutputEncoding').text = 'UTF-8'
        etree.SubElement(root, 'InputEncoding').text = 'UTF-8'
        return Response(etree.tostring(root, xml_declaration=True, encoding='UTF-8',
                                       pretty_print=True), mimetype=OSDD_TYPE)

    def _describe_parameter(self, param, name, queryable, options):
        if name == 'count':
            param.set('minInclusive', '0')
            param.set('maxInclusive', str(self.max_count))
        elif name in ('startIndex', 'startPage'):
            param.set('minInclusive', '1')
        elif name == 'cloudCover':
            param.set('minInclusive', '0')
            param.set('maxInclusive', '100')
            param.set('pattern', RANGE_PATTERN)
        elif name == 'orbitNumber':
            param.set('minInclusive', '0')
            param.set('pattern', RANGE_PATTERN)
        elif name in ('start', 'end'):
            param.set('pattern', r'^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?'
                                 r'(Z|[+-]\d{2}:\d{2}))?$')
        elif name == 'bbox':
            param.set('pattern', r'^-?\d+(\.\d+)?(,-?\d+(\.\d+)?){3}$')
        elif name == 'relation':
            for value in ('intersects', 'during', 'contains', 'disjoint', 'equals'):
                etree.SubElement(param, f'{{{NS["param"]}}}Option', value=value, label=value)
        elif name == 'parentIdentifier':
            for value in sorted(self.collections()):
                etree.SubElement(param, f'{{{NS["param"]}}}Option', value=value, label=value)
        if queryable and QUERYABLES[queryable].enum:
            for value in QUERYABLES[queryable].enum:
                etree.SubElement(param, f'{{{NS["param"]}}}Option', value=value, label=value)
        elif queryable and options.get(queryable):
            for value in options[queryable]:
                etree.SubElement(param, f'{{{NS["param"]}}}Option', value=value, label=value)

    def _options(self, collection_id) -> dict:
        """Values present in the collection, offered as param:Option (platform, ...)."""
        if collection_id is None:
            return {}
        from sqlalchemy import distinct, select

        from .models import Record
        from .visibility import PUBLIC_ONLY, condition
        provider = self.provider(collection_id)
        found = {}
        with provider.repository.store.read() as session:
            for name, column in (('platform', Record.platform),
                                 ('instrument', Record.instrument),
                                 ('productType', Record.product_type),
                                 ('processingLevel', Record.processing_level)):
                found[name] = sorted({value for v in session.execute(
                    select(distinct(column)).where(Record.collection == provider.collection,
                                                   column.isnot(None),
                                                   condition(PUBLIC_ONLY))
                    .order_by(column).limit(50)).scalars() for value in v.split('|')})
        return found

    # searches
    def search_catalogue(self):
        parent = request.args.get('parentIdentifier')
        if parent:
            if parent not in self.collections():
                return problem(400, 'invalid-parameter',
                               f'parentIdentifier: no collection {parent!r}')
            return self._search_products(parent, f'{self.base}/opensearch/search')
        return self._search_collections()

    def search_collection(self, collection_id: str):
        if collection_id not in self.collections():
            return problem(404, 'not-found', f'collection {collection_id!r} not found')
        return self._search_products(
            collection_id, f'{self.base}/opensearch/collections/{collection_id}/search')

    def _search_products(self, collection_id: str, endpoint: str):
        try:
            node = query_model(request.args, parent_field=False)
            count, start_index, offset = paging(request.args, self.default_count,
                                                self.max_count)
            mime = self._mime()
        except QueryError as err:
            return problem(400, 'invalid-parameter', str(err))
        provider = self.provider(collection_id)
        try:
            documents, total = provider.repository.search(node, offset=offset, limit=count)
        except QueryError as err:
            return problem(400, 'invalid-parameter', str(err))
        records = [provider._present(d) for d in documents]
        for record in records:
            record['links'].append({
                'rel': 'alternate', 'type': 'application/geo+json',
                'href': f'{self.base}/collections/{quote(collection_id, safe="")}/items/'
                        f'{quote(record["id"], safe="")}'})
        return self._results(records, total, count, start_index, offset, endpoint, mime,
                             f'{self.base}/opensearch/collections/{collection_id}')

    def _search_collections(self):
        """First step: one entry per collection, each linking to its description."""
        try:
            query_model({k: v for k, v in request.args.items()
                         if k in ('q', 'count', 'startIndex', 'startPage', 'httpAccept')})
            count, start_index, offset = paging(request.args, self.default_count,
                                                self.max_count)
            mime = self._mime()
            for name in request.args:
                if name not in ('q', 'count', 'startIndex', 'startPage', 'bbox') \
                        and name not in CONTROL:
                    raise QueryError(f'{name}: not available for the collection search; '
                                     'give parentIdentifier to search products')
            box = parse_bbox(request.args['bbox']) if request.args.get('bbox') else None
        except QueryError as err:
            return problem(400, 'invalid-parameter', str(err))
        words = [alt.split() for alt in request.args.get('q', '').lower().split(',')
                 if alt.strip()]
        entries = []
        for cid in sorted(self.collections()):
            resource = self.resources[cid]
            text = ' '.join(str(v) for v in [cid, resource.get('title'),
                                              resource.get('description'),
                                              *(resource.get('keywords') or [])]).lower()
            if words and not any(all(w in text for w in alt) for alt in words):
                continue
            extent = ((resource.get('extents') or {}).get('spatial') or {}).get('bbox')
            geometry = None
            if extent:
                west, south, east, north = (extent[0] if isinstance(extent[0], list)
                                            else extent)[:4]
                if box and (east < box[0] or west > box[2] or north < box[1] or south > box[3]):
                    continue
                geometry = mapping(shape({'type': 'Polygon', 'coordinates': [[
                    [west, south], [east, south], [east, north], [west, north],
                    [west, south]]]}))
            title = resource.get('title', cid)
            entries.append({
                'id': cid, 'type': 'Feature', 'geometry': geometry,
                'properties': {'type': 'collection', 'title': title if isinstance(title, str)
                               else next(iter(title.values())),
                               'description': resource.get('description')},
                'links': [{'rel': 'search', 'type': OSDD_TYPE,
                           'href': f'{self.base}/opensearch/collections/{cid}'},
                          {'rel': 'alternate', 'type': 'application/json',
                           'href': f'{self.base}/collections/{cid}'}]})
        total = len(entries)
        page = entries[offset:offset + count]
        return self._results(page, total, count, start_index, offset,
                             f'{self.base}/opensearch/search', mime, f'{self.base}/opensearch')

    def _mime(self) -> str:
        accept = request.args.get('httpAccept') or request.args.get('format') or ATOM
        if accept in ('json', 'geojson', GEOJSON, 'application/json'):
            return GEOJSON
        if accept in ('atom', ATOM):
            return ATOM
        raise QueryError(f'httpAccept: unsupported {accept!r} ({ATOM} or {GEOJSON})')

    # result documents
    def _results(self, records, total, count, start_index, offset, endpoint, mime, osdd):
        params = {k: v for k, v in request.args.items() if k not in ('startIndex', 'startPage')}
        params['httpAccept'] = mime

        def page_url(index):
            return f'{endpoint}?{urlencode({**params, "startIndex": index})}'
        links = {'self': f'{endpoint}?{urlencode(request.args)}' if request.args else endpoint,
                 'first': page_url(1), 'search': osdd}
        if offset + len(records) < total:
            links['next'] = page_url(offset + count + 1)
        if offset > 0:
            links['previous'] = page_url(max(1, offset - count + 1))
        if count:
            links['last'] = page_url(max(1, ((max(total, 1) - 1) // count) * count + 1))
        if mime == GEOJSON:
            return self._geojson(records, total, count, offset, links)
        return self._atom(records, total, count, offset, links)

    def _geojson(self, records, total, count, offset, links):
        features = []
        for record in records:
            props = record.get('properties', {})
            time = record.get('time') or {}
            interval = time.get('interval') or [time.get('timestamp'), time.get('timestamp')]
            feature = {'type': 'Feature', 'id': record['id'], 'geometry': record.get('geometry'),
                       'properties': {
                           'identifier': record['id'], 'title': props.get('title'),
                           'updated': props.get('updated'),
                           'date': '/'.join(v for v in interval if v) or None,
                           'links': _geojson_links(record.get('links', []))}}
            if props.get('type') != 'collection':
                feature['properties']['acquisitionInformation'] = [{
                    'platform': {'platformShortName': props.get('platform')},
                    'instrument': {'instrumentShortName': props.get('instrument')},
                    'acquisitionParameters': {
                        'beginningDateTime': interval[0], 'endingDateTime': interval[1],
                        'orbitNumber': props.get('orbitNumber'),
                        'orbitDirection': props.get('orbitDirection')}}]
                feature['properties']['productInformation'] = {
                    'productType': props.get('productType'),
                    'processingLevel': props.get('processingLevel'),
                    'cloudCover': props.get('cloudCover')}
                feature['properties']['parentIdentifier'] = props.get('parentIdentifier')
            features.append(feature)
        body = {'type': 'FeatureCollection', 'id': links['self'], 'totalResults': total,
                'startIndex': offset + 1, 'itemsPerPage': count,
                'queries': {'request': [dict(request.args)]},
                'properties': {'title': 'Search results', 'links': {
                    rel: [{'href': href}] for rel, href in links.items()}},
                'features': features}
        return Response(json.dumps(body), mimetype=GEOJSON)

    def _atom(self, records, total, count, offset, links):
        atom = NS['atom']
        nsmap = {None: atom, 'os': NS['os'], 'georss': NS['georss'], 'dc': NS['dc'],
                 'eo': NS['eo'], 'geo': NS['geo'], 'time': NS['time']}
        feed = etree.Element(f'{{{atom}}}feed', nsmap=nsmap)
        etree.SubElement(feed, f'{{{atom}}}title').text = 'Search results'
        etree.SubElement(feed, f'{{{atom}}}id').text = _xml(links['self'])
        etree.SubElement(feed, f'{{{atom}}}updated').text = _now()
        author = etree.SubElement(feed, f'{{{atom}}}author')
        etree.SubElement(author, f'{{{atom}}}name').text = 'pygeoapi-eoorder'
        etree.SubElement(feed, f'{{{NS["os"]}}}totalResults').text = str(total)
        etree.SubElement(feed, f'{{{NS["os"]}}}startIndex').text = str(offset + 1)
        etree.SubElement(feed, f'{{{NS["os"]}}}itemsPerPage').text = str(count)
        query = etree.SubElement(feed, f'{{{NS["os"]}}}Query', role='request')
        for name, value in request.args.items():
            if name in PARAMETERS:
                os_name = PARAMETERS[name][0]
                prefix, _, local = os_name.rpartition(':')
                query.set(f'{{{NS[prefix]}}}{local}' if prefix else local, _xml(value))
        for rel, href in links.items():
            etree.SubElement(feed, f'{{{atom}}}link', rel=rel, href=_xml(href),
                             type=OSDD_TYPE if rel == 'search' else ATOM)
        for record in records:
            feed.append(_atom_entry(record))
        return Response(etree.tostring(feed, xml_declaration=True, encoding='UTF-8'),
                        mimetype=ATOM)


_NOT_XML = re.compile('[^\u0009\u000a\u000d\u0020-\ud7ff\ue000-\ufffd'
                      '\U00010000-\U0010ffff]')


def _xml(value) -> str:
    """Text XML 1.0 can carry (control characters in queries or records are dropped)."""
    return _NOT_XML.sub('', str(value))


def _now() -> str:
    from datetime import datetime, timezone
    return datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _geojson_links(links: list[dict]) -> dict:
    groups = {'enclosure': 'data', 'alternate': 'alternates', 'preview': 'previews',
              'search': 'search', 'order': 'order'}
    found: dict = {}
    for link in links:
        key = groups.get(link.get('rel'), 'related')
        found.setdefault(key, []).append({k: v for k, v in link.items() if k != 'rel'})
    return found


def _georss(entry, geometry: dict | None) -> None:
    """GeoRSS of a footprint: a point, a polygon per polygon part (a product split at the
    antimeridian is two polygons, never one whole-globe box), else a box per part."""
    if not geometry:
        return
    geom = shape(geometry)
    parts = list(getattr(geom, 'geoms', [geom]))
    for part in parts:
        if part.is_empty:
            continue
        if part.geom_type == 'Point':
            etree.SubElement(entry, f'{{{NS["georss"]}}}point').text = f'{part.y} {part.x}'
        elif part.geom_type == 'Polygon':
            etree.SubElement(entry, f'{{{NS["georss"]}}}polygon').text = ' '.join(
                f'{y} {x}' for x, y, *_ in part.exterior.coords)
        else:
            west, south, east, north = part.bounds
            etree.SubElement(entry, f'{{{NS["georss"]}}}box').text = \
                f'{south} {west} {north} {east}'


def atom_id(record: dict) -> str:
    """atom:id is an IRI: the record's own URL (its alternate or self link), the record id
    when it already is an absolute IRI, else a URN made of it."""
    for rel in ('self', 'alternate'):
        for link in record.get('links', []):
            if link.get('rel') == rel and str(link.get('href', '')).startswith(
                    ('http://', 'https://')):
                return link['href']
    identifier = str(record['id'])
    if re.match(r'^[A-Za-z][A-Za-z0-9+.-]*:\S+$', identifier):
        return identifier
    return f'urn:eoorder:record:{quote(identifier, safe="")}'


def _atom_entry(record: dict):
    atom = NS['atom']
    props = record.get('properties', {})
    entry = etree.Element(f'{{{atom}}}entry')
    etree.SubElement(entry, f'{{{atom}}}id').text = _xml(atom_id(record))
    etree.SubElement(entry, f'{{{atom}}}title').text = _xml(props.get('title') or record['id'])
    etree.SubElement(entry, f'{{{atom}}}updated').text = _xml(props.get('updated') or _now())
    if props.get('description'):
        etree.SubElement(entry, f'{{{atom}}}summary').text = _xml(props['description'])
    etree.SubElement(entry, f'{{{NS["dc"]}}}identifier').text = _xml(record['id'])
    time = record.get('time') or {}
    if time.get('interval') or time.get('timestamp'):
        interval = time.get('interval') or [time['timestamp'], time['timestamp']]
        etree.SubElement(entry, f'{{{NS["dc"]}}}date').text = _xml('/'.join(
            v for v in interval if v))
    for keyword in values_of(props.get('keywords')):
        etree.SubElement(entry, f'{{{atom}}}category', term=_xml(keyword))
    _georss(entry, record.get('geometry'))
    for name in ('parentIdentifier', 'platform', 'instrument', 'productType', 'processingLevel',
                 'cloudCover', 'orbitNumber', 'orbitDirection'):
        for value in values_of(props.get(name)):  # one element per value
            etree.SubElement(entry, f'{{{NS["eo"]}}}{name}').text = _xml(value)
    for link in record.get('links', []):
        attributes = {'rel': _xml(link.get('rel', 'related')),
                      'href': _xml(link.get('href', ''))}
        for key in ('type', 'title'):
            if link.get(key):
                attributes[key] = _xml(link[key])
        etree.SubElement(entry, f'{{{atom}}}link', **attributes)
    return entry

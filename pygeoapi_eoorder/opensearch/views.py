"""The OpenSearch routes: description documents and the two search steps."""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

from flask import Response, request
from lxml import etree
from shapely.geometry import mapping, shape

from ..catalogue import runtime
from ..catalogue.collections import sql_collections
from ..catalogue.query import QueryError, parse_bbox
from ..catalogue.queryables import QUERYABLES
from ..web.problem import problem
from .encode import ATOM, GEOJSON, NS, OSDD_TYPE, _atom_entry, _geojson_links, _now, _xml
from .query import CONTROL, PARAMETERS, RANGE_PATTERN, paging, query_model


class OpenSearch:
    def __init__(self, api, block: dict):
        self.api = api
        self.default_count = int(block.get('default_count', 20))
        self.max_count = int(block.get('max_count', 100))

    @property
    def resources(self) -> dict:
        """The caller's collections (with the workspace collections it may see)."""
        return self.api.config.get('resources', {})

    @property
    def base(self) -> str:
        """The server's base URL for this request (see `pygeoapi_eoorder.urls`)."""
        return self.api.base_url.rstrip('/')

    # collections served by the SQL provider
    def collections(self) -> dict:
        return sql_collections(self.resources)

    def provider(self, collection_id: str):
        from ..catalogue.sql_provider import SQLRecordProvider
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

        from ..store.record_tables import Record
        from ..catalogue.visibility import PUBLIC_ONLY, condition
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


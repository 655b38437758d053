"""The STAC API's own documents: landing page, conformance, collections, queryables and
a small OpenAPI description of its paths."""

from __future__ import annotations

from urllib.parse import quote

from ..catalogue import cql
from ..catalogue.queryables import QUERYABLES
from .items import RECORD_TO_STAC, STAC_VERSION

GEOJSON, JSON = 'application/geo+json', 'application/json'
OPENAPI_TYPE = 'application/vnd.oai.openapi+json;version=3.0'
QUERYABLES_REL = 'http://www.opengis.net/def/rel/ogc/1.0/queryables'
STAC = 'https://api.stacspec.org/v1.0.0/'
CONFORMANCE = [
    STAC + 'core',
    STAC + 'collections',
    STAC + 'ogcapi-features',
    STAC + 'ogcapi-features#fields',
    STAC + 'ogcapi-features#sort',
    STAC + 'ogcapi-features/extensions/transaction',
    STAC + 'item-search',
    STAC + 'item-search#fields',
    STAC + 'item-search#sort',
    'https://api.stacspec.org/v1.0.0-rc.2/item-search#filter',
    'https://api.stacspec.org/v1.0.0-rc.2/ogcapi-features#filter',
    'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core',
    'http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson',
    'http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter',
    'http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter',
    'http://www.opengis.net/spec/ogcapi-features-4/1.0/conf/create-replace-delete',
    *cql.CONFORMANCE,
]


def landing(base: str, collections: dict, title: str, description: str) -> dict:
    links = [
        {'rel': 'self', 'type': JSON, 'href': base},
        {'rel': 'root', 'type': JSON, 'href': base},
        {'rel': 'conformance', 'type': JSON, 'href': f'{base}/conformance'},
        {'rel': 'data', 'type': JSON, 'href': f'{base}/collections'},
        {'rel': 'search', 'type': GEOJSON, 'href': f'{base}/search', 'method': 'GET'},
        {'rel': 'search', 'type': GEOJSON, 'href': f'{base}/search', 'method': 'POST'},
        {'rel': QUERYABLES_REL, 'type': 'application/schema+json',
         'href': f'{base}/queryables'},
        {'rel': 'service-desc', 'type': OPENAPI_TYPE, 'href': f'{base}/api'},
        {'rel': 'service-doc', 'type': 'text/html', 'href': f'{base}/api.html'},
    ]
    for cid, resource in collections.items():
        links.append({'rel': 'child', 'type': JSON, 'title': resource.get('title') or cid,
                      'href': f'{base}/collections/{quote(cid, safe="")}'})
    return {'type': 'Catalog', 'stac_version': STAC_VERSION, 'id': 'eoorder-catalogue',
            'title': title, 'description': description, 'conformsTo': CONFORMANCE,
            'links': links}


def _text(value, default: str) -> str:
    if isinstance(value, dict):  # pygeoapi's per-language values
        value = value.get('en') or next(iter(value.values()), None)
    return str(value) if value else default


def _temporal(extents: dict) -> list:
    temporal = extents.get('temporal') or {}

    def iso(value):
        if value in (None, '', '..'):
            return None
        text = value.isoformat() if hasattr(value, 'isoformat') else str(value)
        return text if 'T' in text else text + 'T00:00:00Z'
    return [[iso(temporal.get('begin')), iso(temporal.get('end'))]]


def collection(base: str, cid: str, resource: dict) -> dict:
    url = f'{base}/collections/{quote(cid, safe="")}'
    extents = resource.get('extents') or {}
    bbox = (extents.get('spatial') or {}).get('bbox') or [-180, -90, 180, 90]
    keywords = resource.get('keywords')
    if isinstance(keywords, dict):
        keywords = keywords.get('en') or next(iter(keywords.values()), [])
    document = {
        'type': 'Collection', 'stac_version': STAC_VERSION, 'stac_extensions': [],
        'id': cid, 'title': _text(resource.get('title'), cid),
        'description': _text(resource.get('description'), cid),
        'license': str(resource.get('license') or 'other'),
        'extent': {'spatial': {'bbox': [list(bbox)]},
                   'temporal': {'interval': _temporal(extents)}},
        'links': [
            {'rel': 'self', 'type': JSON, 'href': url},
            {'rel': 'root', 'type': JSON, 'href': base},
            {'rel': 'parent', 'type': JSON, 'href': base},
            {'rel': 'items', 'type': GEOJSON, 'href': f'{url}/items'},
            {'rel': QUERYABLES_REL, 'type': 'application/schema+json',
             'href': f'{url}/queryables'}],
    }
    if keywords:
        document['keywords'] = [str(k) for k in keywords]
    return document


def collections(base: str, resources: dict) -> dict:
    return {'collections': [collection(base, cid, r) for cid, r in resources.items()],
            'links': [{'rel': 'self', 'type': JSON, 'href': f'{base}/collections'},
                      {'rel': 'root', 'type': JSON, 'href': base},
                      {'rel': 'parent', 'type': JSON, 'href': base}],
            'numberMatched': len(resources), 'numberReturned': len(resources)}


def _schema(name: str) -> dict:
    q = QUERYABLES[name]
    schema: dict = {'title': q.description, 'type': q.type}
    if q.format:
        schema['format'] = q.format
    if q.enum:
        schema['enum'] = [v.lower() for v in q.enum] if name == 'orbitDirection' \
            else list(q.enum)
    if q.array:
        schema = {'title': q.description, 'type': 'array', 'items': {'type': q.type}}
    return schema


def queryables(url: str) -> dict:
    """The queryables under their STAC names (the catalogue's own names for the others)."""
    props: dict = {
        'id': {'title': 'item identifier', 'type': 'string'},
        'collection': {'title': 'collection identifier', 'type': 'string'},
        'geometry': {'title': 'footprint',
                     '$ref': 'https://geojson.org/schema/Geometry.json'},
    }
    for name in QUERYABLES:
        if name not in ('id',):
            props[RECORD_TO_STAC.get(name, name)] = _schema(name)
    return {'$schema': 'https://json-schema.org/draft/2019-09/schema', '$id': url,
            'type': 'object', 'title': 'Queryables of the catalogue',
            'properties': props, 'additionalProperties': True}


def _operation(summary: str, media_type: str = GEOJSON, *names: str) -> dict:
    operation = {'summary': summary, 'tags': ['STAC API'], 'responses': {'200': {
        'description': summary, 'content': {media_type: {}}}}}
    if names:
        operation['parameters'] = [{'name': name, 'in': 'path', 'required': True,
                                    'schema': {'type': 'string'}} for name in names]
    return operation


def paths() -> dict:
    """The STAC API's paths (relative to its root) as OpenAPI path items."""
    cid, iid = 'collectionId', 'itemId'
    collection, items = '/collections/{collectionId}', '/collections/{collectionId}/items'
    item = items + '/{itemId}'
    return {
        '/': {'get': _operation('landing page', JSON)},
        '/conformance': {'get': _operation('conformance classes', JSON)},
        '/queryables': {'get': _operation('queryables', 'application/schema+json')},
        '/collections': {'get': _operation('collections', JSON)},
        collection: {'get': _operation('a collection', JSON, cid)},
        collection + '/queryables': {'get': _operation(
            'queryables of a collection', 'application/schema+json', cid)},
        items: {'get': _with_query(_operation('items of a collection', GEOJSON, cid)),
                'post': _operation('add items (transactions)', GEOJSON, cid)},
        item: {'get': _operation('an item', GEOJSON, cid, iid),
               'put': _operation('replace an item', GEOJSON, cid, iid),
               'patch': _operation('update an item', GEOJSON, cid, iid),
               'delete': _operation('delete an item', GEOJSON, cid, iid)},
        '/search': {'get': _operation('item search'), 'post': _operation('item search')},
    }


def _with_query(operation: dict) -> dict:
    """An item listing's main query parameters (STAC API - Features; all of
    `params.GET_PARAMETERS` are accepted)."""
    number = {'type': 'number'}
    operation['parameters'] += [
        {'name': 'limit', 'in': 'query', 'required': False, 'style': 'form', 'explode': False,
         'schema': {'type': 'integer', 'minimum': 1}},
        {'name': 'bbox', 'in': 'query', 'required': False, 'style': 'form', 'explode': False,
         'schema': {'type': 'array', 'minItems': 4, 'maxItems': 6, 'items': number}},
        {'name': 'datetime', 'in': 'query', 'required': False, 'style': 'form',
         'explode': False, 'schema': {'type': 'string'}}]
    return operation


def openapi(base: str) -> dict:
    """A short OpenAPI 3.0 description of the STAC API's paths."""
    return {'openapi': '3.0.3',
            'info': {'title': 'STAC API of the catalogue', 'version': '1.0.0'},
            'servers': [{'url': base}], 'paths': paths()}

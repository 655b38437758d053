"""HTTP glue for record collections served by this package.

- checks Records query parameters before pygeoapi sees them, answering 400 problem+json that
  names the parameter (pygeoapi's own messages say "Bad CQL text" or nothing useful);
- gives pygeoapi's items view our CQL2 parsers (function-style temporal operators, open
  intervals, cql2-json in a GET `filter`; see :mod:`.cql`);
- adds /collections/{id}/sortables and the final Records 1.0 conformance classes.
"""

from __future__ import annotations

import json

from flask import Flask, Response, request

from pygeoapi_eoorder.errors import problem
from pygeoapi_eoorder.web import nesting

from . import cql, encodings
from .query import (QueryError, check_queryables, datetime_node, list_values,
                    parse_bbox, q_node, typed_value)
from .queryables import EXTRA_PARAMETERS, QUERYABLES, SORT_COLUMNS

PROVIDER_PREFIX = 'pygeoapi_eoorder.catalogue.'
RESERVED = {'bbox', 'bbox-crs', 'crs', 'f', 'lang', 'limit', 'offset', 'resulttype',
            'datetime', 'sortby', 'properties', 'skipGeometry', 'q', 'filter', 'filter-lang',
            'filter-crs', 'profile'}
CONFORMANCE = [
    'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/record-core',
    'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/record-collection',
    'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/records-api',
    'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/record-core-query-parameters',
    'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/cql-filter',
    'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/searchable-catalog',
    'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/searchable-catalog/filtering',
    'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/searchable-catalog/sorting',
    'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/sorting',
    'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/json',
    'http://www.opengis.net/spec/ogcapi-records-1/1.0/conf/html',
    'http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter',
    'http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/features-filter',
    'http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables',
    'http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/queryables-query-parameters',
    'http://www.opengis.net/spec/cql2/1.0/conf/cql2-text',
    'http://www.opengis.net/spec/cql2/1.0/conf/cql2-json',
    'http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2',
    'http://www.opengis.net/spec/cql2/1.0/conf/advanced-comparison-operators',
    'http://www.opengis.net/spec/cql2/1.0/conf/case-insensitive-comparison',
    'http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions',
    'http://www.opengis.net/spec/cql2/1.0/conf/basic-spatial-functions-plus',
    'http://www.opengis.net/spec/cql2/1.0/conf/spatial-functions',
    'http://www.opengis.net/spec/cql2/1.0/conf/temporal-functions',
]
RECORDS_PREFIX = 'http://www.opengis.net/spec/ogcapi-records-1/'


def conformance_classes(declared: list[str]) -> list[str]:
    """Ours, plus pygeoapi's except Records URIs the current Records draft does not define
    (pygeoapi declares e.g. .../conf/core and .../conf/opensearch)."""
    kept = {uri for uri in declared if not uri.startswith(RECORDS_PREFIX)}
    return sorted(kept | set(CONFORMANCE))


def record_provider(resources: dict, collection_id: str) -> dict | None:
    """The record provider definition of a collection, if it is one of ours."""
    resource = resources.get(collection_id) or {}
    for provider in resource.get('providers', []) or []:
        if provider.get('type') == 'record' and str(provider.get('name', '')).startswith(
                PROVIDER_PREFIX):
            return provider
    return None


def check_items_parameters(args) -> None:
    """Raise QueryError (naming the parameter) for any bad Records query parameter."""
    for name in ('limit', 'offset'):
        if name in args:
            try:
                value = int(args[name])
            except ValueError:
                raise QueryError(f'{name}: not an integer: {args[name]!r}') from None
            if value < (1 if name == 'limit' else 0):
                raise QueryError(f'{name}: must be >= {1 if name == "limit" else 0}')
    if 'bbox' in args:
        parse_bbox(args['bbox'])
    if 'datetime' in args:
        datetime_node(args['datetime'])
    if 'q' in args and args['q'].strip():
        q_node(args['q'])
    lang = args.get('filter-lang')
    if lang not in (None, 'cql2-text', 'cql2-json', 'cql-text', 'cql-json'):
        raise QueryError(f'filter-lang: unsupported language {lang!r} (cql2-text, cql2-json)')
    if 'filter' in args:
        try:
            node = cql.parse(args['filter'], lang)
        except cql.CQLError as err:
            raise QueryError(f'filter: {err}') from None
        check_queryables(node)
        from .sql import to_sql  # translation errors (bad operand types) are 400 too
        to_sql(node, 'sqlite', False, '')
    for sort in list_values(args.get('sortby', '')):
        name = sort.lstrip('+-')
        if name not in SORT_COLUMNS:
            raise QueryError(f'sortby: {name!r} is not sortable (see /sortables)')
    for name, value in args.items():
        if name in RESERVED or name in EXTRA_PARAMETERS:
            continue
        if name not in QUERYABLES or name == 'datetime':
            raise QueryError(f'{name}: unknown query parameter (see /queryables)')
        for item in list_values(value):
            typed_value(name, item, name)


def _check_cql_json_body() -> None:
    """A POSTed CQL2-JSON search: check it, and make sure pygeoapi treats it as a search.

    Clients such as OWSLib keep the `application/geo+json` content type of an earlier
    create for a later CQL2-JSON search; a body with `op` (and no record `type`) is a filter.
    """
    data = request.get_data(cache=True) or b'null'
    try:
        nesting.check_json_depth(data, cql.MAX_DEPTH)
    except nesting.TooDeep as err:
        raise QueryError(f'request body: {err}') from None
    try:
        body = json.loads(data)
    except ValueError:
        return
    if not isinstance(body, dict) or 'op' not in body or body.get('type') == 'Feature':
        return
    request.environ['CONTENT_TYPE'] = 'application/query-cql-json'
    try:
        node = cql.parse_json(body)
    except cql.CQLError as err:
        raise QueryError(f'filter: {err}') from None
    check_queryables(node)


def sortables_document(collection_id: str, base_url: str) -> dict:
    props = {}
    for name in SORT_COLUMNS:
        q = QUERYABLES[name]
        props[name] = {'title': q.description, 'type': q.type}
        if q.format:
            props[name]['format'] = q.format
    return {'$schema': 'https://json-schema.org/draft/2020-12/schema',
            '$id': f'{base_url}/collections/{collection_id}/sortables',
            'type': 'object', 'title': f'{collection_id} sortables', 'properties': props}


def _same_crs_shortcut(transform):
    """pygeoapi builds a pyproj Transformer for every bbox (~20 ms), even CRS84 to CRS84."""
    def transform_bbox(bbox, from_crs, to_crs, *args, **kwargs):
        if isinstance(from_crs, str) and from_crs == to_crs:
            return list(bbox)
        return transform(bbox, from_crs, to_crs, *args, **kwargs)
    transform_bbox.__wrapped__ = transform
    return transform_bbox


def install(app: Flask, api) -> None:
    """Hook our checks, parsers, routes and conformance classes into the app."""
    import pygeoapi.api.itemtypes as itemtypes
    itemtypes.parse_cql2_text = cql.parse_text
    itemtypes.parse_cql2_json = cql.parse_json
    if not hasattr(itemtypes.transform_bbox, '__wrapped__'):
        itemtypes.transform_bbox = _same_crs_shortcut(itemtypes.transform_bbox)
    resources = api.config.get('resources', {})
    encodings.install(app, lambda cid: bool(cid and record_provider(resources, cid)))

    @app.before_request
    def _check_record_query():
        if request.endpoint != 'pygeoapi.collection_items' or request.method not in ('GET',
                                                                                     'POST'):
            return None
        view_args = request.view_args or {}
        if view_args.get('item_id') or not record_provider(resources,
                                                           view_args.get('collection_id')):
            return None
        try:
            if request.method == 'POST':
                _check_cql_json_body()
            else:
                check_items_parameters(request.args)
        except QueryError as err:
            return problem(400, 'invalid-parameter', str(err))
        return None

    prefix = ''
    try:
        import pygeoapi.flask_app as flask_app
        prefix = flask_app.API_RULES.get_url_prefix('flask') or ''
    except Exception:  # noqa: BLE001 - prefix is optional
        pass

    def sortables(collection_id: str):
        if not record_provider(resources, collection_id):
            return problem(404, 'not-found', f'collection {collection_id!r} has no sortables')
        body = sortables_document(collection_id, api.base_url.rstrip('/'))
        return Response(json.dumps(body), mimetype='application/schema+json')

    app.add_url_rule(prefix + '/collections/<path:collection_id>/sortables',
                     'eoorder.catalogue_sortables', sortables, methods=['GET'])

    views = app.view_functions
    conformance_before = views['pygeoapi.conformance']

    def conformance_view():
        response = conformance_before()
        if response.status_code == 200 and response.mimetype == 'application/json':
            body = json.loads(response.get_data())
            body['conformsTo'] = conformance_classes(body['conformsTo'])
            response.set_data(json.dumps(body))
        return response

    if any(record_provider(resources, cid) for cid in resources):
        views['pygeoapi.conformance'] = conformance_view

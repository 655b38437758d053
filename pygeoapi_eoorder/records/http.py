"""The OGC API - Records adapter: this package's record collections on pygeoapi's routes.

- searches of our record collections (`/collections/{id}/items`, GET and CQL2-JSON POST) are
  answered with the catalogue's query model and CQL2 parsers (:mod:`.items`), after the
  parameters are checked (:mod:`.checks`); single records and transactions stay pygeoapi's;
- /collections/{id}/sortables, the Records encodings pygeoapi leaves out (:mod:`.encodings`)
  and the final Records 1.0 conformance classes.
"""

from __future__ import annotations

import json

from flask import Flask, Response, request

from ..catalogue import cql
from ..catalogue.collections import record_provider
from ..catalogue.query import QueryError
from ..catalogue.queryables import QUERYABLES, SORT_COLUMNS
from ..web.problem import problem
from ..web.pygeoapi_routes import PygeoapiRoutes
from . import encodings, items
from .checks import check_items_parameters, is_search_body

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
    *cql.CONFORMANCE,
]
RECORDS_PREFIX = 'http://www.opengis.net/spec/ogcapi-records-1/'


def conformance_classes(declared: list[str]) -> list[str]:
    """Ours, plus pygeoapi's except Records URIs the current Records draft does not define
    (pygeoapi declares e.g. .../conf/core and .../conf/opensearch)."""
    kept = {uri for uri in declared if not uri.startswith(RECORDS_PREFIX)}
    return sorted(kept | set(CONFORMANCE))


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


class RecordItems:
    """The items view: searches of our record collections here, the rest pygeoapi's."""

    def __init__(self, routes: PygeoapiRoutes):
        self.routes = routes

    @property
    def resources(self) -> dict:
        """The caller's collections (with the workspace collections it may see)."""
        return self.routes.api.config.get('resources', {})

    def view(self, collection_id: str, item_id: str | None = None):
        provider_def = record_provider(self.resources, collection_id)
        if item_id is not None or provider_def is None or \
                request.method not in ('GET', 'POST'):
            return self.routes.collection_items(collection_id, item_id)
        try:
            if request.method == 'POST' and not is_search_body(request):
                return self.routes.collection_items(collection_id)  # a new record
            if request.method == 'GET':
                check_items_parameters(request.args)
        except QueryError as err:
            return problem(400, 'invalid-parameter', str(err))
        return self.routes.call(
            lambda api, api_request: items.search(api, api_request, collection_id,
                                                  provider_def), skip_valid_check=True)


def install(app: Flask, routes: PygeoapiRoutes) -> None:
    """Serve our record collections' searches, sortables, encodings and conformance."""
    api = routes.api
    resources = api.config.get('resources', {})  # the configured ones
    encodings.install(app, lambda cid: bool(cid and record_provider(
        api.config.get('resources', {}), cid)))
    routes.serve('collection_items', RecordItems(routes).view)

    def sortables(collection_id: str):
        if not record_provider(api.config.get('resources', {}), collection_id):
            return problem(404, 'not-found', f'collection {collection_id!r} has no sortables')
        body = sortables_document(collection_id, api.base_url.rstrip('/'))
        return Response(json.dumps(body), mimetype='application/schema+json')

    app.add_url_rule(routes.prefix + '/collections/<path:collection_id>/sortables',
                     'eoorder.catalogue_sortables', sortables, methods=['GET'])
    if any(record_provider(resources, cid) for cid in resources):
        routes.conformance_filters.append(conformance_classes)

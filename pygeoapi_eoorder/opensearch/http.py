"""The OpenSearch app hook: `install(app, api, settings)` and `openapi_paths()`."""

from __future__ import annotations

from flask import Flask

from ..web.pygeoapi_routes import url_prefix
from .encode import ATOM, GEOJSON, OSDD_TYPE
from .query import PARAMETERS
from .views import OpenSearch


def install(app: Flask, api, settings) -> None:
    """Called by pygeoapi_eoorder.app for every web worker."""
    block = (settings.block.get('catalogue') or {}).get('opensearch') or {}
    if not block.get('enabled', True):
        return
    service = OpenSearch(api, block)
    prefix = url_prefix(api.config)
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


"""pygeoapi's OGC API routes, served by a Flask blueprint of ours.

pygeoapi 0.24's own `pygeoapi.flask_app` builds one global app from $PYGEOAPI_CONFIG when
it is imported, so a process could hold only one app, and changing what a route does meant
replacing its view afterwards. Its route table is thin, though: every view calls a
framework-neutral function of `pygeoapi.api` (`(api, APIRequest, *args) -> (headers,
status, content)`). This module is that table, over the API object and configuration it is
given: the product's adapters choose the view of an endpoint (`serve`) before the blueprint
is registered, and may call pygeoapi's function from their own view (`call`).

Kept from pygeoapi's flask_app: endpoint names (`pygeoapi.<view>`), the API rules' URL
prefix and strict slashes, the static folder (`server.templates.static`), CORS when
`server.cors` (flask-cors), `server.pretty_print`, local OGC schemas
(`server.ogc_schemas_location`). Not supported: the admin API (`server.admin`), refused at
start with a ConfigError (it rewrites the configuration file of a running server).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Callable

from flask import Blueprint, Flask, Request, Response, make_response, request, send_from_directory

import pygeoapi
import pygeoapi.api as core_api
import pygeoapi.api.coverages as coverages_api
import pygeoapi.api.environmental_data_retrieval as edr_api
import pygeoapi.api.itemtypes as itemtypes_api
import pygeoapi.api.maps as maps_api
import pygeoapi.api.processes as processes_api
import pygeoapi.api.stac as stac_api
import pygeoapi.api.tiles as tiles_api
from pygeoapi.api import APIRequest, apply_gzip
from pygeoapi.util import get_api_rules, get_mimetype
from werkzeug.datastructures import Headers

from ..config import ConfigError
from .problem import problem

PYGEOAPI_DIR = Path(pygeoapi.__file__).resolve().parent
GET = ('GET',)
EDR_QUERIES = ('position', 'area', 'cube', 'radius', 'trajectory', 'corridor')


def url_prefix(config: dict) -> str:
    """The API rules' URL prefix of the Flask routes (e.g. '/v1'; '' without one)."""
    return get_api_rules(config).get_url_prefix('flask') or ''


def static_folder(config: dict) -> str:
    """pygeoapi's static folder (`server.templates.static`, relative to pygeoapi)."""
    folder = (config['server'].get('templates') or {}).get('static', 'static')
    return str(PYGEOAPI_DIR / folder)


def check_supported(config: dict) -> None:
    """Refuse what this route table does not serve."""
    if config['server'].get('admin'):
        raise ConfigError('server.admin: the pygeoapi admin API is not supported; fix: '
                          'remove server.admin (edit the configuration file and restart)')


class PygeoapiRoutes:
    """pygeoapi's route table for one API object; views can be chosen per endpoint."""

    def __init__(self, api):
        self.api = api
        self.config = api.config
        self.prefix = url_prefix(api.config)
        self.conformance_filters: list[Callable[[list[str]], list[str]]] = []
        self._views: dict[str, Callable] = {
            name: getattr(self, name) for name, _ in self.rules()}

    # -- composition ------------------------------------------------------------
    def serve(self, endpoint: str, view: Callable) -> None:
        """Answer `pygeoapi.<endpoint>` with `view` (call before `register`)."""
        if endpoint not in self._views:
            raise KeyError(f'pygeoapi has no endpoint {endpoint!r}')
        self._views[endpoint] = view

    def register(self, app: Flask) -> None:
        """Add the blueprint (endpoints `pygeoapi.*`) and pygeoapi's app settings."""
        check_supported(self.config)
        app.url_map.strict_slashes = get_api_rules(self.config).strict_slashes
        app.config['JSONIFY_PRETTYPRINT_REGULAR'] = self.config['server'].get(
            'pretty_print', True)
        if self.config['server'].get('cors', False):
            from flask_cors import CORS

            from .cors import AUTH, open_to_all
            if open_to_all(app.extensions[AUTH]):
                raise ConfigError('server.cors: with the `none` authenticator (or anonymous '
                                  'callers with an admin role) any web page could act and '
                                  'read as the local admin; fix: configure authenticators '
                                  '(eoorder.auth) or remove server.cors')
            CORS(app, expose_headers='*')
        blueprint = Blueprint('pygeoapi', __name__, static_folder=static_folder(self.config),
                              url_prefix=self.prefix)
        for endpoint, rules in self.rules():
            for rule, options in rules:
                blueprint.add_url_rule(rule, endpoint, self._views[endpoint], **options)
        app.register_blueprint(blueprint)

    def call(self, function: Callable, *args, skip_valid_check: bool = False,
             flask_request: Request | None = None) -> Response:
        """Run a pygeoapi API function for the current request (as flask_app does)."""
        api_request = APIRequest.from_flask(flask_request or request, self.api.locales)
        if not skip_valid_check and not api_request.is_valid():
            headers, status, content = self.api.get_format_exception(api_request)
        else:
            headers, status, content = function(self.api, api_request, *args)
            content = apply_gzip(headers, content)
        response = make_response(content, status)
        if headers:
            response.headers = headers
        return response

    def rules(self) -> list[tuple[str, list[tuple[str, dict]]]]:
        """(endpoint, [(rule, options)]) of every pygeoapi route."""
        items = {'methods': ['GET', 'POST', 'OPTIONS'], 'provide_automatic_options': False}
        item = {'methods': ['GET', 'PUT', 'DELETE', 'OPTIONS'],
                'provide_automatic_options': False}
        edr = [f'/collections/<path:collection_id>/{q}' for q in EDR_QUERIES] + [
            '/collections/<path:collection_id>/locations/<location_id>',
            '/collections/<path:collection_id>/locations']
        instance = '/collections/<path:collection_id>/instances/<instance_id>'
        edr += [instance + r.split('<path:collection_id>', 1)[1] for r in edr]
        edr += [instance, '/collections/<path:collection_id>/instances']
        table = [
            ('landing_page', ['/']), ('openapi', ['/openapi']), ('asyncapi', ['/asyncapi']),
            ('conformance', ['/conformance']),
            ('get_tilematrix_set', ['/TileMatrixSets/<tileMatrixSetId>']),
            ('get_tilematrix_sets', ['/TileMatrixSets']),
            ('collections', ['/collections', '/collections/<path:collection_id>']),
            ('collection_schema', ['/collections/<path:collection_id>/schema']),
            ('collection_queryables', ['/collections/<path:collection_id>/queryables']),
            ('collection_coverage', ['/collections/<path:collection_id>/coverage']),
            ('get_collection_tiles', ['/collections/<path:collection_id>/tiles']),
            ('get_collection_tiles_metadata', [
                '/collections/<path:collection_id>/tiles/<tileMatrixSetId>',
                '/collections/<path:collection_id>/tiles/<tileMatrixSetId>/metadata']),
            ('get_collection_tiles_data', [
                '/collections/<path:collection_id>/tiles/<tileMatrixSetId>/<tileMatrix>/'
                '<tileRow>/<tileCol>']),
            ('collection_map', ['/collections/<path:collection_id>/map',
                                '/collections/<path:collection_id>/styles/<style_id>/map']),
            ('get_processes', ['/processes', '/processes/<process_id>']),
            ('execute_process_jobs', [('/processes/<process_id>/execution',
                                       {'methods': ['POST']})]),
            ('get_job_result', ['/jobs/<job_id>/results']),
            ('get_collection_edr_query', edr),
            ('stac_landing_page', ['/stac-api']),
            ('stac_search', [('/stac-api/search', {'methods': ['GET', 'POST']})]),
            ('stac_catalog_root', ['/stac']), ('stac_catalog_path', ['/stac/<path:path>']),
            ('get_jobs', ['/jobs', ('/jobs/<job_id>', {'methods': ['GET', 'DELETE']})]),
            ('collection_items', [('/collections/<path:collection_id>/items', items),
                                  ('/collections/<path:collection_id>/items/<path:item_id>',
                                   item)]),
        ]
        if self._local_schemas():
            table.append(('schemas', ['/schemas/<path:path>']))
        return [(name, [(r, {'methods': list(GET)}) if isinstance(r, str) else r
                        for r in rules]) for name, rules in table]

    def _local_schemas(self) -> str | None:
        location = self.config['server'].get('ogc_schemas_location')
        if location is None or location.startswith('http'):
            return None
        if not os.path.exists(location):
            raise ConfigError(f'server.ogc_schemas_location: {location} does not exist')
        return location

    # -- pygeoapi's views -----------------------------------------------------------
    def landing_page(self):
        return self.call(core_api.landing_page)

    def openapi(self):
        return self.call(core_api.openapi_)

    def asyncapi(self):
        return self.call(core_api.asyncapi_)

    def conformance(self):
        """pygeoapi's classes, changed by the adapters' `conformance_filters`."""
        response = self.call(core_api.conformance)
        if not isinstance(response.headers, Headers):  # pygeoapi sets a plain dict
            response.headers = Headers(response.headers)
        if response.status_code != 200 or response.mimetype != 'application/json':
            return response  # an error (bad f) or the HTML page
        body = json.loads(response.get_data())
        for change in self.conformance_filters:
            body['conformsTo'] = change(body['conformsTo'])
        response.set_data(json.dumps(body))
        return response

    def schemas(self, path: str):
        """OGC schemas served from `server.ogc_schemas_location` (confined to it)."""
        return send_from_directory(self._local_schemas(), path,
                                   mimetype=get_mimetype(os.path.basename(path)))

    def get_tilematrix_set(self, tileMatrixSetId=None):  # noqa: N803 - pygeoapi's names
        return self.call(tiles_api.tilematrixset, tileMatrixSetId)

    def get_tilematrix_sets(self):
        return self.call(tiles_api.tilematrixsets)

    def collections(self, collection_id=None):
        return self.call(core_api.describe_collections, collection_id)

    def collection_schema(self, collection_id=None):
        return self.call(core_api.get_collection_schema, collection_id)

    def collection_queryables(self, collection_id=None):
        return self.call(itemtypes_api.get_collection_queryables, collection_id)

    def collection_items(self, collection_id: str, item_id: str | None = None):
        """Items: list, search (POST), create (POST GeoJSON), options, get, replace,
        delete, as pygeoapi's flask_app dispatches them."""
        manage, method = itemtypes_api.manage_collection_item, request.method
        if item_id is None:
            if method == 'POST' and request.content_type == 'application/geo+json':
                return self.call(manage, 'create', collection_id, skip_valid_check=True)
            if method == 'OPTIONS':
                return self.call(manage, 'options', collection_id, skip_valid_check=True)
            if method == 'POST' and request.content_type is None:
                return problem(415, 'unsupported-media-type', 'a search or a new item '
                               'needs a Content-Type (CQL2-JSON or GeoJSON)')
            return self.call(itemtypes_api.get_collection_items, collection_id,
                             skip_valid_check=True)
        actions = {'DELETE': 'delete', 'PUT': 'update', 'OPTIONS': 'options'}
        if method in actions:
            return self.call(manage, actions[method], collection_id, item_id,
                             skip_valid_check=True)
        return self.call(itemtypes_api.get_collection_item, collection_id, item_id)

    def collection_coverage(self, collection_id: str):
        return self.call(coverages_api.get_collection_coverage, collection_id,
                         skip_valid_check=True)

    def get_collection_tiles(self, collection_id=None):
        return self.call(tiles_api.get_collection_tiles, collection_id)

    def get_collection_tiles_metadata(self, collection_id=None, tileMatrixSetId=None):  # noqa
        return self.call(tiles_api.get_collection_tiles_metadata, collection_id,
                         tileMatrixSetId, skip_valid_check=True)

    def get_collection_tiles_data(self, collection_id=None, tileMatrixSetId=None,  # noqa
                                  tileMatrix=None, tileRow=None, tileCol=None):  # noqa
        return self.call(tiles_api.get_collection_tiles_data, collection_id,
                         tileMatrixSetId, tileMatrix, tileRow, tileCol,
                         skip_valid_check=True)

    def collection_map(self, collection_id: str, style_id: str | None = None):
        return self.call(maps_api.get_collection_map, collection_id, style_id)

    def get_processes(self, process_id: str | None = None):
        return self.call(processes_api.describe_processes, process_id)

    def get_jobs(self, job_id: str | None = None):
        if job_id is None:
            return self.call(processes_api.get_jobs)
        if request.method == 'DELETE':
            return self.call(processes_api.delete_job, job_id)
        return self.call(processes_api.get_jobs, job_id)

    def execute_process_jobs(self, process_id: str):
        return self.call(processes_api.execute_process, process_id)

    def get_job_result(self, job_id: str | None = None):
        return self.call(processes_api.get_job_result, job_id)

    def get_collection_edr_query(self, collection_id: str, instance_id=None,
                                 location_id=None):
        if request.path.endswith('instances') or (
                instance_id is not None and request.path.endswith(instance_id)):
            return self.call(edr_api.get_collection_edr_instances, collection_id,
                             instance_id)
        query_type = 'locations' if location_id else request.path.split('/')[-1]
        return self.call(edr_api.get_collection_edr_query, collection_id, instance_id,
                         query_type, location_id, skip_valid_check=True)

    def stac_landing_page(self):
        return self.call(stac_api.landing_page)

    def stac_search(self):
        return self.call(stac_api.search)

    def stac_catalog_root(self):
        return self.call(stac_api.get_stac_root)

    def stac_catalog_path(self, path: str):
        return self.call(stac_api.get_stac_path, path)

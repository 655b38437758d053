"""The STAC API's HTTP routes (a Flask blueprint under `<prefix>/stac`).

Why `/stac`: STAC clients expect the API's root to be a STAC Catalog, which the OGC API
landing page (`/`) is not. pygeoapi 0.24 serves its own STAC browsing of file-based
collections at `/stac` and `/stac/<path>`; this catalogue is what a deployer of this
package catalogues, so its STAC API takes the `/stac` root: the blueprint is registered
before pygeoapi's route table, so for that one identical URL ours is matched first (were
pygeoapi's registered already, its view is replaced, like the other views this package
owns); the more specific routes (`/stac/search`, `/stac/collections/...`) win over
pygeoapi's `/stac/<path>` by Flask's routing rules, which keeps serving its other paths.
Errors are STAC API's own JSON `{"code", "description"}`, also those answered before the
views (see `errors`).
"""

from __future__ import annotations

import json
import logging
from html import escape
from urllib.parse import quote, urlencode

from flask import Blueprint, Flask, Response, request
from werkzeug.exceptions import HTTPException

from .. import urls
from ..catalogue import demo
from ..catalogue.query import QueryError
from ..catalogue.records import RecordError, normalise, to_row
from ..web import cors
from . import bodies, documents, fields, params
from .catalogue import Served, search, served_collections
from .errors import StacError, answer_in_stac_format, error
from .items import to_item, to_record

LOGGER = logging.getLogger('eoorder.stac_api')
NAME, PATH = 'stac_api', '/stac'


def reply(body, status: int = 200, media_type: str = documents.JSON,
          headers: dict | None = None) -> Response:
    return Response(json.dumps(body), status, headers, mimetype=media_type)


def _json_body() -> dict:
    return bodies.json_object(request.get_data())


def _no_content() -> Response:
    response = Response(status=204)
    response.headers.remove('Content-Type')
    return response


def _merge_patch(target, patch):
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge_patch(result.get(key), value)
    return result


def _with_query(url: str) -> str:
    """`url` with the request's query string (a GET's self link, at the public URL)."""
    query = request.query_string.decode('latin-1')
    return f'{url}?{query}' if query else url


class StacRoutes:
    """Views of the STAC API over the record collections of the configuration."""

    def __init__(self, api):
        self.api = api
        config = api.config
        identification = (config.get('metadata') or {}).get('identification') or {}
        self.title = documents._text(identification.get('title'), 'Catalogue')
        self.description = documents._text(identification.get('description'),
                                           'STAC API of the catalogue')

    @property
    def collections(self) -> dict[str, Served]:
        """The caller's collections (with the workspace collections it may see)."""
        return served_collections(self.api.config.get('resources') or {})

    @staticmethod
    def base() -> str:
        return urls.base_url() + PATH

    def served(self, cid: str) -> Served:
        found = self.collections.get(cid)
        if found is None:
            raise StacError(404, f'collection {cid!r} not found')
        return found

    # -- discovery -----------------------------------------------------------------------
    def landing(self):
        return reply(documents.landing(self.base(), {c: s.resource for c, s in
                                                     self.collections.items()},
                                       self.title, self.description))

    def conformance(self):
        return reply({'conformsTo': documents.CONFORMANCE})

    def openapi(self):
        return reply(documents.openapi(self.base()), media_type=documents.OPENAPI_TYPE)

    def openapi_page(self):
        rows = ''.join(f'<li><code>{escape(m.upper())} {escape(p)}</code>: '
                       f'{escape(o["summary"])}</li>'
                       for p, ops in documents.openapi(self.base())['paths'].items()
                       for m, o in ops.items())
        page = (f'<!doctype html><html><head><title>STAC API</title></head><body>'
                f'<h1>STAC API of the catalogue</h1><p>Root: <a href="{escape(self.base())}">'
                f'{escape(self.base())}</a></p><ul>{rows}</ul></body></html>')
        return Response(page, mimetype='text/html')

    def list_collections(self):
        return reply(documents.collections(self.base(), {c: s.resource for c, s in
                                                         self.collections.items()}))

    def collection(self, cid: str):
        return reply(documents.collection(self.base(), cid, self.served(cid).resource))

    def queryables(self, cid: str | None = None):
        url = f'{self.base()}/queryables'
        if cid is not None:
            self.served(cid)
            url = f'{self.base()}/collections/{quote(cid, safe="")}/queryables'
        return reply(documents.queryables(url), media_type='application/schema+json')

    # -- items and search ----------------------------------------------------------------
    def search_get(self):
        return self._results(params.from_query_string(request.args), f'{self.base()}/search')

    def search_post(self):
        body = _json_body()
        bodies.refuse_non_finite(body)
        found = params.from_post_body(body)
        return self._results(found, f'{self.base()}/search', post_body=body)

    def items(self, cid: str):
        self.served(cid)
        found = params.from_query_string(request.args)  # as /search, in this collection
        found.collections = [cid]
        url = f'{self.base()}/collections/{quote(cid, safe="")}/items'
        return self._results(found, url, collection_url=url.rsplit('/', 1)[0])

    def _results(self, found: params.Search, url: str, post_body: dict | None = None,
                 collection_url: str | None = None):
        page = search(self.collections, found)
        base = self.base()
        features = [fields.select(to_item(d, cid, base), found.fields)
                    for cid, d in page.rows]
        links = [{'rel': 'self', 'type': documents.GEOJSON,
                  'href': _with_query(url) if post_body is None else url},
                 {'rel': 'root', 'type': documents.JSON, 'href': base}]
        if collection_url:
            links.append({'rel': 'parent', 'type': documents.JSON, 'href': collection_url})
            links.append({'rel': 'collection', 'type': documents.JSON,
                          'href': collection_url})
        after = found.offset + len(page.rows)
        if after < page.matched and page.rows:
            links.append(self._page_link('next', url, after, post_body))
        if found.offset > 0:
            links.append(self._page_link('prev', url, max(0, found.offset - found.limit),
                                         post_body))
        body = {'type': 'FeatureCollection', 'features': features, 'links': links,
                'numberMatched': page.matched, 'numberReturned': len(features)}
        return reply(body, media_type=documents.GEOJSON)

    @staticmethod
    def _page_link(rel: str, url: str, offset: int, post_body: dict | None) -> dict:
        if post_body is not None:
            return {'rel': rel, 'type': documents.GEOJSON, 'href': url, 'method': 'POST',
                    'body': {**post_body, 'token': str(offset)}, 'merge': False}
        args = [(k, v) for k, v in request.args.items(multi=True) if k != 'token']
        return {'rel': rel, 'type': documents.GEOJSON, 'method': 'GET',
                'href': f'{url}?{urlencode(args + [("token", str(offset))])}'}

    def item(self, cid: str, item_id: str):
        document = self.served(cid).repository().get(item_id)
        if document is None:
            raise StacError(404, f'item {item_id!r} not found in collection {cid!r}')
        return reply(to_item(document, cid, self.base()), media_type=documents.GEOJSON)

    # -- transactions --------------------------------------------------------------------
    def _editable(self, cid: str) -> Served:
        from ..auth import acting_auth, caller_may, current_user
        served = self.served(cid)
        if not served.editable:
            raise StacError(405, f'collection {cid!r} is not editable')
        if caller_may('edit_catalogue', cid):
            return served
        auth, user = acting_auth(), current_user()
        if auth is not None and (user is None or user == auth.anonymous_user()):
            raise StacError(401, 'editing the catalogue needs an authenticated user',
                            {'WWW-Authenticate': auth.challenge()})
        raise StacError(403, f'editing collection {cid!r} needs the edit_catalogue '
                             'permission')

    def _store(self, served: Served, item: dict) -> dict:
        if item.get('collection') not in (None, served.id):
            raise StacError(400, f'collection: the item says {item["collection"]!r}, '
                                 f'the URL {served.id!r}')
        try:
            record = demo.stored(to_record(item))  # (its demo file URLs: as stored)
            self._refuse_non_finite(served, item, record)
            result = served.repository().upsert([record])
        except (ValueError, RecordError) as err:
            raise StacError(400, f'item: {err}') from None
        if result.refused:
            raise StacError(409, f'item {record["id"]!r} was registered by a job for its '
                                 'owner and cannot be replaced')
        return record

    @staticmethod
    def _refuse_non_finite(served: Served, item: dict, record: dict) -> None:
        """A number that is not finite is refused (the catalogue's own checks first:
        they name its properties, e.g. `orbitNumber` for `sat:absolute_orbit`)."""
        if bodies.non_finite_path(item) is not None:
            to_row(served.records, normalise(record))  # (RecordError)
            bodies.refuse_non_finite(item, 'item: ')

    def create(self, cid: str):
        served = self._editable(cid)
        body = _json_body()
        items = body.get('features') if body.get('type') == 'FeatureCollection' else [body]
        if not isinstance(items, list):
            raise StacError(400, 'features: an array of items is required')
        repository = served.repository()
        for item in items:
            if isinstance(item, dict) and item.get('id') and repository.exists(str(item['id'])):
                raise StacError(409, f'item {item["id"]!r} already exists')
        records = [self._store(served, item) for item in items]
        if body.get('type') == 'FeatureCollection':
            return reply({'added': len(records)}, 201)
        created = to_item(repository.get(records[0]['id']), cid, self.base())
        return reply(created, 201, documents.GEOJSON,
                     {'Location': created['links'][0]['href']})

    def replace(self, cid: str, item_id: str):
        served = self._editable(cid)
        body = _json_body()
        return self._replace(served, item_id, body)

    def _replace(self, served: Served, item_id: str, body: dict):
        if str(body.get('id', item_id)) != item_id:
            raise StacError(400, f'id: the item says {body.get("id")!r}, the URL {item_id!r}')
        repository = served.repository()
        if repository.get(item_id) is None:
            raise StacError(404, f'item {item_id!r} not found in collection {served.id!r}')
        self._store(served, {**body, 'id': item_id})
        return _no_content()

    def patch(self, cid: str, item_id: str):
        served = self._editable(cid)
        body = _json_body()
        current = served.repository().get(item_id)
        if current is None:
            raise StacError(404, f'item {item_id!r} not found in collection {cid!r}')
        merged = _merge_patch(to_item(current, cid, self.base()), body)
        return self._replace(served, item_id, merged)

    def delete(self, cid: str, item_id: str):
        """204 whether the item was there or not (an item the caller may not see is left
        as it is, and answered the same)."""
        self._editable(cid).repository().delete(item_id)
        return _no_content()


def _answering_errors(view):
    def wrapped(*args, **kwargs):
        try:
            return view(*args, **kwargs)
        except StacError as err:
            return error(err.status, err.description, err.headers)
        except QueryError as err:
            return error(400, str(err))
    wrapped.__name__ = view.__name__
    return wrapped


def blueprint(routes: StacRoutes) -> Blueprint:
    bp = Blueprint(NAME, __name__)
    # item ids may have slashes (a job's results: `<job id>/<item id>`), which Flask
    # decodes from %2F before routing: the item id is the rest of the path
    col, item = '/collections/<cid>', '/collections/<cid>/items/<path:item_id>'
    rules = [
        ('', 'landing', ['GET'], routes.landing),
        ('/conformance', 'conformance', ['GET'], routes.conformance),
        ('/api', 'openapi', ['GET'], routes.openapi),
        ('/api.html', 'openapi_page', ['GET'], routes.openapi_page),
        ('/queryables', 'queryables', ['GET'], routes.queryables),
        ('/collections', 'collections', ['GET'], routes.list_collections),
        (col, 'collection', ['GET'], routes.collection),
        (col + '/queryables', 'collection_queryables', ['GET'], routes.queryables),
        (col + '/items', 'items', ['GET'], routes.items),
        (col + '/items', 'create', ['POST'], routes.create),
        (item, 'item', ['GET'], routes.item),
        (item, 'replace', ['PUT'], routes.replace),
        (item, 'patch', ['PATCH'], routes.patch),
        (item, 'delete', ['DELETE'], routes.delete),
        ('/search', 'search', ['GET'], routes.search_get),
        ('/search', 'search_post', ['POST'], routes.search_post),
    ]
    for path, endpoint, methods, view in rules:
        bp.add_url_rule(path, endpoint, _answering_errors(view), methods=methods)

    @bp.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        return error(err.code or 500, err.description or err.name)

    @bp.errorhandler(Exception)
    def _unexpected(err: Exception):
        LOGGER.exception('unhandled error on %s %s', request.method, request.path)
        return error(500, 'internal error; the server log has the details')
    return bp


def install(app: Flask, api, settings) -> None:
    """Register the STAC API under `<prefix>/stac` (see the module docstring), and the
    hook answering the refusals made before its views in its error format."""
    routes = StacRoutes(api)
    app.register_blueprint(blueprint(routes), url_prefix=api.urls.prefix + PATH)
    if cors.allowed(settings, api.manager.auth):  # (STAC API recommends it)
        cors.open_to_browsers(app, (api.urls.prefix + PATH,), 'Retry-After')
    answer_in_stac_format(app, api.urls.prefix + PATH)


def pygeoapi_views(pygeoapi_routes) -> None:
    """Component hook: `<prefix>/stac` (pygeoapi's STAC catalogue root) is the landing page."""
    routes = StacRoutes(pygeoapi_routes.api)
    pygeoapi_routes.serve('stac_catalog_root', _answering_errors(routes.landing))


def openapi_paths() -> dict:
    """Component hook: the STAC API's paths in the server's OpenAPI document."""
    return {PATH + ('' if path == '/' else path): item
            for path, item in documents.paths().items()}

"""OGC API - Records encodings pygeoapi 0.24 leaves out, added to its JSON answers.

- records and record collections as `application/geo+json` when the client asks for it
  (`Accept`, or `f=geojson` / `f=application/geo+json`);
- the `rel=profile` links (`ogc-record` on records, `ogc-catalog` on catalogues);
- catalogues with `"type": "Collection"` and a link to their sortables;
- queryables with the JSON Schema 2020-12 `$schema` and multi-valued properties as arrays.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

from flask import Flask, Response, g, request
from werkzeug.datastructures import Headers

from .. import urls
from ..catalogue.queryables import MULTI_VALUED, QUERYABLES

GEOJSON = 'application/geo+json'
GEOJSON_FORMATS = ('geojson', GEOJSON)
JSON_SCHEMA_2020_12 = 'https://json-schema.org/draft/2020-12/schema'
RECORD_PROFILE = 'http://www.opengis.net/def/profile/OGC/0/ogc-record'
CATALOG_PROFILE = 'http://www.opengis.net/def/profile/OGC/0/ogc-catalog'
SORTABLES_REL = 'http://www.opengis.net/def/rel/ogc/1.0/sortables'


def profile_link(profile: str) -> dict:
    return {'rel': 'profile', 'href': profile, 'title': profile.rsplit('/', 1)[-1]}


def with_link(links: list, link: dict) -> list:
    """`links` with `link` added unless one with the same rel and href is there."""
    if any(k.get('rel') == link['rel'] and k.get('href') == link['href'] for k in links):
        return links
    return [*links, link]


def wants_geojson() -> bool:
    """The client asked for GeoJSON rather than plain JSON."""
    if getattr(g, 'eoorder_geojson', False):
        return True
    accept = request.accept_mimetypes
    named = any(value == GEOJSON and quality > 0 for value, quality in accept)
    return named and accept.best_match([GEOJSON, 'application/json']) == GEOJSON


def catalogue_document(body: dict, collection_id: str) -> dict:
    """A record collection described as a catalogue (type, sortables, profile)."""
    base = urls.base_url()
    sortables = {'rel': SORTABLES_REL, 'type': 'application/schema+json',
                 'title': 'Sortables',
                 'href': f'{base}/collections/{quote(collection_id, safe="")}/sortables'}
    links = with_link(with_link(body.get('links') or [], sortables),
                      profile_link(CATALOG_PROFILE))
    return {**body, 'type': 'Collection', 'links': links}


def queryables_document(body: dict) -> dict:
    """The right `$schema`, and multi-valued properties typed as arrays of their type."""
    properties = dict(body.get('properties') or {})
    for name in MULTI_VALUED:
        if name in properties:
            item = {k: v for k, v in properties[name].items() if k not in ('title',)}
            item['type'] = QUERYABLES[name].type
            properties[name] = {'title': properties[name].get('title', name),
                                'type': 'array', 'items': item}
    return {**body, '$schema': JSON_SCHEMA_2020_12, 'properties': properties}


def _json(response: Response) -> dict | None:
    if response.status_code != 200 or response.direct_passthrough or response.is_streamed \
            or response.mimetype not in ('application/json', GEOJSON,
                                         'application/schema+json'):
        return None
    try:
        body = json.loads(response.get_data())
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def install(app: Flask, is_record_collection) -> None:
    """Hook the encodings into the app; `is_record_collection(id)` says which are ours."""

    @app.before_request
    def _geojson_format():
        args = request.args
        if args.get('f') not in GEOJSON_FORMATS or request.endpoint != \
                'pygeoapi.collection_items':
            return None
        if not is_record_collection((request.view_args or {}).get('collection_id')):
            return None
        g.eoorder_geojson = True  # pygeoapi knows f=json only
        query = [(k, 'json' if k == 'f' else v) for k, v in args.items(multi=True)]
        request.environ['QUERY_STRING'] = urlencode(query)
        request.query_string = request.environ['QUERY_STRING'].encode('latin-1')
        request.__dict__.pop('args', None)  # werkzeug parses it again from query_string
        return None

    @app.after_request
    def _records_encodings(response: Response) -> Response:
        endpoint = request.endpoint
        if endpoint not in ('pygeoapi.collection_items', 'pygeoapi.collections',
                            'pygeoapi.collection_queryables') \
                or request.method not in ('GET', 'POST'):  # POST: a CQL2-JSON search
            return response
        collection_id = (request.view_args or {}).get('collection_id')
        if collection_id is not None and not is_record_collection(collection_id):
            return response
        body = _json(response)
        if body is None:
            return response
        if not isinstance(response.headers, Headers):  # pygeoapi sets a plain dict
            response.headers = Headers(response.headers)
        if endpoint == 'pygeoapi.collection_items':
            body['links'] = with_link(body.get('links') or [], profile_link(RECORD_PROFILE))
            if wants_geojson():
                response.mimetype = GEOJSON
        elif endpoint == 'pygeoapi.collection_queryables':
            body = queryables_document(body)
        elif collection_id is not None:
            body = catalogue_document(body, collection_id)
        else:
            body['collections'] = [
                catalogue_document(c, c['id']) if isinstance(c, dict)
                and is_record_collection(c.get('id')) else c
                for c in body.get('collections') or []]
        response.set_data(json.dumps(body))
        return response

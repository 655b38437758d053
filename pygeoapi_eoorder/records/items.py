"""`/collections/{id}/items` searches of this package's record collections.

pygeoapi's items function parses `filter` with pygeofilter's own CQL2 parsers (module
globals, no hook) and builds a pyproj transformer for every bbox, even CRS84 to CRS84. The
Records adapter therefore answers the searches (GET, and POST with a CQL2-JSON body) of
its own collections itself, with the catalogue's query model and CQL2 parsers
(:mod:`pygeoapi_eoorder.catalogue.cql`); the answer is shaped as pygeoapi shapes it (links,
`timeStamp`, JSON, JSON-LD, HTML through pygeoapi's template). Single records, creates,
replaces and deletes stay pygeoapi's.
"""

from __future__ import annotations

import json

import urllib.parse
from datetime import UTC, datetime
from http import HTTPStatus

from pygeoapi import l10n
from pygeoapi.api import SYSTEM_LOCALE, APIRequest, evaluate_limit, validate_datetime
from pygeoapi.crs import DEFAULT_CRS, get_supported_crs_list, transform_bbox
from pygeoapi.formats import F_HTML, F_JSON, F_JSONLD, FORMAT_TYPES
from pygeoapi.linked_data import geojson2jsonld
from pygeoapi.plugin import load_plugin
from pygeoapi.provider.base import ProviderGenericError
from pygeoapi.util import render_j2_template, str2bool, to_json

from ..catalogue import cql
from ..catalogue.query import QueryError, list_values, parse_bbox

FORMATS = (F_JSON, F_HTML, F_JSONLD)


class BadParameter(Exception):
    """A query parameter pygeoapi would refuse (400 InvalidParameterValue)."""


def _limits(api, resource: dict, params) -> tuple[int, int]:
    offset = params.get('offset')
    try:
        offset = int(offset) if offset is not None else 0
        limit = evaluate_limit(params.get('limit'), api.config['server'].get('limits', {}),
                               resource.get('limits', {}))
    except ValueError as err:
        raise BadParameter(str(err)) from None
    if offset < 0:
        raise BadParameter('offset value should be positive or zero')
    return offset, limit


def _bbox(params, provider_def: dict) -> list:
    if 'bbox' not in params:
        if 'bbox-crs' in params:
            raise BadParameter('bbox-crs specified without bbox parameter')
        return []
    bbox = list(parse_bbox(params['bbox']))
    bbox_crs = params.get('bbox-crs', DEFAULT_CRS)
    if bbox_crs not in get_supported_crs_list(provider_def):
        raise BadParameter(f'bbox-crs {bbox_crs} not supported for this collection')
    storage_crs = provider_def.get('storage_crs', DEFAULT_CRS)
    return bbox if bbox_crs == storage_crs else transform_bbox(bbox, bbox_crs, storage_crs)


def _sortby(params) -> list[dict]:
    return [{'property': s.lstrip('+-'), 'order': '-' if s.startswith('-') else '+'}
            for s in list_values(params.get('sortby', ''))]


def _filter(request: APIRequest):
    """The search's filter: `filter` (CQL2 text or JSON) or a CQL2-JSON body."""
    try:
        if request.params.get('filter') is not None:
            return cql.parse(request.params['filter'], request.params.get('filter-lang'))
        if request.data:
            return cql.parse(request.data.decode(), 'cql2-json')
    except cql.CQLError as err:
        hint = ' (a new record is sent as application/geo+json)' if _feature(request) else ''
        raise BadParameter(f'filter: {err}{hint}') from None
    return None


def _feature(request: APIRequest) -> bool:
    """Is the body a GeoJSON feature (a record sent as a search)?"""
    try:
        return json.loads(request.data or b'null').get('type') == 'Feature'
    except (ValueError, AttributeError):
        return False


def query_arguments(api, request: APIRequest, resource: dict, provider, provider_def):
    """The provider's query arguments for this request's parameters."""
    params = request.params
    offset, limit = _limits(api, resource, params)
    try:
        datetime_ = validate_datetime(resource['extents'], params.get('datetime'))
    except ValueError as err:
        raise BadParameter(str(err)) from None
    reserved = {'bbox', 'bbox-crs', 'crs', 'f', 'lang', 'limit', 'offset', 'resulttype',
                'datetime', 'sortby', 'properties', 'skipGeometry', 'q', 'filter',
                'filter-lang', 'filter-crs'}
    selected = [p for p in (params.get('properties') or '').split(',') if p]
    if set(selected) - (set(provider.properties) | set(provider.fields)):
        raise BadParameter('unknown properties specified')
    return {'offset': offset, 'limit': limit,
            'resulttype': params.get('resulttype') or 'results',
            'bbox': _bbox(params, provider_def), 'datetime_': datetime_,
            'properties': [(k, v) for k, v in params.items() if k not in reserved],
            'sortby': _sortby(params), 'select_properties': selected,
            'skip_geometry': str2bool(params.get('skipGeometry', False)),
            'q': params.get('q') or None, 'filterq': _filter(request)}


def _query_string(params) -> str:
    return ''.join(f'&{urllib.parse.quote(k, safe="")}={urllib.parse.quote(str(v), safe=",")}'
                   for k, v in params.items() if k not in ('f', 'offset'))


def add_links(content: dict, request: APIRequest, uri: str, title: str,
              offset: int, limit: int) -> None:
    """pygeoapi's links of an items page: formats, prev/next, collection."""
    query = _query_string(request.params)
    links = content.setdefault('links', [])
    for fmt, media_type, label in ((F_JSON, 'application/geo+json', 'GeoJSON'),
                                   (F_JSONLD, FORMAT_TYPES[F_JSONLD], 'RDF (JSON-LD)'),
                                   (F_HTML, FORMAT_TYPES[F_HTML], 'HTML')):
        links.append({'type': media_type, 'rel': request.get_linkrel(fmt),
                      'title': l10n.translate(f'This document as {label}', request.locale),
                      'href': f'{uri}?f={fmt}{query}'})
    fmt = f'f={request.format}&' if request.format is not None else ''
    pages = []
    if 'next' not in [link['rel'] for link in links]:
        if offset > 0:
            pages.append(('prev', max(0, offset - limit), 'Items (prev)'))
        if content.get('numberMatched', -1) > limit + offset or \
                len(content['features']) == limit:
            pages.append(('next', offset + limit, 'Items (next)'))
    for rel, start, label in pages:
        links.append({'type': 'application/geo+json', 'rel': rel,
                      'title': l10n.translate(label, request.locale),
                      'href': f'{uri}?{fmt}offset={start}{query}'})
    links.append({'type': FORMAT_TYPES[F_JSON], 'rel': 'collection',
                  'title': l10n.translate(title, request.locale),
                  'href': uri.rsplit('/', 1)[0]})


def _encode(api, request: APIRequest, dataset: str, provider, content: dict,
            offset: int) -> str:
    if request.format == F_HTML:
        uri = f'{api.get_collections_url()}/{dataset}/items'
        content.update(itemtype=provider.type, items_path=uri,
                       dataset_path=uri.rsplit('/', 1)[0],
                       collections_path=api.get_collections_url(), offset=offset,
                       id_field=provider.id_field)
        if provider.uri_field is not None:
            content['uri_field'] = provider.uri_field
        if provider.title_field is not None:
            content['title_field'] = content['id_field'] = l10n.translate(
                provider.title_field, request.locale)
        return render_j2_template(api.tpl_config, api.get_dataset_templates(dataset),
                                  'collections/items/index.html', content, request.locale)
    if request.format == F_JSONLD:
        return geojson2jsonld(api, content, dataset, id_field=(provider.uri_field or 'id'))
    return to_json(content, api.pretty_print)


def search(api, request: APIRequest, dataset: str, provider_def: dict):
    """`(headers, status, content)` of a search of record collection `dataset`."""
    headers = request.get_response_headers(SYSTEM_LOCALE, **api.api_headers)
    if not request.is_valid(FORMATS):
        return api.get_format_exception(request)
    resource = api.config['resources'][dataset]
    try:
        provider = load_plugin('provider', provider_def)
        arguments = query_arguments(api, request, resource, provider, provider_def)
        content = provider.query(crs_transform_spec=None,
                                 language=l10n.get_plugin_locale(provider_def,
                                                                 request.raw_locale),
                                 **arguments)
    except (BadParameter, QueryError) as err:
        return api.get_exception(HTTPStatus.BAD_REQUEST, headers, request.format,
                                 'InvalidParameterValue', str(err))
    except ProviderGenericError as err:
        return api.get_exception(err.http_status_code, headers, request.format,
                                 err.ogc_exception_code, err.message)
    add_links(content, request, f'{api.get_collections_url()}/{dataset}/items',
              resource['title'], arguments['offset'], arguments['limit'])
    content['timeStamp'] = datetime.now(UTC).strftime('%Y-%m-%dT%H:%M:%S.%fZ')
    l10n.set_response_language(headers, l10n.get_plugin_locale(
        provider_def, request.raw_locale), request.locale)
    return headers, HTTPStatus.OK, _encode(api, request, dataset, provider, content,
                                           arguments['offset'])

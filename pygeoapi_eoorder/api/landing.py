"""The landing page (JSON and HTML) links every service this server runs.

pygeoapi's landing page links /collections, /processes and /jobs; this adds the web pages
(/ui), OSEO ordering (/oseo GetCapabilities), OpenSearch (/opensearch) and the orders
(/orders) — each only when its routes are installed (component present and enabled).
"""

from __future__ import annotations

import json

from flask import Flask, Response, request
from pygeoapi.api import APIRequest
from pygeoapi.formats import F_HTML
from pygeoapi.util import filter_dict_by_key_value
from werkzeug.datastructures import Headers

SERVICE = 'service'  # IANA link relation: a service this API offers
OGC_REL = 'http://www.opengis.net/def/rel/ogc/1.0/'
# pygeoapi's short relations that OGC API standards name by their OGC URI
OGC_RELATIONS = {'conformance': OGC_REL + 'conformance', 'data': OGC_REL + 'data'}
# (endpoint that must be installed, path, media type, title)
SERVICES = (
    ('eoorder.ui_home', '/ui', 'text/html',
     'Web pages: search the catalogue, order, deploy and run applications'),
    ('eoorder.oseo', '/oseo?service=OS&request=GetCapabilities', 'application/xml',
     'OSEO ordering service (GetCapabilities)'),
    ('eoorder.opensearch', '/opensearch', 'application/opensearchdescription+xml',
     'OpenSearch description of the catalogue'),
    ('stac_api.landing', '/stac', 'application/json', 'STAC API of the catalogue'),
    ('openeo.well_known', '/openeo/1.2/', 'application/json',
     'openEO API 1.2: data cubes of the catalogue, process graphs, batch jobs'),
    ('eoorder.orders', '/orders', 'application/json', 'Orders'),
    ('pygeoapi.get_jobs', '/jobs', 'application/json', 'Jobs'),
    ('pygeoapi.get_processes', '/processes', 'application/json', 'Processes'),
    ('pygeoapi.collections', '/collections', 'application/json', 'Collections'),
)


def service_links(app: Flask, base_url: str) -> list[dict]:
    """Links to the services whose routes `app` serves."""
    return [{'rel': SERVICE, 'type': media_type, 'title': title, 'href': base_url + path}
            for endpoint, path, media_type, title in SERVICES if endpoint in app.view_functions]


def ogc_relation_links(links: list[dict]) -> list[dict]:
    """The same links again under their OGC relation URIs (e.g. `conformance` also as
    http://www.opengis.net/def/rel/ogc/1.0/conformance, as OGC API - Processes asks)."""
    present = {(link.get('rel'), link.get('href')) for link in links}
    extra = []
    for link in links:
        uri = OGC_RELATIONS.get(link.get('rel'))
        if uri and (uri, link.get('href')) not in present:
            extra.append({**link, 'rel': uri})
            present.add((uri, link.get('href')))
    return extra


def install(app: Flask, routes, renderer) -> None:
    """Answer the landing page: JSON gets the service links, HTML a "Services" section."""
    api = routes.api

    def landing_page():
        links = service_links(app, api.base_url.rstrip('/'))
        if APIRequest.from_flask(request, api.locales).format == F_HTML:
            base = api.base_url.rstrip('/')
            alternate = [{'rel': 'alternate', 'type': 'application/json', 'title': 'JSON',
                          'href': f'{base}?f=json'}]
            return Response(renderer.render('eoorder/landing_page.html', {
                **_html_flags(api), 'services': links, 'links': alternate}),
                mimetype='text/html')
        return _with_service_links(routes.landing_page(), api, links)

    routes.serve('landing_page', landing_page)


def _with_service_links(response: Response, api, links: list[dict]) -> Response:
    """pygeoapi's landing document with the request's base URL and the service links."""
    if not isinstance(response.headers, Headers):  # pygeoapi sets a plain dict
        response.headers = Headers(response.headers)
    configured = api.config['server']['url'].rstrip('/')
    if response.status_code == 200 and response.mimetype == 'application/ld+json' \
            and configured != api.base_url.rstrip('/'):  # JSON-LD names config's url
        response.set_data(response.get_data().replace(
            json.dumps(configured).encode(), json.dumps(api.base_url.rstrip('/')).encode()))
    if response.status_code == 200 and response.mimetype == 'application/json':
        body = json.loads(response.get_data())
        known = {link.get('href') for link in body.get('links', [])}
        body.setdefault('links', []).extend(
            link for link in links if link['href'] not in known)
        body['links'].extend(ogc_relation_links(body['links']))
        response.set_data(json.dumps(body))
    return response


def _html_flags(api) -> dict:
    """What pygeoapi's landing_page.html shows (as its own landing view computes it)."""
    resources = api.config.get('resources', {})
    flags = {kind: bool(filter_dict_by_key_value(resources, 'type', kind))
             for kind in ('collection', 'process', 'stac-collection')}
    return {**flags, 'jobs': bool(api.manager.is_async)}

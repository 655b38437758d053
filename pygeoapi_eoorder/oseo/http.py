"""Flask routes of the OSEO adapter (called by app.py: `install(app, api, settings)`).

/oseo (POST: SOAP 1.2, SOAP 1.1, XML; GET: KVP GetCapabilities), /oseo/downloads/...,
/orders, /orders/{id}, /orders/{id}/approve|reject. (The internal item process is hidden
from /processes by the Processes adapter, like every `_`-prefixed process.)
"""

from __future__ import annotations

from flask import Flask, request

from ..config import ConfigError
from ..web import ows_error, ows_refusals
from ..ordering.delivery import Sweeper
from ..ordering.service import OrderService
from .downloads import download
from .endpoint import Endpoint
from .schemas import SchemaSet, SchemaUnavailable
from .views import OrderViews

XML_BODY = {'content': {ct: {'schema': {'type': 'string'}} for ct in
                        ('application/soap+xml', 'text/xml', 'application/xml')}}


def _schemas(settings) -> SchemaSet:
    """The OSEO schemas of `ordering.schemas` (default: the ones shipped in the package)."""
    from ..egress import policy_from_settings
    return SchemaSet(settings.block['ordering'].get('schemas'),
                     cache=settings.data_dir / 'cache' / 'schemas',
                     policy=policy_from_settings(settings.block))


def check(settings) -> SchemaSet | None:
    """Raise ConfigError if the ordering configuration cannot work (run before serving)."""
    if not settings.block['ordering']['enabled']:
        return None
    schemas = _schemas(settings)
    if not schemas.location.startswith(('http://', 'https://')):
        try:
            schemas.schema  # a wrong local location is a configuration error
        except SchemaUnavailable as err:
            raise ConfigError(f'eoorder.ordering.schemas: {err}; fix: remove the key to use '
                              'the schemas shipped with the package, or point it at a '
                              'directory mirroring schemas.opengis.net, an OASIS catalog.xml, '
                              'or https://schemas.opengis.net') from None
    return schemas


def install(app: Flask, api, settings) -> None:
    block = settings.block['ordering']
    schemas = check(settings)
    if schemas is None:
        return
    service = OrderService(settings, api.manager)
    auth = api.manager.auth
    from ..urls import base_url
    endpoint = Endpoint(service, schemas, auth, base_url)
    from ..web.render import Renderer
    views = OrderViews(service, auth, base_url, Renderer(api))
    sweeper = Sweeper(service, block['delivery']['cleanup_interval_seconds'])

    def oseo():
        sweeper.maybe_run()
        if request.method == 'GET':
            return endpoint.get(request)
        return endpoint.post(request)

    def downloads(token, name):
        """Only the order's owner or an admin downloads (anyone, if the deployer made the
        path public in `auth.public_paths`: then the URL's token is the credential)."""
        from ..auth import current_user
        sweeper.maybe_run()
        public = auth.is_public(f'/oseo/downloads/{token}/{name}')
        return download(service, token, name,
                        lambda owner: public or auth.owns(current_user(), owner))

    prefix = ''
    rules = [
        ('/oseo', 'eoorder.oseo', ['GET', 'POST'], oseo),
        ('/oseo/downloads/<token>/<path:name>', 'eoorder.oseo_download', ['GET'], downloads),
        ('/orders', 'eoorder.orders', ['GET'], lambda: views.list(request)),
        ('/orders/<order_id>', 'eoorder.order', ['GET'],
         lambda order_id: views.get(request, order_id)),
        ('/orders/<order_id>/approve', 'eoorder.order_approve', ['POST'],
         lambda order_id: views.moderate(request, order_id, 'approve')),
        ('/orders/<order_id>/reject', 'eoorder.order_reject', ['POST'],
         lambda order_id: views.moderate(request, order_id, 'reject')),
    ]
    for path, endpoint_name, methods, view in rules:
        app.add_url_rule(prefix + path, endpoint_name, view, methods=methods)
    ows_refusals.install(app, lambda path: path == '/oseo', ows_error)


def _xml_response(description: str) -> dict:
    return {'description': description, **XML_BODY}


def openapi_paths() -> dict:
    """OpenAPI path items of the ordering routes."""
    order_id = {'name': 'orderId', 'in': 'path', 'required': True, 'schema': {'type': 'string'}}
    json_ok = {'description': 'JSON (or HTML with f=html)',
               'content': {'application/json': {'schema': {'type': 'object'}},
                           'text/html': {'schema': {'type': 'string'}}}}
    return {
        '/oseo': {
            'get': {'summary': 'OSEO GetCapabilities (KVP)', 'tags': ['ordering'],
                    'operationId': 'oseoGetCapabilities',
                    'parameters': [
                        {'name': 'service', 'in': 'query', 'required': True,
                         'schema': {'type': 'string', 'enum': ['OS']}},
                        {'name': 'request', 'in': 'query', 'required': True,
                         'schema': {'type': 'string', 'enum': ['GetCapabilities']}},
                        {'name': 'acceptVersions', 'in': 'query', 'schema': {'type': 'string'}},
                        {'name': 'sections', 'in': 'query', 'schema': {'type': 'string'}}],
                    'responses': {'200': _xml_response('oseo:Capabilities'),
                                  '400': _xml_response('ows:ExceptionReport')}},
            'post': {'summary': 'OSEO 1.0 request (SOAP 1.2, SOAP 1.1 or plain XML)',
                     'tags': ['ordering'], 'operationId': 'oseo',
                     'requestBody': {'required': True, **XML_BODY},
                     'responses': {'200': _xml_response('OSEO response'),
                                   '400': _xml_response('ows:ExceptionReport / SOAP Fault'),
                                   '500': _xml_response('ows:ExceptionReport / SOAP Fault')}}},
        '/oseo/downloads/{token}/{name}': {'get': {
            'summary': 'Download a delivered order item', 'tags': ['ordering'],
            'operationId': 'oseoDownload',
            'parameters': [{'name': 'token', 'in': 'path', 'required': True,
                            'schema': {'type': 'string'}},
                           {'name': 'name', 'in': 'path', 'required': True,
                            'schema': {'type': 'string'}}],
            'responses': {'200': {'description': 'the file'},
                          '404': {'description': 'unknown'}, '410': {'description': 'expired'}}}},
        '/orders': {'get': {'summary': 'List orders', 'tags': ['ordering'],
                            'operationId': 'getOrders',
                            'parameters': [{'name': n, 'in': 'query', 'schema': s} for n, s in (
                                ('status', {'type': 'string'}), ('limit', {'type': 'integer'}),
                                ('offset', {'type': 'integer'}), ('f', {'type': 'string'}))],
                            'responses': {'200': json_ok}}},
        '/orders/{orderId}': {'get': {'summary': 'An order with its items and history',
                                      'tags': ['ordering'], 'operationId': 'getOrder',
                                      'parameters': [order_id],
                                      'responses': {'200': json_ok,
                                                    '404': {'description': 'no such order'}}}},
        '/orders/{orderId}/approve': {'post': {
            'summary': 'Approve an order awaiting moderation', 'tags': ['ordering'],
            'operationId': 'approveOrder', 'parameters': [order_id],
            'responses': {'200': json_ok, '403': {'description': 'not a moderator'},
                          '409': {'description': 'not awaiting approval'}}}},
        '/orders/{orderId}/reject': {'post': {
            'summary': 'Reject an order awaiting moderation', 'tags': ['ordering'],
            'operationId': 'rejectOrder', 'parameters': [order_id],
            'responses': {'200': json_ok, '403': {'description': 'not a moderator'},
                          '409': {'description': 'not awaiting approval'}}}},
    }

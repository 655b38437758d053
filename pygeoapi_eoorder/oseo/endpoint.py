"""The /oseo endpoint: one request in, one response (or exception) out, in the binding
the client used. Nothing is stored unless the request is valid and allowed."""

from __future__ import annotations

import logging
import time
from typing import Callable

from flask import Request, Response
from lxml import etree

from .. import xmlsafe
from ..ordering import soap
from ..ordering.errors import OseoError, bad_request
from ..ordering.service import OrderService
from ..ordering.xmlns import OSEO, VERSION, local_name
from .identity import caller, require
from .operations import CLIENT_MESSAGES, Call, registry
from .operations.capabilities import capabilities, check_sections, check_versions
from .schemas import SchemaSet, SchemaUnavailable

LOGGER = logging.getLogger(__name__)
ACTIONS = {'GetQuotation': 'GetQuotationAck', 'Submit': 'SubmitAck',
           'GetStatus': 'GetStatusResponse', 'DescribeResultAccess':
           'DescribeResultAccessResponse', 'Cancel': 'CancelAck',
           'GetOptions': 'GetOptionsResponse', 'GetCapabilities': 'Capabilities'}


class Endpoint:
    def __init__(self, service: OrderService, schemas: SchemaSet, auth,
                 base_url: Callable[[], str]):
        self.service = service
        self.schemas = schemas
        self.auth = auth
        self._base_url = base_url
        self.operations = registry()
        self.max_bytes = service.conf.max_request_bytes
        self.validate_responses = service.conf.validate_responses

    @property
    def base_url(self) -> str:
        """The server's base URL for this request (see `pygeoapi_eoorder.urls`)."""
        return self._base_url().rstrip('/')

    # -- replies --------------------------------------------------------------------
    def _reply(self, binding: str, payload: etree._Element, status: int = 200,
               relates_to: str | None = None, action: str | None = None) -> Response:
        if self.validate_responses:
            errors = self.schemas.errors(payload)
            if errors:
                LOGGER.error('invalid OSEO response %s: %s', local_name(payload), errors[0])
                return self._error(binding, OseoError(
                    'NoApplicableCode', 'the server produced an invalid response; the server '
                    'log has the details'), relates_to)
        body = soap.to_bytes(soap.envelope(binding, payload, relates_to=relates_to,
                                           action=action if relates_to else None))
        return Response(body, status=status, content_type=soap.CONTENT_TYPES[binding])

    def _error(self, binding: str, error: OseoError, relates_to: str | None = None) -> Response:
        payload = soap.fault(binding, error)
        body = soap.to_bytes(soap.envelope(binding, payload, relates_to=relates_to))
        response = Response(body, status=soap.fault_status(binding, error),
                            content_type=soap.CONTENT_TYPES[binding])
        if error.code == 'AuthenticationFailed' and binding == soap.XML:
            response.headers['WWW-Authenticate'] = self.auth.challenge()
        return response

    # -- KVP GetCapabilities ----------------------------------------------------------
    def get(self, request: Request) -> Response:
        params = {k.lower(): v for k, v in request.args.items()}
        try:
            if 'service' not in params:
                raise OseoError('MissingParameterValue', 'service is required (service=OS)',
                                'service')
            if params['service'] != 'OS':
                raise OseoError('InvalidParameterValue', f'service {params["service"]!r}: '
                                'this is an OS (ordering) service', 'service')
            if 'request' not in params:
                raise OseoError('MissingParameterValue', 'request is required',
                                'request')
            if params['request'] != 'GetCapabilities':
                raise OseoError('OperationNotSupported', f'{params["request"]} is available '
                                'by POST only (SOAP or XML)', 'request')
            versions = [v for v in params.get('acceptversions', '').split(',') if v]
            check_versions(versions)
            sections = [s for s in params.get('sections', '').split(',') if s]
            check_sections(sections)
            return self._reply(soap.XML, capabilities(self.service.conf,
                                                      self.base_url + '/oseo',
                                                      sections or None))
        except OseoError as err:
            return self._error(soap.XML, err)
        except SchemaUnavailable as err:
            LOGGER.error('OSEO schemas unavailable: %s', err)
            return self._error(soap.XML, OseoError('NoApplicableCode',
                                                   'the OSEO schemas are unavailable'))

    # -- POST -------------------------------------------------------------------------
    def _message(self, request: Request) -> soap.Message:
        length = request.content_length
        if length is not None and length > self.max_bytes:
            raise OseoError('NoApplicableCode', f'request body of {length} bytes is larger '
                            f'than the {self.max_bytes} bytes accepted', 'request', status=413)
        data = request.stream.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise OseoError('NoApplicableCode', f'request body larger than the '
                            f'{self.max_bytes} bytes accepted', 'request', status=413)
        if not data.strip():
            raise bad_request('empty request body: POST an OSEO request (XML or SOAP)',
                              'request')
        try:
            root = xmlsafe.parse(data, self.max_bytes)
        except xmlsafe.UnsafeXML as err:
            raise bad_request(f'request is not acceptable XML: {err}', 'request') from None
        return soap.unwrap(root)

    def _check(self, message: soap.Message) -> str:
        body = message.body
        name = local_name(body)
        namespace = etree.QName(body).namespace
        if namespace != OSEO:
            raise OseoError('OperationNotSupported', f'{{{namespace}}}{name} is not an OSEO '
                            f'1.0 request (namespace {OSEO})', name)
        if name in CLIENT_MESSAGES:
            raise OseoError('OperationNotSupported', f'{name} is sent to clients, not to '
                            'this service', name)
        if name not in self.operations:
            raise OseoError('OperationNotSupported', f'unknown operation {name!r}', name)
        self.schemas.check_request(body)
        version = body.get('version')
        if name != 'GetCapabilities' and version != VERSION:
            raise OseoError('InvalidParameterValue', f'version {version!r}: this service '
                            f'speaks OSEO {VERSION}', 'version')
        return name

    def post(self, request: Request) -> Response:
        binding, relates_to = soap.XML, None
        started = time.perf_counter()
        try:
            message = self._message(request)
            binding, relates_to = message.binding, message.message_id
            name = self._check(message)
            user = caller(self.auth, message)
            if name in ('Submit', 'GetQuotation'):
                require(self.auth, user, 'order')
            call = Call(message, self.service, user.name, self.base_url, user, self.auth)
            payload = self.operations[name](call)
            response = self._reply(binding, payload, relates_to=relates_to,
                                   action=ACTIONS.get(name))
        except OseoError as err:
            response = self._error(binding, err, relates_to)
        except SchemaUnavailable as err:
            LOGGER.error('OSEO schemas unavailable: %s', err)
            response = self._error(binding, OseoError(
                'NoApplicableCode', 'the OSEO schemas are unavailable; the server log has '
                'the details'), relates_to)
        except Exception:
            LOGGER.exception('OSEO request failed')
            response = self._error(binding, OseoError(
                'NoApplicableCode', 'internal error; the server log has the details'),
                relates_to)
        LOGGER.debug('OSEO request answered in %.1f ms', (time.perf_counter() - started) * 1e3)
        return response

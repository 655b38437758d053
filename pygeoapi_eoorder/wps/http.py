"""Flask routes of the WPS adapter (called by app.py: `install(app, api, settings)`).

`/wps`: GET (KVP) and POST (XML, or XML in a SOAP 1.1/1.2 body) for WPS 1.0.0 and 2.0.2;
`/wps/status/{jobId}`: the WPS 1.0.0 status location of a stored Execute response;
`/wps/jobs/{jobId}/outputs/{id}`: an output value given by reference.
"""

from __future__ import annotations

from flask import Flask, Response, request

from ..web import ows_refusals
from . import rest, soap, v1_execute
from .errors import WpsError, response as error_response
from .requests import V1, V2, parse_kvp, parse_xml
from .service import WpsService

MAX_REQUEST_BYTES = 16 * 1024 * 1024


def _version_hint() -> str:
    version = next((v for k, v in request.args.items() if k.lower() == 'version'), '')
    return V1 if version == V1 or b'/wps/1.0.0' in (request.get_data()[:4096] or b'') else V2


def _endpoint(service: WpsService) -> Response:
    try:
        if request.method == 'GET':
            parsed = parse_kvp(request.args)
        else:
            if (request.content_length or 0) > MAX_REQUEST_BYTES:
                raise WpsError('SizeExceeded', 'request larger than '
                               f'{MAX_REQUEST_BYTES} bytes', status=413)
            parsed = parse_xml(request.get_data())
    except WpsError as err:
        return error_response(err, _version_hint())
    try:
        reply = service.answer(parsed)
    except WpsError as err:
        if parsed.soap:
            return soap.fault(parsed.soap, err, parsed.version)
        return error_response(err, parsed.version)
    return soap.wrap(parsed.soap, reply) if parsed.soap else reply


def _render_refusal(status: int, code: str, text: str) -> Response:
    """A refusal of the layers before the adapter (see `web.ows_refusals`) in the WPS
    version the request names."""
    try:
        version = _version_hint()
    except Exception:  # (e.g. a body over the size limit: it is not read)
        version = V2
    return error_response(WpsError(code, text, status=status), version)


def install(app: Flask, api, settings) -> None:
    service = WpsService(api.manager, api.config.get('metadata') or {})
    prefix = api.urls.prefix

    def endpoint():
        return _endpoint(service)

    def status(job_id: str):
        try:
            return v1_execute.status_document(service, job_id, request.args)
        except WpsError as err:
            return error_response(err, V1)

    def output(job_id: str, name: str):
        try:
            return service.output_value(job_id, name)
        except WpsError as err:
            return error_response(err, V2)

    wps_paths = (prefix + '/wps/status/', prefix + '/wps/jobs/')
    ows_refusals.install(app, lambda path: path == prefix + '/wps' or path.startswith(
        wps_paths), _render_refusal)
    app.add_url_rule(prefix + '/wps', 'eoorder.wps', endpoint, methods=['GET', 'POST'])
    app.add_url_rule(prefix + '/wps/status/<job_id>', 'eoorder.wps_status', status)
    app.add_url_rule(prefix + '/wps/jobs/<job_id>/outputs/<name>', 'eoorder.wps_output',
                     output)
    rest.install(app, service, prefix)


def _xml_reply(description: str) -> dict:
    return {'description': description,
            'content': {'application/xml': {'schema': {'type': 'string'}}}}


def openapi_paths() -> dict:
    """OpenAPI path items of the WPS routes."""
    text = {'type': 'string'}
    query = [{'name': n, 'in': 'query', 'required': n in ('service', 'request'), 'schema': text}
             for n in ('service', 'request', 'version', 'acceptVersions', 'identifier',
                       'jobId', 'DataInputs', 'ResponseDocument', 'RawDataOutput',
                       'storeExecuteResponse', 'status', 'lineage', 'mode', 'response')]
    job = {'name': 'jobId', 'in': 'path', 'required': True, 'schema': text}
    return {
        '/wps': {
            'get': {'summary': 'WPS 1.0.0 / 2.0 request (KVP)', 'tags': ['wps'],
                    'operationId': 'wpsGet', 'parameters': query,
                    'responses': {'200': _xml_reply('WPS response'),
                                  '400': _xml_reply('ows:ExceptionReport')}},
            'post': {'summary': 'WPS 1.0.0 / 2.0 request (XML, or XML in a SOAP body)',
                     'tags': ['wps'], 'operationId': 'wpsPost',
                     'requestBody': {'required': True, 'content': {
                         t: {'schema': text} for t in ('application/xml', 'text/xml')}},
                     'responses': {'200': _xml_reply('WPS response'),
                                   '400': _xml_reply('ows:ExceptionReport')}}},
        '/wps/status/{jobId}': {'get': {
            'summary': 'WPS 1.0.0 status location of a stored execution', 'tags': ['wps'],
            'operationId': 'wpsStatus', 'parameters': [job],
            'responses': {'200': _xml_reply('wps:ExecuteResponse'),
                          '400': _xml_reply('ows:ExceptionReport')}}},
        '/wps/jobs/{jobId}/outputs/{outputId}': {'get': {
            'summary': 'An output value of a WPS execution, by reference', 'tags': ['wps'],
            'operationId': 'wpsOutput',
            'parameters': [job, {'name': 'outputId', 'in': 'path', 'required': True,
                                 'schema': text}],
            'responses': {'200': {'description': 'the value'},
                          '400': _xml_reply('ows:ExceptionReport')}}},
        **_rest_paths(),
    }


def _rest_paths() -> dict:
    """The REST-XML binding (see `rest`)."""
    def operation(summary: str, name: str, parameters=(), body: bool = False) -> dict:
        item = {'summary': summary, 'tags': ['wps'], 'operationId': f'wpsRest{name}',
                'parameters': list(parameters),
                'responses': {'200': _xml_reply('WPS 2.0 document'),
                              '400': _xml_reply('ows:ExceptionReport')}}
        if body:
            item['requestBody'] = {'required': True, 'content': {
                'application/xml': {'schema': {'type': 'string'}}}}
        return item
    process = {'name': 'processId', 'in': 'path', 'required': True,
               'schema': {'type': 'string'}}
    job = {**process, 'name': 'jobId'}
    return {
        '/wps/rest': {'get': operation('WPS 2.0 capabilities', 'Capabilities')},
        '/wps/rest/process': {
            'get': operation('Process summaries (wps:Contents)', 'Processes'),
            'post': operation('Deploy (WPS-T DeployProcess document)', 'Deploy', body=True)},
        '/wps/rest/process/{processId}': {
            'get': operation('Process offering', 'Process', [process]),
            'delete': operation('Undeploy', 'Undeploy', [process])},
        '/wps/rest/job': {
            'get': operation("The caller's jobs (Atom)", 'Jobs'),
            'post': operation('Execute (wps:Execute document)', 'Execute', body=True)},
        '/wps/rest/job/{jobId}': {
            'get': operation('wps:StatusInfo (atom:link monitor and cancel)', 'Status', [job]),
            'delete': operation('Dismiss', 'Dismiss', [job])},
        '/wps/rest/job/{jobId}/result': {'get': operation('wps:Result', 'Result', [job])},
    }

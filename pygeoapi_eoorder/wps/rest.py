"""The REST-XML binding of WPS 2.0 that CubeWerx's Testbed-13 ADES offered (OGC 17-024
§6.6.4), at `/wps/rest`: the same operations on resources.

    GET    /wps/rest                 Capabilities
    GET    /wps/rest/process         wps:Contents (the process summaries)
    POST   /wps/rest/process         deploy (a WPS-T DeployProcess document)
    GET    /wps/rest/process/{id}    wps:ProcessOfferings of the process
    DELETE /wps/rest/process/{id}    undeploy
    GET    /wps/rest/job             the caller's jobs (an Atom feed linking them)
    POST   /wps/rest/job             execute (a wps:Execute document)
    GET    /wps/rest/job/{id}        wps:StatusInfo (with atom:link monitor and cancel)
    GET    /wps/rest/job/{id}/result wps:Result
    DELETE /wps/rest/job/{id}        dismiss

OPTIONS on each answers the methods it allows (Flask's automatic OPTIONS).

A StatusInfo of this binding carries the job's `monitor` (GET) and `cancel` (DELETE)
controls as `atom:link` elements, as the ER shows, and in the HTTP Link header too."""

from __future__ import annotations

from urllib.parse import quote

from flask import Flask, Response, request
from lxml import etree

from .errors import WpsError, response as error_response
from .requests import V2, WpsRequest, parse_xml
from .service import WpsService
from . import v2
from .v2 import STATUS, timestamp
from .xmlns import WPS2, XML_TYPE, serialize

ATOM = 'http://www.w3.org/2005/Atom'


def _body(operation: str) -> WpsRequest:
    """The WPS 2.0 `operation` document a REST resource takes: the path names the operation,
    so any other body is the client's bad parameter (400), never an unsupported one."""
    try:
        parsed = parse_xml(request.get_data())
    except WpsError as err:
        if err.code != 'OperationNotSupported':
            raise
        parsed = None
    if parsed is None or parsed.operation != operation or parsed.version != V2:
        raise WpsError('InvalidParameterValue', f'the body must be a WPS 2.0 {operation} '
                       'document', 'request')
    return parsed


def _status_info(reply: Response) -> etree._Element | None:
    """The wps:StatusInfo of an answer, if it is one."""
    if reply.mimetype != XML_TYPE:
        return None
    root = etree.fromstring(reply.get_data())
    return root if root.tag == f'{{{WPS2}}}StatusInfo' else None


class RestBinding:
    """The REST views over the WPS service."""

    def __init__(self, service: WpsService):
        self.service = service

    @property
    def root(self) -> str:
        return f'{self.service.endpoint}/rest'

    def capabilities(self) -> Response:
        return self.service.answer(WpsRequest('GetCapabilities', V2))

    def processes(self) -> Response:
        if request.method == 'POST':
            reply = self.service.answer(_body('DeployProcess'))
            identifier = etree.fromstring(reply.get_data()).findtext(
                f'.//{{{WPS2}}}ProcessSummary/{{http://www.opengis.net/ows/2.0}}Identifier')
            reply.status_code = 201
            reply.headers['Location'] = f'{self.root}/process/{quote(identifier or "")}'
            return reply
        capabilities = etree.fromstring(self.capabilities().get_data())
        contents = capabilities.find(f'{{{WPS2}}}Contents')
        return Response(serialize(contents), mimetype=XML_TYPE)

    def process(self, process_id: str) -> Response:
        if request.method == 'DELETE':
            self.service.engine.describe(process_id)  # NoSuchProcess as for any other id
            return self.service.transaction('UndeployProcess',
                                            {'processIdentifier': process_id})
        return self.service.answer(WpsRequest('DescribeProcess', V2,
                                              identifiers=[process_id]))

    def job_url(self, job_id: str) -> str:
        return f'{self.root}/job/{quote(job_id)}'

    def _linked(self, reply: Response) -> Response:
        """A StatusInfo answer with the job's controls as atom:link elements and as the
        Link header. This is the ER's own binding, so the links sit inside the StatusInfo
        as the ER shows; the KVP/XML bindings keep schema-valid WPS 2.0 (StatusInfo has no
        extension point) and send the controls in the Link header only."""
        info = _status_info(reply)
        if info is None:
            return reply
        url = self.job_url(info.findtext(f'{{{WPS2}}}JobID') or '')
        for rel, title in (('monitor', 'GET: the job status'),
                           ('cancel', 'DELETE: dismiss the job')):
            etree.SubElement(info, f'{{{ATOM}}}link', nsmap={'atom': ATOM}, rel=rel,
                             href=url, type=XML_TYPE, title=title)
        reply.set_data(serialize(info))
        reply.headers['Link'] = v2.links(url, url)
        return reply

    def jobs(self) -> Response:
        if request.method == 'POST':
            reply = self.service.answer(_body('Execute'))
            info = _status_info(reply)
            if info is not None:  # an asynchronous job: a new resource
                reply = self._linked(reply)
                reply.status_code = 201
                reply.headers['Location'] = self.job_url(info.findtext(f'{{{WPS2}}}JobID'))
            return reply
        return Response(serialize(self._feed()), mimetype='application/atom+xml')

    def _feed(self) -> etree._Element:
        feed = etree.Element(f'{{{ATOM}}}feed', nsmap={None: ATOM})
        etree.SubElement(feed, f'{{{ATOM}}}id').text = f'{self.root}/job'
        etree.SubElement(feed, f'{{{ATOM}}}title').text = 'WPS jobs'
        jobs = self.service.engine.jobs()
        updated = max((j['updated'] for j in jobs if j.get('updated')), default=None)
        etree.SubElement(feed, f'{{{ATOM}}}updated').text = timestamp(updated) if updated \
            else '1970-01-01T00:00:00Z'
        for job in jobs:
            entry = etree.SubElement(feed, f'{{{ATOM}}}entry')
            url = self.job_url(job['id'])
            etree.SubElement(entry, f'{{{ATOM}}}id').text = url
            etree.SubElement(entry, f'{{{ATOM}}}title').text = \
                f"{job['process_id']}: {STATUS.get(job['status'], job['status'])}"
            etree.SubElement(entry, f'{{{ATOM}}}updated').text = timestamp(
                job.get('updated') or job['created'])
            etree.SubElement(entry, f'{{{ATOM}}}link', href=url, rel='monitor',
                             type=XML_TYPE)
        return feed

    def job(self, job_id: str) -> Response:
        operation = 'Dismiss' if request.method == 'DELETE' else 'GetStatus'
        return self._linked(self.service.answer(WpsRequest(operation, V2, job_id=job_id)))

    def result(self, job_id: str) -> Response:
        return self.service.answer(WpsRequest('GetResult', V2, job_id=job_id))


def install(app: Flask, service: WpsService, prefix: str) -> None:
    rest = RestBinding(service)

    def guarded(view):
        def run(**kwargs):
            try:
                return view(**kwargs)
            except WpsError as err:
                return error_response(err, V2)
        run.__name__ = view.__name__
        return run

    base = prefix + '/wps/rest'
    for path, name, view, methods in (
            ('', 'capabilities', rest.capabilities, ['GET']),
            ('/process', 'processes', rest.processes, ['GET', 'POST']),
            ('/process/<process_id>', 'process', rest.process, ['GET', 'DELETE']),
            ('/job', 'jobs', rest.jobs, ['GET', 'POST']),
            ('/job/<job_id>', 'job', rest.job, ['GET', 'DELETE']),
            ('/job/<job_id>/result', 'result', rest.result, ['GET'])):
        app.add_url_rule(base + path, f'eoorder.wps_rest_{name}', guarded(view),
                         methods=methods)

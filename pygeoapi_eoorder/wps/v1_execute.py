"""WPS 1.0.0 Execute: the ExecuteResponse document (in the reply, and at the status
location while a stored execution runs), RawDataOutput, lineage."""

from __future__ import annotations

import json
from contextlib import ExitStack
from datetime import datetime, timezone
from urllib.parse import quote

from flask import Response
from lxml import etree

from . import describe, execute
from .errors import WpsError, report
from .raw import raw_output
from .requests import V1, WpsRequest
from .xmlns import O1, W1, WPS1, XML_TYPE, href, q, serialize
from .v1 import LANG

FINAL = ('successful', 'failed', 'dismissed')


def _xml(element: etree._Element) -> Response:
    return Response(serialize(element), mimetype=XML_TYPE)


def _timestamp(value: datetime | None) -> str:
    value = value or datetime.now(timezone.utc)
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _status(job: dict) -> etree._Element:
    created = {'creationTime': _timestamp(job.get('updated') or job.get('created'))}
    state, message = job['status'], job.get('message') or job['status']
    if state in ('accepted', 'created'):
        return W1.Status(W1.ProcessAccepted(message), created)
    if state == 'running':
        progress = str(max(0, min(99, int(job.get('progress') or 0))))
        return W1.Status(W1.ProcessStarted(message, percentCompleted=progress), created)
    if state == 'successful':
        return W1.Status(W1.ProcessSucceeded(message), created)
    error = job.get('error') or {}
    text = error.get('detail') or message if state == 'failed' else 'the job was dismissed'
    failure = report(WpsError('NoApplicableCode', text), V1)
    return W1.Status(W1.ProcessFailed(failure), created)


def _described(process: dict, p_id: str, outputs: bool) -> list:
    params = describe.outputs(process) if outputs else describe.inputs(process)
    p = next((p for p in params if p.id == p_id), None)
    return [O1.Identifier(p_id), O1.Title(p.title if p else p_id)]


def _lineage_inputs(process: dict, job: dict) -> etree._Element:
    element = W1.DataInputs()
    for name, values in (job.get('inputs') or {}).items():
        for value in values if isinstance(values, list) else [values]:
            entry = W1.Input(*_described(process, name, False))
            if isinstance(value, dict) and 'href' in value:
                entry.append(W1.Reference(href(str(value['href']))))
            elif isinstance(value, (dict, list)):
                entry.append(W1.Data(W1.ComplexData(json.dumps(value),
                                                    mimeType='application/json')))
            else:
                entry.append(W1.Data(W1.LiteralData(str(value))))
            element.append(entry)
    return element


def _lineage_outputs(process: dict, job: dict) -> etree._Element:
    requested = job.get('requested_outputs') or {
        p.id: {} for p in describe.outputs(process)}
    return W1.OutputDefinitions(*[
        W1.Output(*_described(process, name, True), asReference=str(
            (spec or {}).get('transmissionMode') == 'reference').lower())
        for name, spec in requested.items()])


def _output(process: dict, output: execute.Output) -> etree._Element:
    element = W1.Output(*_described(process, output.id, True))
    if output.href is not None:
        reference = W1.Reference(href=output.href)
        if output.mime_type:
            reference.set('mimeType', output.mime_type)
        element.append(reference)
    elif output.literal:
        element.append(W1.Data(W1.LiteralData(output.value or '')))
    else:
        data = W1.ComplexData()
        if output.xml is not None:
            data.append(output.xml)
        else:
            data.text = output.value
        for key, value in (('mimeType', output.mime_type), ('encoding', output.encoding)):
            if value:
                data.set(key, value)
        element.append(W1.Data(data))
    return element


def status_url(service, job: dict, lineage: bool) -> str:
    return f"{service.endpoint}/status/{quote(job['id'])}" + ('?lineage=true' if lineage else '')


def document(service, job: dict, process: dict, lineage: bool,
             stored: bool) -> etree._Element:
    """The ExecuteResponse of a job as it is now."""
    root = W1.ExecuteResponse(service='WPS', version=V1,
                              serviceInstance=f'{service.endpoint}?service=WPS&'
                              'request=GetCapabilities&version=1.0.0')
    root.set('{http://www.w3.org/XML/1998/namespace}lang', LANG)
    if stored:
        root.set('statusLocation', status_url(service, job, lineage))
    brief = [O1.Identifier(process['id']), O1.Title(process.get('title') or process['id'])]
    root.append(W1.Process(*brief, {q(WPS1, 'processVersion'):
                                    str(process.get('version') or '1.0.0')}))
    root.append(_status(job))
    if lineage:
        inputs = _lineage_inputs(process, job)
        if len(inputs):
            root.append(inputs)
        root.append(_lineage_outputs(process, job))
    if job['status'] == 'successful' and not job['files_removed']:
        outputs = execute.job_outputs(service.engine, job, process, service.base_url)
        root.append(W1.ProcessOutputs(*[_output(process, o) for o in outputs]))
    return root


def execute_v1(service, request: WpsRequest) -> Response:
    """Execute: answered when the job ends unless stored with status updates."""
    request.mode = 'async' if request.store and request.status else 'auto'
    with ExitStack() as waiting:
        process, job, asynchronous = execute.start(service.engine, request, waiting)
        if not asynchronous:
            job = service.engine.wait(job['id'])
    if request.response == 'raw':
        if job['status'] not in FINAL:
            raise WpsError('NoApplicableCode', f"job {job['id']} did not end in time; "
                           'ask for a stored response with status', status=500)
        if job['status'] != 'successful':
            raise service.failure(job)
        outputs = execute.job_outputs(service.engine, job, process, service.base_url)
        return raw_output(outputs[0] if outputs else None)
    stored = request.store or job['status'] not in FINAL
    return _xml(document(service, job, process, request.lineage, stored))


def status_document(service, job_id: str, args) -> Response:
    job = service.engine.job(job_id)
    lineage = (args.get('lineage') or '').lower() == 'true'
    return _xml(document(service, job, service.process_of(job), lineage, True))

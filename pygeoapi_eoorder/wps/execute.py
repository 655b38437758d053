"""Execute for both WPS versions: inputs checked against the process and converted to the
JSON inputs of the job engine; outputs of a finished job in their requested transmission."""

from __future__ import annotations

import base64
import json
from contextlib import ExitStack
from urllib.parse import quote, urlparse

from lxml import etree

from .. import xmlsafe
from ..errors import xml_carries
from ..execution.paths import UnsafePathError, safe_name
from . import describe, notify, transactions
from .describe import Output
from .engine import Engine
from .errors import WpsError
from .requests import InputValue, WpsRequest

SYNC, ASYNC = 'sync-execute', 'async-execute'


def _input_value(p: describe.Param, given: InputValue):
    if given.href is not None:
        parts = urlparse(given.href)
        if parts.scheme not in ('http', 'https', 'file') or not (parts.netloc or parts.path):
            raise WpsError('DataNotAccessible', f'input {p.id}: {given.href!r} is not a URL '
                           'the server can fetch', p.id)
        reference = {'href': given.href}
        if given.mime_type:
            reference['type'] = given.mime_type
        return reference
    if given.xml is not None:
        text = etree.tostring(given.xml, encoding='unicode')
        return text if p.kind != 'literal' else describe.literal_value(p, text)
    if p.kind == 'complex':
        return describe.complex_value(p, given.text or '', given.mime_type)
    return describe.literal_value(p, given.text or '')


def job_inputs(process: dict, request: WpsRequest) -> dict:
    """The JSON inputs of the job; WPS exceptions for unknown, missing or repeated ones."""
    params = {p.id: p for p in describe.inputs(process)}
    values: dict[str, list] = {}
    for given in request.inputs:
        p = params.get(given.id)
        if p is None:
            raise WpsError('NoSuchInput', f'input {given.id!r} is not an input of '
                           f"{process['id']} ({', '.join(params) or 'none'})", given.id)
        values.setdefault(given.id, []).append(_input_value(p, given))
    inputs = {}
    for pid, p in params.items():
        given = values.get(pid, [])
        if len(given) < p.min_occurs:
            raise WpsError('MissingParameterValue', f'input {pid} is required', pid)
        if p.max_occurs != 'unbounded' and len(given) > int(p.max_occurs):
            raise WpsError('TooManyInputs', f'input {pid}: at most {p.max_occurs} values',
                           pid)
        if given:
            many = p.max_occurs == 'unbounded' or int(p.max_occurs) > 1
            inputs[pid] = given if many else given[0]
    return inputs


def requested_outputs(process: dict, request: WpsRequest) -> dict | None:
    """`{id: {transmissionMode}}` of the requested outputs (None: all, by value)."""
    declared = {p.id: p for p in describe.outputs(process)}
    wanted = {}
    for output in request.outputs:
        if not output.id or output.id not in declared:
            raise WpsError('NoSuchOutput', f'output {output.id!r} is not an output of '
                           f"{process['id']} ({', '.join(declared)})", output.id)
        try:
            safe_name(output.id, 'output id')
        except UnsafePathError as err:
            raise WpsError('InvalidParameterValue', str(err), output.id) from None
        formats = declared[output.id].formats
        if output.mime_type and formats and output.mime_type not in formats \
                and declared[output.id].kind == 'complex':
            raise WpsError('NoSuchFormat', f'output {output.id}: {output.mime_type} is not '
                           f"one of {', '.join(formats)}", output.id)
        if output.transmission not in ('value', 'reference'):
            raise WpsError('InvalidParameterValue', f'output {output.id}: transmission '
                           'must be value or reference', output.id)
        wanted[output.id] = {'transmissionMode': output.transmission}
    if request.response == 'raw' and len(wanted or declared) > 1:
        raise WpsError('TooManyOutputs', 'a raw response carries exactly one output: name '
                       'it', 'Output')
    return wanted or None


def is_async(engine: Engine, process: dict, request: WpsRequest) -> bool:
    """Whether to answer before the job ends; NoSuchMode if the process cannot run so."""
    options = process.get('jobControlOptions') or [SYNC]
    if request.mode == 'sync' and SYNC not in options:
        raise WpsError('NoSuchMode', f"process {process['id']} runs only asynchronously",
                       'mode')
    if request.mode == 'async' and ASYNC not in options:
        raise WpsError('NoSuchMode', f"process {process['id']} runs only synchronously",
                       'mode')
    if request.mode == 'auto':
        return engine.manager.wants_async(process['id'], None)
    return request.mode == 'async'


def start(engine: Engine, request: WpsRequest, waiting: ExitStack
          ) -> tuple[dict, dict, bool]:
    """Check and submit an Execute request: (process, job, asynchronous); a synchronous
    one first takes a slot of the synchronous waits, held until `waiting` closes
    (ServerBusy if none is free)."""
    if not request.identifiers:
        raise WpsError('MissingParameterValue', 'ows:Identifier missing', 'Identifier')
    process = engine.describe(request.identifiers[0])
    inputs = job_inputs(process, request)
    outputs = requested_outputs(process, request)
    asynchronous = is_async(engine, process, request)
    handlers = notify.checked_handlers(engine.notifier(),
                                       notify.handler_uris(request.extension), asynchronous,
                                       engine.allows_internal(process['id']))
    if not asynchronous:
        waiting.enter_context(engine.manager.sync_slot())
    job = engine.submit(process['id'], inputs,
                        transactions.internal_outputs(process['id'], outputs), request.response,
                        handlers=handlers)
    return process, job, asynchronous


def output_url(base_url: str, job_id: str, name: str) -> str:
    """Where a value output is served by reference (see http.output_value)."""
    return f"{base_url.rstrip('/')}/wps/jobs/{quote(job_id)}/outputs/{quote(name)}"


def _modes(job: dict) -> dict:
    requested = job.get('requested_outputs')
    if not isinstance(requested, dict):
        return {}
    return {k: (v or {}).get('transmissionMode', 'value') for k, v in requested.items()}


def job_outputs(engine: Engine, job: dict, process: dict, base_url: str) -> list[Output]:
    """The outputs of a successful job in the requested (default: by value) transmission."""
    named = public_outputs(job['process_id'], engine.outputs(job, base_url))
    modes = {transactions.public_name(job['process_id'], k): v for k, v in _modes(job).items()}
    declared = {p.id: p for p in describe.outputs(process)}
    result = []
    for name, value in named.items():
        if modes and name not in modes:
            continue
        by_reference = modes.get(name) == 'reference'
        result.append(_output(engine, job, name, value, declared.get(name), by_reference,
                              base_url))
    return result


def public_outputs(process_id: str, named: dict) -> dict:
    """Outputs under their WPS names (the transactions' results as XML documents)."""
    public = {}
    for name, value in named.items():
        document = transactions.result_document(process_id, value)
        public[transactions.public_name(process_id, name)] = \
            value if document is None else document
    return public


def _output(engine: Engine, job: dict, name: str, value, p, by_reference: bool,
            base_url: str) -> Output:
    if isinstance(value, etree._Element):
        if by_reference:
            return Output(name, href=output_url(base_url, job['id'], name),
                          mime_type=transactions.XML_TYPE)
        return Output(name, xml=value, mime_type=transactions.XML_TYPE)
    if isinstance(value, dict) and set(value) <= {'href', 'type'} and 'href' in value:
        mime = value.get('type') or (p.formats[0] if p and p.kind == 'complex' else None)
        if by_reference:
            return Output(name, href=value['href'], mime_type=mime)
        content = engine.result_file(job, value['href'], base_url)
        if content is None:
            return Output(name, href=value['href'], mime_type=mime)
        return _inline(name, content, mime)
    if by_reference:
        mime = 'application/json' if isinstance(value, (dict, list)) else 'text/plain'
        return Output(name, href=output_url(base_url, job['id'], name), mime_type=mime)
    if isinstance(value, (dict, list)):
        return Output(name, value=json.dumps(value), mime_type='application/json')
    literal = p is None or p.kind == 'literal'
    if isinstance(value, str) and not literal:
        return _inline(name, value.encode('utf-8'), p.formats[0] if p else None)
    text = json.dumps(value) if isinstance(value, bool) else str(value)
    if not xml_carries(text):  # (e.g. control characters: XML text cannot hold them)
        return Output(name, href=output_url(base_url, job['id'], name), mime_type='text/plain')
    return Output(name, value=text, literal=literal,
                  mime_type=None if literal else (p.formats[0] if p else 'text/plain'))


def _inline(name: str, content: bytes, mime: str | None) -> Output:
    kind = (mime or '').split(';')[0].strip()
    if kind.endswith('xml'):
        try:
            return Output(name, xml=xmlsafe.parse(content), mime_type=mime)
        except xmlsafe.UnsafeXML:
            pass
    if kind.startswith('text/') or kind.endswith(('json', 'xml')):
        try:
            text = content.decode('utf-8')
        except UnicodeDecodeError:
            text = None
        if text is not None and xml_carries(text):
            return Output(name, value=text, mime_type=mime)
    return Output(name, value=base64.b64encode(content).decode(), mime_type=mime,
                  encoding='base64')

"""WPS 2.0 documents (OGC 14-065r2): Capabilities, ProcessOfferings, StatusInfo, Result."""

from __future__ import annotations

from datetime import datetime, timezone

from lxml import etree

from . import describe
from .describe import Output
from .xmlns import O2, OWS2, W2, XS_TYPES, href, q

OPERATIONS = ('GetCapabilities', 'DescribeProcess', 'Execute', 'GetStatus', 'GetResult',
              'Dismiss')
STATUS = {'accepted': 'Accepted', 'created': 'Accepted', 'running': 'Running',
          'successful': 'Succeeded', 'failed': 'Failed', 'dismissed': 'Dismissed'}


def timestamp(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')


def _description(p_title: str, abstract: str, keywords: list, identifier: str) -> list:
    """ows:Title, ows:Abstract, ows:Keywords, ows:Identifier (DescriptionType's order)."""
    parts = [O2.Title(p_title)]
    if abstract:
        parts.append(O2.Abstract(abstract))
    if keywords:
        parts.append(O2.Keywords(*[O2.Keyword(k) for k in keywords]))
    parts.append(O2.Identifier(identifier))
    return parts


def _operations(url: str, handler_schemes: tuple[str, ...]) -> etree._Element:
    """Every operation; Execute lists the URI schemes its ows:ResponseHandler accepts
    (push notification of an async job, Testbed-13 ER §6.6.6) as an ows:Constraint."""
    operations = []
    for name in OPERATIONS:
        operation = O2.Operation(O2.DCP(O2.HTTP(O2.Get(href(url)), O2.Post(href(url)))),
                                 name=name)
        if name == 'Execute' and handler_schemes:
            operation.append(O2.Constraint(O2.AllowedValues(
                *[O2.Value(s) for s in handler_schemes]), name='ResponseHandler'))
        operations.append(operation)
    return O2.OperationsMetadata(*operations)


def capabilities(service: dict, processes: list[dict], url: str,
                 handler_schemes: tuple[str, ...] = ()) -> etree._Element:
    """wps:Capabilities listing `processes` (their OGC API descriptions)."""
    identification = O2.ServiceIdentification(
        O2.Title(service['title']), O2.Abstract(service['abstract']),
        O2.ServiceType('WPS'), O2.ServiceTypeVersion('2.0.0'),
        O2.Fees('NONE'), O2.AccessConstraints('NONE'))
    provider = O2.ServiceProvider(O2.ProviderName(service['provider']),
                                  O2.ProviderSite(href(service['provider_url'])),
                                  O2.ServiceContact())
    summaries = [W2.ProcessSummary(*_description(p.get('title') or p['id'],
                                                 p.get('description') or '',
                                                 p.get('keywords') or [], p['id']),
                                   **_process_attributes(p))
                 for p in processes]
    return W2.Capabilities(identification, provider, _operations(url, handler_schemes),
                           W2.Contents(*summaries), service='WPS', version='2.0.0')


def _process_attributes(process: dict) -> dict:
    controls = [c for c in process.get('jobControlOptions') or ['sync-execute']
                if c in ('sync-execute', 'async-execute', 'dismiss')]
    if 'dismiss' not in controls:
        controls.append('dismiss')
    transmission = process.get('outputTransmission') or ['value', 'reference']
    attributes = {'jobControlOptions': ' '.join(controls),
                  'outputTransmission': ' '.join(transmission)}
    if process.get('version'):
        attributes['processVersion'] = str(process['version'])
    return attributes


def _data_description(p: describe.Param) -> etree._Element:
    if p.kind == 'complex':
        return W2.ComplexData(*[W2.Format(mimeType=m, **({'default': 'true'} if i == 0 else {}))
                                for i, m in enumerate(p.formats)])
    if p.kind == 'bbox':
        return W2.BoundingBoxData(W2.Format(mimeType='text/plain', default='true'),
                                  W2.SupportedCRS('http://www.opengis.net/def/crs/OGC/1.3/CRS84',
                                                  default='true'))
    values = O2.AllowedValues(*[O2.Value(v) for v in p.allowed]) if p.allowed else O2.AnyValue()
    domain = etree.Element('LiteralDataDomain', default='true')
    domain.append(values)
    domain.append(O2.DataType(p.data_type, {q(OWS2, 'reference'): XS_TYPES + p.data_type}))
    if p.default is not None and not isinstance(p.default, (dict, list)):
        domain.append(O2.DefaultValue(str(p.default).lower() if isinstance(p.default, bool)
                                      else str(p.default)))
    return W2.LiteralData(W2.Format(mimeType='text/plain', default='true'), domain)


def _input(p: describe.Param) -> etree._Element:
    attributes = {}
    if p.min_occurs != 1:
        attributes['minOccurs'] = str(p.min_occurs)
    if p.max_occurs != 1:
        attributes['maxOccurs'] = str(p.max_occurs)
    return W2.Input(*_description(p.title, p.abstract, p.keywords, p.id),
                    _data_description(p), **attributes)


def offering(process: dict) -> etree._Element:
    """wps:ProcessOffering of one process."""
    outputs = [W2.Output(*_description(p.title, p.abstract, p.keywords, p.id),
                         _data_description(p)) for p in describe.outputs(process)]
    body = W2.Process(*_description(process.get('title') or process['id'],
                                    process.get('description') or '',
                                    process.get('keywords') or [], process['id']),
                      *[_input(p) for p in describe.inputs(process)], *outputs)
    return W2.ProcessOffering(body, **_process_attributes(process))


def offerings(processes: list[dict]) -> etree._Element:
    return W2.ProcessOfferings(*[offering(p) for p in processes])


def status_info(job: dict, expiration: datetime | None) -> etree._Element:
    """wps:StatusInfo of a job, schema-valid (its monitor/cancel controls: the HTTP Link
    header; the REST-XML binding adds atom:link elements)."""
    parts = [W2.JobID(job['id']), W2.Status(STATUS.get(job['status'], job['status']))]
    if expiration is not None:
        parts.append(W2.ExpirationDate(timestamp(expiration)))
    if job['status'] not in ('successful', 'failed', 'dismissed'):
        next_poll = datetime.now(timezone.utc).timestamp() + 1
        parts.append(W2.NextPoll(timestamp(datetime.fromtimestamp(next_poll, timezone.utc))))
    if job['status'] == 'running' and job.get('progress') is not None:
        parts.append(W2.PercentCompleted(str(max(0, min(100, int(job['progress']))))))
    return W2.StatusInfo(*parts)


def output_element(output: Output) -> etree._Element:
    element = W2.Output(id=output.id)
    if output.href is not None:
        reference = W2.Reference(href(output.href))
        if output.mime_type:
            reference.set('mimeType', output.mime_type)
        element.append(reference)
        return element
    data = W2.Data()
    if output.literal:
        data.append(W2.LiteralValue(output.value or ''))
    elif output.xml is not None:
        data.append(output.xml)
    else:
        data.text = output.value
    for key, value in (('mimeType', output.mime_type), ('encoding', output.encoding)):
        if value:
            data.set(key, value)
    element.append(data)
    return element


def result(job: dict, outputs: list[Output], expiration: datetime | None) -> etree._Element:
    parts = [W2.JobID(job['id'])]
    if expiration is not None:
        parts.append(W2.ExpirationDate(timestamp(expiration)))
    return W2.Result(*parts, *[output_element(o) for o in outputs])


def links(job_url: str, cancel_url: str) -> str:
    """The monitor and cancel hypermedia controls of a job as an HTTP Link header."""
    return f'<{job_url}>; rel="monitor", <{cancel_url}>; rel="cancel"'

"""WPS 1.0.0 (OGC 05-007r7): Capabilities, ProcessDescriptions and ExecuteResponse, with
the status location document that follows a stored, asynchronous execution."""

from __future__ import annotations

from lxml import etree

from . import describe
from .requests import V1
from .xmlns import O1, OWS1, W1, WPS1, XML, href, q

OPERATIONS = ('GetCapabilities', 'DescribeProcess', 'Execute')
LANG = 'en-US'
TYPES = {'string': 'string', 'double': 'double', 'integer': 'integer', 'boolean': 'boolean'}


def _lang(element: etree._Element) -> etree._Element:
    element.set(q(XML, 'lang'), LANG)
    return element


def _version(process: dict) -> dict:
    return {q(WPS1, 'processVersion'): str(process.get('version') or '1.0.0')}


def _brief(process: dict) -> list:
    parts = [O1.Identifier(process['id']), O1.Title(process.get('title') or process['id'])]
    if process.get('description'):
        parts.append(O1.Abstract(process['description']))
    return parts


def capabilities(service: dict, processes: list[dict], url: str) -> etree._Element:
    operations = O1.OperationsMetadata(*[
        O1.Operation(O1.DCP(O1.HTTP(O1.Get(href(url + '?')), O1.Post(href(url)))), name=name)
        for name in OPERATIONS])
    return _lang(W1.Capabilities(
        O1.ServiceIdentification(O1.Title(service['title']), O1.Abstract(service['abstract']),
                                 O1.ServiceType('WPS'), O1.ServiceTypeVersion(V1),
                                 O1.Fees('NONE'), O1.AccessConstraints('NONE')),
        O1.ServiceProvider(O1.ProviderName(service['provider']),
                           O1.ProviderSite(href(service['provider_url'])), O1.ServiceContact()),
        operations,
        W1.ProcessOfferings(*[W1.Process(*_brief(p), _version(p)) for p in processes]),
        W1.Languages(W1.Default(O1.Language(LANG)), W1.Supported(O1.Language(LANG))),
        service='WPS', version=V1))


def _formats(p: describe.Param) -> list:
    default = etree.Element('Default')
    supported = etree.Element('Supported')
    for index, mime in enumerate(p.formats):
        for holder in ((default, supported) if index == 0 else (supported,)):
            element = etree.SubElement(holder, 'Format')
            etree.SubElement(element, 'MimeType').text = mime
    return [default, supported]


def _child(tag: str, *children, **attributes) -> etree._Element:
    element = etree.Element(tag, **attributes)
    for child in children:
        element.append(child)
    return element


def _data_type(p: describe.Param) -> etree._Element:
    kind = TYPES.get(p.data_type, 'string')
    return O1.DataType(kind, {q(OWS1, 'reference'): f'http://www.w3.org/TR/xmlschema-2/#{kind}'})


def _literal_input(p: describe.Param) -> etree._Element:
    values = O1.AllowedValues(*[O1.Value(v) for v in p.allowed]) if p.allowed else O1.AnyValue()
    element = _child('LiteralData', _data_type(p), values)
    if p.default is not None and not isinstance(p.default, (dict, list)):
        etree.SubElement(element, 'DefaultValue').text = str(p.default)
    return element


def _bbox(tag: str) -> etree._Element:
    crs = 'urn:ogc:def:crs:OGC:1.3:CRS84'
    default, supported = etree.Element('Default'), etree.Element('Supported')
    etree.SubElement(default, 'CRS').text = crs
    etree.SubElement(supported, 'CRS').text = crs
    return _child(tag, default, supported)


def _input(p: describe.Param) -> etree._Element:
    if p.kind == 'complex':
        data = _child('ComplexData', *_formats(p))
    elif p.kind == 'bbox':
        data = _bbox('BoundingBoxData')
    else:
        data = _literal_input(p)
    most = '999' if p.max_occurs == 'unbounded' else str(p.max_occurs)
    return _child('Input', *_brief({'id': p.id, 'title': p.title, 'description': p.abstract}),
                  data, minOccurs=str(p.min_occurs), maxOccurs=most)


def _output(p: describe.Param) -> etree._Element:
    if p.kind == 'complex':
        data = _child('ComplexOutput', *_formats(p))
    elif p.kind == 'bbox':
        data = _bbox('BoundingBoxOutput')
    else:
        data = _child('LiteralOutput', _data_type(p))
    return _child('Output', *_brief({'id': p.id, 'title': p.title, 'description': p.abstract}),
                  data)


def description(process: dict) -> etree._Element:
    controls = process.get('jobControlOptions') or ['sync-execute']
    async_ = 'true' if 'async-execute' in controls else 'false'
    inputs = [_input(p) for p in describe.inputs(process)]
    element = _child('ProcessDescription', *_brief(process), storeSupported=async_,
                     statusSupported=async_, **_version(process))
    if inputs:
        element.append(_child('DataInputs', *inputs))
    element.append(_child('ProcessOutputs', *[_output(p) for p in describe.outputs(process)]))
    return element


def descriptions(processes: list[dict]) -> etree._Element:
    return _lang(W1.ProcessDescriptions(*[description(p) for p in processes],
                                        service='WPS', version=V1))

"""WPS requests (XML POST, SOAP 1.1/1.2 bodies, KVP GET) as one neutral model."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote

from lxml import etree

from .. import xmlsafe
from .errors import WpsError
from .xmlns import OWS1, OWS2, SOAP11, SOAP12, WPS1, WPS2, XLINK, q

OPERATIONS = ('GetCapabilities', 'DescribeProcess', 'Execute', 'GetStatus', 'GetResult',
              'Dismiss', 'DeployProcess', 'UndeployProcess')
V1, V2 = '1.0.0', '2.0.0'
VERSIONS = {WPS1: V1, WPS2: V2}


@dataclass
class InputValue:
    """One input value: inline text or XML, or a reference (href)."""

    id: str
    text: str | None = None
    xml: etree._Element | None = None
    href: str | None = None
    mime_type: str | None = None
    literal: bool | None = None  # WPS 1.0.0 says which (LiteralData / ComplexData)


@dataclass
class OutputRequest:
    id: str
    transmission: str = 'value'  # value | reference
    mime_type: str | None = None


@dataclass
class WpsRequest:
    operation: str
    version: str
    identifiers: list[str] = field(default_factory=list)
    job_id: str | None = None
    inputs: list[InputValue] = field(default_factory=list)
    outputs: list[OutputRequest] = field(default_factory=list)
    mode: str = 'auto'  # sync | async | auto
    response: str = 'document'  # document | raw
    lineage: bool = False
    status: bool = False
    store: bool = False
    accept_versions: list[str] = field(default_factory=list)
    extension: etree._Element | None = None
    element: etree._Element | None = None
    soap: str | None = None


# -- XML ----------------------------------------------------------------------------------
def _unwrap_soap(root: etree._Element) -> tuple[etree._Element, str | None]:
    for soap in (SOAP12, SOAP11):
        if root.tag == q(soap, 'Envelope'):
            body = root.find(q(soap, 'Body'))
            children = [c for c in (body if body is not None else []) if isinstance(c.tag, str)]
            if len(children) != 1:
                raise WpsError('MissingParameterValue', 'the SOAP Body holds no WPS request')
            return children[0], soap
    return root, None


def parse_xml(body: bytes) -> WpsRequest:
    try:
        root = xmlsafe.parse(body)
    except xmlsafe.UnsafeXML as err:
        raise WpsError('NoApplicableCode', str(err), status=400) from None
    root, soap = _unwrap_soap(root)
    qname = etree.QName(root)
    namespace, name = qname.namespace or '', qname.localname
    if namespace not in VERSIONS:
        raise WpsError('OperationNotSupported', f'{etree.QName(root).localname}: not a WPS '
                       '1.0.0 or 2.0 request', 'request')
    if name not in OPERATIONS:
        raise WpsError('OperationNotSupported', f'operation {name} is not supported',
                       'request')
    version = VERSIONS[namespace]
    if root.get('service', 'WPS') != 'WPS':
        raise WpsError('InvalidParameterValue', 'service must be WPS', 'service')
    if name != 'GetCapabilities' and root.get('version') not in (None, V1, V2, '2.0.2'):
        raise WpsError('VersionNegotiationFailed', f"version {root.get('version')} is not "
                       'supported (1.0.0, 2.0.0)', 'version')
    request = WpsRequest(operation=name, version=version, element=root, soap=soap)
    ows = OWS1 if version == V1 else OWS2
    request.identifiers = [(e.text or '').strip() for e in root.findall(q(ows, 'Identifier'))]
    job = root.find(q(WPS2, 'JobID'))
    request.job_id = (job.text or '').strip() if job is not None else None
    request.accept_versions = [(e.text or '').strip()
                               for e in root.iter(q(OWS1, 'Version'), q(OWS2, 'Version'))]
    request.extension = root.find(q(namespace, 'Extension'))
    if name == 'Execute':
        (_execute_v1 if version == V1 else _execute_v2)(root, request)
    return request


def _content(element: etree._Element) -> tuple[str | None, etree._Element | None]:
    """Inline data: its text, or its XML content (several elements: as text)."""
    children = [c for c in element if isinstance(c.tag, str)]
    if len(children) == 1:
        return None, children[0]
    if children:
        return ''.join(etree.tostring(c, encoding='unicode', with_tail=False)
                       for c in children), None
    return element.text or '', None


def _input_v2(element: etree._Element, parent: str | None = None) -> list[InputValue]:
    pid = element.get('id')
    if not pid:
        raise WpsError('MissingParameterValue', 'an Input has no id', 'id')
    nested = element.findall(q(WPS2, 'Input'))
    if nested:
        raise WpsError('InvalidParameterValue', f'input {pid}: nested inputs are not '
                       'supported by these processes', pid)
    data, reference = element.find(q(WPS2, 'Data')), element.find(q(WPS2, 'Reference'))
    if reference is not None:
        return [InputValue(pid, href=reference.get(q(XLINK, 'href')),
                           mime_type=reference.get('mimeType'))]
    if data is None:
        raise WpsError('MissingParameterValue', f'input {pid}: no Data or Reference', pid)
    literal = data.find(q(WPS2, 'LiteralValue'))
    if literal is not None:
        return [InputValue(pid, text=literal.text or '', literal=True)]
    text, xml = _content(data)
    return [InputValue(pid, text=text, xml=xml, mime_type=data.get('mimeType'))]


def _execute_v2(root: etree._Element, request: WpsRequest) -> None:
    request.mode = root.get('mode') or 'auto'
    request.response = root.get('response') or 'document'
    if request.mode not in ('sync', 'async', 'auto'):
        raise WpsError('NoSuchMode', f'mode {request.mode!r}: sync, async or auto', 'mode')
    if request.response not in ('raw', 'document'):
        raise WpsError('InvalidParameterValue', 'response: raw or document', 'response')
    for element in root.findall(q(WPS2, 'Input')):
        request.inputs.extend(_input_v2(element))
    request.outputs = [OutputRequest(o.get('id'), o.get('transmission') or 'value',
                                     o.get('mimeType'))
                       for o in root.findall(q(WPS2, 'Output'))]


def _identifier_v1(element: etree._Element) -> str:
    found = element.find(q(OWS1, 'Identifier'))
    if found is None or not (found.text or '').strip():
        raise WpsError('MissingParameterValue', 'ows:Identifier missing', 'Identifier')
    return found.text.strip()


def _input_v1(element: etree._Element) -> InputValue:
    pid = _identifier_v1(element)
    reference = element.find(q(WPS1, 'Reference'))
    if reference is not None:
        return InputValue(pid, href=reference.get(q(XLINK, 'href')),
                          mime_type=reference.get('mimeType'))
    data = element.find(q(WPS1, 'Data'))
    if data is None:
        raise WpsError('MissingParameterValue', f'input {pid}: no Data or Reference', pid)
    literal = data.find(q(WPS1, 'LiteralData'))
    if literal is not None:
        return InputValue(pid, text=literal.text or '', literal=True)
    bbox = data.find(q(WPS1, 'BoundingBoxData'))
    if bbox is not None:
        corners = [(bbox.findtext(q(OWS1, c)) or '').split() for c in ('LowerCorner',
                                                                       'UpperCorner')]
        return InputValue(pid, text=','.join(corners[0] + corners[1]), literal=True)
    complex_ = data.find(q(WPS1, 'ComplexData'))
    if complex_ is None:
        raise WpsError('MissingParameterValue', f'input {pid}: empty Data', pid)
    text, xml = _content(complex_)
    return InputValue(pid, text=text, xml=xml, mime_type=complex_.get('mimeType'),
                      literal=False)


def _execute_v1(root: etree._Element, request: WpsRequest) -> None:
    inputs = root.find(q(WPS1, 'DataInputs'))
    request.inputs = [_input_v1(e) for e in (inputs if inputs is not None else [])
                      if e.tag == q(WPS1, 'Input')]
    form = root.find(q(WPS1, 'ResponseForm'))
    raw = form.find(q(WPS1, 'RawDataOutput')) if form is not None else None
    document = form.find(q(WPS1, 'ResponseDocument')) if form is not None else None
    if raw is not None:
        request.response = 'raw'
        request.outputs = [OutputRequest(_identifier_v1(raw), 'value', raw.get('mimeType'))]
    elif document is not None:
        request.store = _true(document.get('storeExecuteResponse'))
        request.status = _true(document.get('status'))
        request.lineage = _true(document.get('lineage'))
        request.outputs = [OutputRequest(_identifier_v1(o), 'reference' if _true(
            o.get('asReference')) else 'value', o.get('mimeType'))
            for o in document.findall(q(WPS1, 'Output'))]
    request.mode = 'async' if request.store and request.status else 'sync'


def _true(value: str | None) -> bool:
    return (value or '').strip().lower() in ('true', '1')


# -- KVP ----------------------------------------------------------------------------------
def parse_kvp(args) -> WpsRequest:
    """A KVP request (parameter names are case-insensitive, OWS Common §11.5.2)."""
    params = {key.lower(): value for key, value in args.items()}
    if not params.get('request'):
        raise WpsError('MissingParameterValue', 'request parameter missing', 'request')
    if params.get('service', '').upper() != 'WPS':
        raise WpsError('MissingParameterValue' if 'service' not in params else
                       'InvalidParameterValue', 'service must be WPS', 'service')
    name = next((op for op in OPERATIONS if op.lower() == params['request'].lower()), None)
    if name is None:
        raise WpsError('OperationNotSupported', f"operation {params['request']} is not "
                       'supported', 'request')
    accept = [v.strip() for v in params.get('acceptversions', '').split(',') if v.strip()]
    version = params.get('version')
    if name == 'GetCapabilities':
        version = _negotiate(accept or ([version] if version else []))
    elif not version:
        raise WpsError('MissingParameterValue', 'version parameter missing', 'version')
    elif version not in (V1, V2, '2.0.2'):
        raise WpsError('VersionNegotiationFailed', f'version {version} is not supported '
                       '(1.0.0, 2.0.0)', 'version')
    version = V1 if version == V1 else V2
    request = WpsRequest(operation=name, version=version, accept_versions=accept)
    request.identifiers = [i for i in params.get('identifier', '').split(',') if i]
    request.job_id = params.get('jobid')
    if name == 'Execute':
        _execute_kvp(params, request)
    return request


def _negotiate(accepted: list[str]) -> str:
    """The version for GetCapabilities: the first accepted one we speak, else 2.0.0."""
    if not accepted:
        return V2
    for version in accepted:
        if version in (V2, '2.0.2'):
            return V2
        if version == V1:
            return V1
    raise WpsError('VersionNegotiationFailed', f"none of {', '.join(accepted)} is "
                   'supported (1.0.0, 2.0.0)', 'AcceptVersions')


def _kvp_items(text: str) -> list[tuple[str, dict]]:
    """`id=value@attr=v;id2@attr=v` (WPS 1.0.0 §10.2.2.1) as (id, {'': value, attr: v})."""
    text = text.strip()
    if text.startswith('[') and text.endswith(']'):
        text = text[1:-1]
    items = []
    for part in filter(None, text.split(';')):
        head, *attributes = part.split('@')
        key, has_value, value = head.partition('=')
        values = {'': unquote(value)} if has_value else {}
        for attribute in attributes:
            name, _, attribute_value = attribute.partition('=')
            values[name.lower()] = unquote(attribute_value)
        items.append((unquote(key.strip()), values))
    return items


def _execute_kvp(params: dict, request: WpsRequest) -> None:
    if not request.identifiers:
        raise WpsError('MissingParameterValue', 'identifier parameter missing', 'Identifier')
    for pid, values in _kvp_items(params.get('datainputs', '')):
        href = values.get('xlink:href') or values.get('href')
        request.inputs.append(InputValue(pid, text=None if href else values.get('', ''),
                                         href=href, mime_type=values.get('mimetype')))
    if params.get('rawdataoutput'):
        request.response = 'raw'
        pid, values = _kvp_items(params['rawdataoutput'])[0]
        request.outputs = [OutputRequest(pid, 'value', values.get('mimetype'))]
    else:
        request.outputs = [OutputRequest(pid, 'reference' if _true(values.get('asreference'))
                                         else 'value', values.get('mimetype'))
                           for pid, values in _kvp_items(params.get('responsedocument', ''))]
    request.store = _true(params.get('storeexecuteresponse'))
    request.status = _true(params.get('status'))
    request.lineage = _true(params.get('lineage'))
    if request.version == V2:
        request.mode = params.get('mode', 'auto')
        request.response = params.get('response', request.response)
    else:
        request.mode = 'async' if request.store and request.status else 'sync'

"""The OGC Testbed-13 application package: an OWS Context (Atom) document whose entry has a
Docker offering (the image) and a WPS 2.0 process offering (the process description)."""

from __future__ import annotations

from lxml import etree

from ..xmlsafe import UnsafeXML, parse
from .packages import (ExecutionUnit, Package, PackageError, check_image,
                       check_process_description)

ATOM_TYPE = 'application/atom+xml'
NS = {'atom': 'http://www.w3.org/2005/Atom', 'owc': 'http://www.opengis.net/owc/1.0',
      'wps': 'http://www.opengis.net/wps/2.0', 'ows': 'http://www.opengis.net/ows/2.0',
      'dc': 'http://purl.org/dc/elements/1.1/'}
DOCKER_CODE = 'http://www.opengis.net/tb13/eoc/docker'
WPS_CODE = 'http://www.opengis.net/tb13/eoc/wpsProcessOffering'
XSD_TYPES = {'string': 'string', 'integer': 'integer', 'int': 'integer', 'long': 'integer',
             'double': 'number', 'float': 'number', 'decimal': 'number', 'boolean': 'boolean',
             'anyURI': 'string', 'dateTime': 'string', 'date': 'string'}


def _text(node, path: str) -> str | None:
    found = node.find(path, NS)
    return found.text.strip() if found is not None and found.text else None


def _any(node, local: str):
    """A child element by local name whatever its namespace (WPS 2.0 puts
    LiteralDataDomain in none)."""
    return next((child for child in node.iter() if etree.QName(child).localname == local), None)


def _literal_schema(data) -> dict:
    domain = _any(data, 'LiteralDataDomain')
    schema: dict = {'type': 'string'}
    if domain is None:
        return schema
    data_type = _any(domain, 'DataType')
    if data_type is not None:
        name = (data_type.text or data_type.get(f"{{{NS['ows']}}}reference", '')).strip()
        schema['type'] = XSD_TYPES.get(name.rsplit('#', 1)[-1].split(':')[-1], 'string')
    cast = {'integer': int, 'number': float,
            'boolean': lambda v: v.lower() in ('true', '1')}.get(schema['type'], str)
    values = [v.text.strip() for v in domain.iter(f"{{{NS['ows']}}}Value") if v.text]
    try:
        if values:
            schema['enum'] = [cast(v) for v in values]
        default = _any(domain, 'DefaultValue')
        if default is not None and default.text:
            schema['default'] = cast(default.text.strip())
    except ValueError:
        raise PackageError('wps:LiteralDataDomain: a value does not match the DataType') from None
    for bound, key in (('MinimumValue', 'minimum'), ('MaximumValue', 'maximum')):
        found = _any(domain, bound)
        if found is not None and found.text and schema['type'] in ('integer', 'number'):
            try:
                schema[key] = float(found.text)
            except ValueError:
                raise PackageError(f'wps:LiteralDataDomain/ows:{bound}: not a number') from None
    return schema


def _occurs(node, name: str, identifier: str, unbounded: bool = False) -> int | str:
    value = node.get(name, '1').strip()
    if unbounded and value == 'unbounded':
        return value
    if not (value.isascii() and value.isdigit()):  # not '²' either
        raise PackageError(f'wps:Input {identifier}: {name} must be a non-negative integer'
                           + (" or 'unbounded'" if unbounded else ''))
    return int(value)


def _parameter(node, kind: str) -> tuple[str, dict]:
    identifier = _text(node, 'ows:Identifier')
    if not identifier:
        raise PackageError(f'wps:{kind}/ows:Identifier: missing')
    spec: dict = {'title': _text(node, 'ows:Title') or identifier}
    abstract = _text(node, 'ows:Abstract')
    if abstract:
        spec['description'] = abstract
    if kind == 'Input':
        spec['minOccurs'] = _occurs(node, 'minOccurs', identifier)
        spec['maxOccurs'] = _occurs(node, 'maxOccurs', identifier, unbounded=True)
    literal = node.find('wps:LiteralData', NS)
    complex_ = node.find('wps:ComplexData', NS)
    bbox = node.find('wps:BoundingBoxData', NS)
    if literal is not None:
        spec['schema'] = _literal_schema(literal)
    elif complex_ is not None:
        formats = [f.get('mimeType') for f in complex_.findall('wps:Format', NS)
                   if f.get('mimeType')]
        spec['schema'] = {'type': 'string', 'contentMediaType': (formats or
                                                                ['application/octet-stream'])[0]}
    elif bbox is not None:
        spec['schema'] = {'type': 'object', 'required': ['bbox'],
                          'properties': {'bbox': {'type': 'array', 'minItems': 4,
                                                  'maxItems': 6,
                                                  'items': {'type': 'number'}}}}
    else:
        raise PackageError(f'wps:{kind} {identifier}: needs LiteralData, ComplexData or '
                           'BoundingBoxData')
    return identifier, spec


def _process(offering, entry) -> dict:
    process_offering = offering.find('.//wps:ProcessOffering', NS)
    if process_offering is None:
        raise PackageError('owc:offering (wpsProcessOffering): no wps:ProcessOffering')
    process = process_offering.find('wps:Process', NS)
    if process is None:
        raise PackageError('wps:ProcessOffering/wps:Process: missing')
    identifier = _text(process, 'ows:Identifier') or _text(entry, 'dc:identifier')
    options = [o for o in process_offering.get('jobControlOptions', '').split()
               if o in ('sync-execute', 'async-execute', 'dismiss')]
    inputs = dict(_parameter(n, 'Input') for n in process.findall('wps:Input', NS))
    outputs = dict(_parameter(n, 'Output') for n in process.findall('wps:Output', NS))
    description = {'id': identifier, 'version': process_offering.get('processVersion', '1.0.0'),
                   'title': _text(process, 'ows:Title') or identifier,
                   'description': _text(process, 'ows:Abstract') or _text(entry, 'atom:content')
                   or identifier, 'inputs': inputs, 'outputs': outputs}
    if options:
        description['jobControlOptions'] = [o for o in options if o != 'dismiss'] or [
            'async-execute']
    return description


def parse_owc_package(raw: bytes) -> Package:
    """Parse a Testbed-13 OWS Context application package."""
    try:
        root = parse(raw)
    except UnsafeXML as err:
        raise PackageError(f'package: {err}') from None
    entry = root if etree.QName(root).localname == 'entry' else root.find('atom:entry', NS)
    if entry is None:
        raise PackageError('atom:entry: missing (an OWS Context feed with one entry per '
                           'application)')
    offerings = {o.get('code'): o for o in entry.findall('owc:offering', NS)}
    docker = offerings.get(DOCKER_CODE)
    if docker is None:
        raise PackageError(f'owc:offering: no offering with code {DOCKER_CODE}')
    image = check_image(_text(docker, 'owc:content'), 'owc:offering (docker)/owc:content')
    wps = offerings.get(WPS_CODE)
    if wps is None:
        raise PackageError(f'owc:offering: no offering with code {WPS_CODE}')
    process = check_process_description(_process(wps, entry))
    return Package(process=process, units=[ExecutionUnit(kind='docker', image=image)],
                   media_type=ATOM_TYPE, raw=raw.decode('utf-8', 'replace'))

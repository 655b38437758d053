"""Process descriptions of OGC API - Processes (JSON schemas) as WPS parameters: literal,
complex (a media type) or bounding box, and the conversion of WPS values to JSON inputs."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from lxml import etree
from pygeoapi import l10n

from .errors import WpsError

LITERAL_TYPES = {'string': 'string', 'number': 'double', 'integer': 'integer',
                 'boolean': 'boolean'}
JSON_TYPE = 'application/json'
ENGLISH = l10n.str2locale('en')  # the WPS documents declare xml:lang="en"


@dataclass
class Param:
    """One input or output of a process, as WPS describes it."""

    id: str
    title: str
    abstract: str = ''
    keywords: list = field(default_factory=list)
    kind: str = 'literal'  # literal | complex | bbox
    data_type: str = 'string'
    allowed: list | None = None
    formats: list = field(default_factory=lambda: ['text/plain'])
    min_occurs: int = 1
    max_occurs: int | str = 1
    default: object = None


def english(value, language=ENGLISH):
    """`value` with every language struct (`{'en': ..., 'fr': ...}`, as pygeoapi allows in
    titles and descriptions) replaced by its `language` text; other values kept as they are.
    Not pygeoapi's translate_struct: it also runs every plain string through gettext, whose
    cache is filled without a lock (concurrent first requests failed with a 500)."""
    if isinstance(value, list):
        return [english(item, language) for item in value]
    if not isinstance(value, dict):
        return value
    chosen = l10n.translate(value, language) if value and not any(
        isinstance(item, (dict, list)) for item in value.values()) else value
    if not isinstance(chosen, dict):
        return chosen
    return {key: english(item, language) for key, item in chosen.items()}


def _variants(schema: dict) -> list[dict]:
    for key in ('oneOf', 'anyOf'):
        if isinstance(schema.get(key), list):
            return [s for s in schema[key] if isinstance(s, dict)] or [{}]
    return [schema]


def _is_bbox(schema: dict) -> bool:
    return schema.get('format') == 'ogc-bbox' or '$ref' in schema and \
        str(schema['$ref']).endswith('bbox.yaml')


def param(pid: str, spec: dict | None) -> Param:
    """The WPS view of an input or output description of OGC API - Processes."""
    spec = spec or {}
    schema = spec.get('schema') if isinstance(spec.get('schema'), dict) else {}
    variants = _variants(schema)
    keywords = [str(k) for k in spec.get('keywords') or []]
    result = Param(id=pid, title=str(spec.get('title') or pid),
                   abstract=str(spec.get('description') or ''), keywords=keywords,
                   min_occurs=int(spec.get('minOccurs', 1)),
                   max_occurs=spec.get('maxOccurs', 1), default=schema.get('default'))
    if schema.get('type') == 'array' and isinstance(schema.get('items'), dict):
        variants = _variants(schema['items'])
        result.max_occurs = schema.get('maxItems', 'unbounded')
    media = [v['contentMediaType'] for v in variants if v.get('contentMediaType')]
    if any(_is_bbox(v) for v in variants):
        result.kind, result.formats = 'bbox', []
    elif media or any(v.get('type') in ('object', 'array') for v in variants):
        result.kind = 'complex'
        result.formats = list(dict.fromkeys(media or [JSON_TYPE]))
    else:
        literal = variants[0]
        result.data_type = LITERAL_TYPES.get(literal.get('type'), 'string')
        if isinstance(literal.get('enum'), list):
            result.allowed = [str(v) for v in literal['enum']]
    return result


def inputs(process: dict) -> list[Param]:
    return [param(pid, spec) for pid, spec in (process.get('inputs') or {}).items()]


def outputs(process: dict) -> list[Param]:
    return [param(pid, spec) for pid, spec in (process.get('outputs') or {}).items()]


def literal_value(p: Param, text: str):
    """A literal's text as the JSON value of its type."""
    text = text.strip()
    try:
        if p.data_type == 'integer':
            return int(text)
        if p.data_type == 'double':
            return float(text)
    except ValueError:
        raise WpsError('InvalidParameterValue',
                       f'input {p.id}: {text!r} is not a {p.data_type}', p.id) from None
    if p.data_type == 'boolean':
        if text.lower() not in ('true', 'false', '1', '0'):
            raise WpsError('InvalidParameterValue', f'input {p.id}: {text!r} is not a boolean',
                           p.id)
        return text.lower() in ('true', '1')
    if p.allowed is not None and text not in p.allowed:
        raise WpsError('InvalidParameterValue', f'input {p.id}: {text!r} is not one of '
                       f'{", ".join(p.allowed)}', p.id)
    return text


def complex_value(p: Param, text: str, mime_type: str | None):
    """Inline complex data as the JSON value the process expects (JSON parsed, else text)."""
    if (mime_type or p.formats[0]) == JSON_TYPE or mime_type is None and JSON_TYPE in p.formats \
            and text.lstrip()[:1] in ('{', '['):
        try:
            return json.loads(text)
        except ValueError:
            raise WpsError('InvalidParameterValue', f'input {p.id}: not valid JSON',
                           p.id) from None
    if mime_type and mime_type not in p.formats and not mime_type.startswith('text/'):
        raise WpsError('NoSuchFormat', f'input {p.id}: {mime_type} is not one of '
                       f'{", ".join(p.formats)}', p.id)
    return text


@dataclass
class Output:
    """One output of a finished job, ready to encode."""

    id: str
    value: str | None = None  # inline text (base64 when encoding is base64)
    href: str | None = None
    mime_type: str | None = None
    encoding: str | None = None
    literal: bool = False
    xml: etree._Element | None = None

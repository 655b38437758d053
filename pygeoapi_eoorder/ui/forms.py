"""Execute forms generated from OGC API - Processes descriptions.

Each input of a process description becomes one `Field`: its widget follows the input's JSON
schema, the way the Testbed-13 application management clients built their forms:

- `enum` → a select of the allowed values; `boolean` → a checkbox;
- `integer` / `number` → a number field with `minimum`/`maximum` (exclusive bounds too);
- a file (`contentMediaType`, `contentEncoding`, `format: uri|url`, or a `oneOf`/`anyOf`
  holding one) → a URL field with a catalogue search to pick a product from;
- a bounding box (`format: ogc-bbox`, or an object with `bbox`) → four numbers;
- other objects and arrays of objects → a JSON text area;
- `maxOccurs > 1` or `type: array` of literals → one value per line.

The page's script reads `data-kind` and `data-type` to build the execute request, so the
request carries typed values (numbers as numbers, files as `{"href": ...}`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

FILE_FORMATS = {'uri', 'url', 'iri', 'uri-reference'}


@dataclass
class Field:
    id: str
    title: str
    description: str
    kind: str                     # literal | enum | boolean | file | bbox | json
    type: str = 'string'          # string | integer | number | boolean
    required: bool = True
    multiple: bool = False
    default: Any = None
    values: list = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    exclusive_maximum: bool = False
    pattern: str | None = None
    media_type: str | None = None

    @property
    def step(self) -> str:
        return '1' if self.type == 'integer' else 'any'


def _alternatives(schema: dict) -> list[dict]:
    for key in ('oneOf', 'anyOf'):
        if isinstance(schema.get(key), list):
            return [s for s in schema[key] if isinstance(s, dict)]
    return []


def _media_type(schema: dict) -> str | None:
    """The media type when `schema` (or one of its alternatives) describes a file."""
    if schema.get('contentMediaType') or schema.get('contentEncoding') in ('binary', 'base64'):
        return schema.get('contentMediaType') or 'application/octet-stream'
    if schema.get('format') in FILE_FORMATS:
        return schema.get('contentMediaType') or '*/*'
    for alternative in _alternatives(schema):
        found = _media_type(alternative)
        if found:
            return found
    return None


def _is_bbox(schema: dict) -> bool:
    if schema.get('format') == 'ogc-bbox' or str(schema.get('$ref', '')).endswith('bbox.yaml'):
        return True
    props = schema.get('properties') or {}
    return schema.get('type') == 'object' and 'bbox' in props or \
        any(_is_bbox(a) for a in _alternatives(schema))


def _number(value) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def field_for(input_id: str, description: dict) -> Field:
    """The form field of one input of a process description."""
    schema = description.get('schema') or {}
    max_occurs = description.get('maxOccurs', 1)
    multiple = max_occurs == 'unbounded' or (isinstance(max_occurs, int) and max_occurs > 1)
    if schema.get('type') == 'array' and isinstance(schema.get('items'), dict):
        multiple, schema = True, schema['items']
    base = {'id': input_id, 'title': description.get('title') or input_id,
            'description': description.get('description') or '',
            'required': int(description.get('minOccurs', 1) or 0) > 0, 'multiple': multiple,
            'default': schema.get('default')}
    media_type = _media_type(schema)
    if media_type:
        return Field(kind='file', media_type=media_type, **base)
    if _is_bbox(schema):
        return Field(kind='bbox', **base)
    literal = schema
    if not literal.get('type') and not literal.get('enum'):
        typed = [a for a in _alternatives(schema) if a.get('type') in
                 ('string', 'integer', 'number', 'boolean')]
        literal = typed[0] if typed else literal
    kind_type = literal.get('type') or 'string'
    if kind_type in ('object', 'array') or (not literal.get('type') and
                                            not literal.get('enum') and _alternatives(schema)):
        return Field(kind='json', type='object', **base)
    if kind_type not in ('string', 'integer', 'number', 'boolean'):
        kind_type = 'string'
    if literal.get('enum'):
        return Field(kind='enum', type=kind_type, values=list(literal['enum']), **base)
    if kind_type == 'boolean':
        return Field(kind='boolean', type='boolean', **base)
    minimum, maximum = _number(literal.get('minimum')), _number(literal.get('maximum'))
    exclusive_min = exclusive_max = False
    if _number(literal.get('exclusiveMinimum')) is not None:
        minimum, exclusive_min = literal['exclusiveMinimum'], True
    elif literal.get('exclusiveMinimum') is True:
        exclusive_min = True
    if _number(literal.get('exclusiveMaximum')) is not None:
        maximum, exclusive_max = literal['exclusiveMaximum'], True
    elif literal.get('exclusiveMaximum') is True:
        exclusive_max = True
    return Field(kind='literal', type=kind_type, minimum=minimum, maximum=maximum,
                 exclusive_minimum=exclusive_min, exclusive_maximum=exclusive_max,
                 pattern=literal.get('pattern'), **base)


def fields(description: dict) -> list[Field]:
    """The form fields of a process description, in the order of its inputs."""
    inputs = description.get('inputs') or {}
    if isinstance(inputs, list):  # OGC API - Processes drafts used a list with ids
        inputs = {i.get('id'): i for i in inputs if isinstance(i, dict) and i.get('id')}
    return [field_for(str(key), value or {}) for key, value in inputs.items()]

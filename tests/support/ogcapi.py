"""Validation of OGC API - Processes answers against the official Part 1 1.0 schemas
(local copies in tests/data/ogcapi-processes-1.0), independent of the server's code."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from pathlib import Path

import jsonschema
import yaml
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SCHEMAS = Path(__file__).resolve().parents[1] / 'data' / 'ogcapi-processes-1.0' / 'schemas'
FORMATS = jsonschema.FormatChecker(formats=())


@FORMATS.checks('date-time', raises=ValueError)
def _rfc3339(value) -> bool:
    """RFC 3339 date-time: a full date and time with its offset (or Z)."""
    if not isinstance(value, str):
        return True
    if 'T' not in value.upper():
        raise ValueError(f'{value!r} has no time')
    parsed = datetime.fromisoformat(value.replace('Z', '+00:00').replace('z', '+00:00'))
    if parsed.tzinfo is None:
        raise ValueError(f'{value!r} has no UTC offset')
    return True


@cache
def _registry() -> Registry:
    """Every schema file under its own name, so that relative `$ref`s resolve offline. They
    are OpenAPI 3.0 Schema Objects (`nullable`, `example`): read as JSON Schema 2020-12,
    where those keywords are annotations without effect."""
    resources = [(path.name, Resource.from_contents(yaml.safe_load(path.read_text()),
                                                    default_specification=DRAFT202012))
                 for path in sorted(SCHEMAS.glob('*.yaml'))]
    return Registry().with_resources(resources)


def validate(instance, schema: str) -> None:
    """Raise jsonschema.ValidationError unless `instance` is valid against `schema`
    (a file name, e.g. 'statusInfo.yaml')."""
    registry = _registry()
    contents = registry.contents(schema)
    jsonschema.Draft202012Validator(contents, registry=registry,
                                    format_checker=FORMATS).validate(instance)


def _any_of(node, names: bool = False):
    """`node` with every `oneOf` keyword read as `anyOf` (`names`: `node` maps property
    names, which stay as they are)."""
    if isinstance(node, dict):
        return {(key if names or key != 'oneOf' else 'anyOf'):
                _any_of(value, not names and key == 'properties')
                for key, value in node.items()}
    if isinstance(node, list):
        return [_any_of(value) for value in node]
    return node


@cache
def _any_of_registry() -> Registry:
    """The schemas read with `oneOf` as `anyOf`: their branches overlap (`inputValueNoObject`
    lists `string` and `binaryInputValue`, itself a string; `number` and `integer`), so under
    a strict `oneOf` no string or integer value would ever be valid. The standard means "one
    of these forms", i.e. anyOf."""
    resources = [(path.name, Resource.from_contents(_any_of(yaml.safe_load(path.read_text())),
                                                    default_specification=DRAFT202012))
                 for path in sorted(SCHEMAS.glob('*.yaml'))]
    return Registry().with_resources(resources)


def validate_any_of(instance, schema: str) -> None:
    """Like `validate`, with the overlapping `oneOf`s read as `anyOf` (results, inputs)."""
    registry = _any_of_registry()
    jsonschema.Draft202012Validator(registry.contents(schema), registry=registry,
                                    format_checker=FORMATS).validate(instance)


PART4 = Path(__file__).resolve().parents[1] / 'data' / 'ogcapi-processes-4' / 'schemas'
_PART4_BASE = 'https://ogcapi-processes-4.invalid/'
# the draft's inputs.yaml refers to files its repository lacks: read as "any value"
_PART4_MISSING = ('processes-workflow/input-workflow.yaml',
                  'processes-workflow/output-workflow.yaml')


@cache
def _part4_registry() -> Registry:
    """The Part 4 draft schemas under their paths, so `../common-core/…` resolves."""
    resources = [(_PART4_BASE + path.relative_to(PART4).as_posix(),
                  Resource.from_contents(yaml.safe_load(path.read_text()),
                                         default_specification=DRAFT202012))
                 for path in sorted(PART4.rglob('*.yaml'))]
    resources += [(_PART4_BASE + missing, Resource.from_contents(
        {}, default_specification=DRAFT202012)) for missing in _PART4_MISSING]
    return Registry().with_resources(resources)


def validate_part4(instance, schema: str) -> None:
    """Raise jsonschema.ValidationError unless `instance` is valid against a schema of the
    Part 4 draft (e.g. 'statusInfo.yaml', whose status enum has `created`, 'inputs.yaml')."""
    registry = _part4_registry()
    uri = f'{_PART4_BASE}processes-job-management/{schema}'
    jsonschema.Draft202012Validator({'$ref': uri}, registry=registry,
                                    format_checker=FORMATS).validate(instance)


PART2 = Path(__file__).resolve().parents[1] / 'data' / 'ogcapi-processes-2' / 'schemas'
_PART2_BASE = 'https://ogcapi-processes-2.invalid/'


@cache
def _part2_registry() -> Registry:
    """The Part 2 draft schemas (processes-dru/), their `../processes-core/` and
    `../common-core/link.yaml` references resolved to the Part 1 1.0 copies (see
    tests/data/ogcapi-processes-2/README.md), `oneOf` read as `anyOf` like `_any_of`: an
    execution unit `{type, value}` is both an `executionUnit` and a qualified value."""
    def resource(path: Path) -> Resource:
        return Resource.from_contents(_any_of(yaml.safe_load(path.read_text())),
                                      default_specification=DRAFT202012)
    resources = [(f'{_PART2_BASE}processes-dru/{path.name}', resource(path))
                 for path in sorted((PART2 / 'processes-dru').glob('*.yaml'))]
    resources += [(f'{_PART2_BASE}processes-core/{path.name}', resource(path))
                  for path in sorted(SCHEMAS.glob('*.yaml'))]
    resources += [(f'{_PART2_BASE}processes-core/qualifiedValue.yaml',
                   resource(SCHEMAS / 'qualifiedInputValue.yaml')),
                  (f'{_PART2_BASE}common-core/link.yaml', resource(SCHEMAS / 'link.yaml'))]
    return Registry().with_resources(resources)


def validate_part2(instance, schema: str) -> None:
    """Raise jsonschema.ValidationError unless `instance` is valid against a Part 2 draft
    schema ('ogcapppkg.yaml' for a package, 'staticIndicator.yaml' for a deploy answer)."""
    jsonschema.Draft202012Validator({'$ref': f'{_PART2_BASE}processes-dru/{schema}'},
                                    registry=_part2_registry(),
                                    format_checker=FORMATS).validate(instance)

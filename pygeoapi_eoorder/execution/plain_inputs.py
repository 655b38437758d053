"""The inputs of a plain pygeoapi processor (server code taking values; the engine's own
processors stage their inputs themselves): a qualified value (`{"value": v, "mediaType":
...}`) is `v`, an input by reference (`{"href": ...}`) is fetched with the stage-in rules
(egress policy, file roots, size limit) and given as its value if the input is a
literal, else as the local path of the fetched file (a folder for a STAC document)."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from .literals import is_literal, staged_text, typed
from .occurrences import is_repeated
from .staging import Stager

QUALIFIED_KEYS = {'value', 'mediaType', 'encoding', 'schema'}


def needs_resolving(inputs: dict) -> bool:
    """Whether any input is qualified or by reference (else they are passed as they are)."""
    return any(_wrapped(item) for value in inputs.values()
               for item in (value if isinstance(value, list) else [value]))


def _wrapped(value) -> bool:
    return isinstance(value, dict) and ('href' in value or 'value' in value
                                        and set(value) <= QUALIFIED_KEYS)


def _takes_links(spec: dict) -> bool:
    """An input whose schema is itself an object with an `href` (a link the processor
    reads as it is)."""
    schema = spec.get('schema') or {}
    return isinstance(schema, dict) and (
        'href' in (schema.get('properties') or {})
        or str(schema.get('$ref', '')).rsplit('/', 1)[-1] in ('link.yaml', 'link.json'))


def resolved(inputs: dict, declared: dict, workdir: Path,
             stager: Callable[[], Stager]) -> dict:
    """The inputs as the processor takes them (see the module); `declared`: the process's
    input descriptions, `stager()`: the job's stager (made if a reference is given)."""
    made: list[Stager] = []

    def one(input_id: str, value, index: int, spec: dict):
        if not _wrapped(value) or _takes_links(spec):
            return value
        if 'href' not in value:
            return value['value']
        if not made:
            made.append(stager())
        path = made[0].fetch(input_id, str(value['href']), index)
        if is_literal(spec) and path.is_file():
            return typed(staged_text(workdir, path, input_id), spec['schema'],
                         f'input {input_id}:')
        return str(path)

    result = {}
    for input_id, value in inputs.items():
        spec = declared.get(input_id) or {}
        result[input_id] = [one(input_id, item, index, spec)
                            for index, item in enumerate(value, 1)] \
            if is_repeated(value, spec) else one(input_id, value, 0, spec)
    return result

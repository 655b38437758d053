"""Plain arguments (JSON values) checked against the parameter schemas of the official
process descriptions before an implementation gets them: a text where a number is
expected, a number where a list is, is the caller's `ProcessParameterInvalid`, not the
library's failure (a TypeError answered 500). Cubes, arrays, child processes and other
values a graph computed are the implementations' to judge; null given for an optional
parameter means "not given" (and `scalars` passes it through required number
parameters, as the descriptions say)."""

from __future__ import annotations

import functools
from typing import Callable

from .errors import GraphError

CUBE_SUBTYPES = {'datacube', 'raster-cube', 'vector-cube'}
MAX_CHECKED = 10_000  # elements of a list or object checked (a longer one: not checked)


_BUILT: dict[int, tuple[dict, Callable]] = {}  # id(spec) -> (spec, its checker)


def checker(spec: dict) -> Callable[[str, object], None]:
    """A function raising GraphError if a plain argument does not fit its parameter; one
    per description (built once, shared by the run's wrapper and `/validation`)."""
    built = _BUILT.get(id(spec))
    if built is None or built[0] is not spec:
        built = _BUILT[id(spec)] = (spec, _built_checker(spec))
    return built[1]


def _built_checker(spec: dict) -> Callable[[str, object], None]:
    from jsonschema import Draft7Validator
    validators = {p['name']: Draft7Validator(_schema(p.get('schema') or {}))
                  for p in spec.get('parameters') or [] if p.get('schema')}
    optional = {p['name'] for p in spec.get('parameters') or [] if p.get('optional')}
    process_id = spec.get('id')

    def check(name: str, value) -> None:
        validator = validators.get(name)
        if validator is None or value is None and name in optional or not _is_json(value):
            return
        errors = sorted(validator.iter_errors(value), key=lambda e: len(e.path))
        if errors:
            raise GraphError(f"The value passed for parameter '{name}' in process "
                             f"'{process_id}' is invalid: {_reason(errors[0], value)}",
                             'ProcessParameterInvalid')
    return check


def checking(spec: dict, function, skip: tuple[str, ...] = ()):
    """`function` (called with its arguments by name) checking them first, but `skip`."""
    check = checker(spec)

    @functools.wraps(function)  # (its signature stays the function's)
    def checked(*args, **kwargs):
        for name, value in kwargs.items():
            if name not in skip:
                check(name, value)
        return function(*args, **kwargs)
    return checked


def _schema(schema) -> dict:
    """A parameter's schema (a list of alternatives: any of them) as JSON Schema; a
    cube alternative takes a cube only, never a JSON value."""
    alternatives = schema if isinstance(schema, list) else [schema]
    kept = [{'not': {}} if one.get('subtype') in CUBE_SUBTYPES else one
            for one in alternatives if isinstance(one, dict)]
    return kept[0] if len(kept) == 1 else {'anyOf': kept}


def _reason(error, value) -> str:
    if error.validator == 'not' or error.validator == 'anyOf' and not error.path:
        return f'{_kind(value)} is not a value it takes'
    return error.message[:300]


def _kind(value) -> str:
    return {bool: 'a boolean', int: 'a number', float: 'a number', str: 'a text',
            list: 'an array', dict: 'an object'}.get(type(value), 'the value')


def _is_json(value, budget: list | None = None) -> bool:
    """Made of JSON's types only (a bounded look: a huge value counts as not)."""
    budget = budget if budget is not None else [MAX_CHECKED]
    budget[0] -= 1
    if budget[0] < 0:
        return False
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) is list:
        return all(_is_json(item, budget) for item in value)
    if type(value) is dict:
        return all(type(k) is str and _is_json(v, budget) for k, v in value.items())
    return False

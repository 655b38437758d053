"""Plain values (numbers, booleans, lists, null) given to the process implementations as
the official descriptions say, where openeo-processes-dask's implementations are made for
cubes and arrays:

- null, openEO's no-data, in a required number parameter is passed through (the result
  is null, as the descriptions say); among the numbers of a required array parameter it
  goes in as NaN, which reducers skip with `ignore_nodata`; a NaN result is null again in
  the JSON a result is written as (`save.json_value`);
- a process described as returning a boolean (or null) returns one: the implementations
  compute comparisons and logic in floats (1.0, 0.0, NaN for null);
- an array the graph parser read as time intervals (a pydantic root model: it does so with
  e.g. an empty array) goes in as the plain list it was, unless the parameter takes times;
- comparisons, logic, text and some array processes on plain values are this package's
  (`plain_values`).
"""

from __future__ import annotations

import functools
import inspect
import math

from . import argument_check, plain_values
from .errors import GraphError

NUMBER_TYPES = {'number', 'integer'}
TIME_SUBTYPES = {'temporal-interval', 'temporal-intervals', 'date-time', 'date', 'time',
                 'year'}


def _schemas(schema) -> list[dict]:
    return [s for s in (schema if isinstance(schema, list) else [schema]) if isinstance(s, dict)]


def schema_types(schema) -> set[str]:
    """Every JSON type a schema (or a list of alternative schemas) names."""
    found = set()
    for one in _schemas(schema):
        kind = one.get('type')
        found.update(kind if isinstance(kind, list) else [kind] if kind else [])
    return found


def _takes_times(schema) -> bool:
    return any(one.get('subtype') in TIME_SUBTYPES or
               bool(one.get('items')) and _takes_times(one['items'])
               for one in _schemas(schema))


def _numbers(schema) -> bool:
    """Numbers or null only (no boolean, text or object)."""
    kinds = schema_types(schema)
    return bool(kinds & NUMBER_TYPES) and kinds <= NUMBER_TYPES | {'null'}


def _callback(schema) -> bool:
    """A child process, or else no JSON object (e.g. `count`'s condition: a process,
    `true` or null): an object given there that is no process graph is refused."""
    schemas = _schemas(schema)
    return any(one.get('subtype') == 'process-graph' for one in schemas) and all(
        one.get('subtype') == 'process-graph' or one.get('type') not in (None, 'object')
        for one in schemas)


def _number_arrays(schema) -> bool:
    return any(one.get('type') == 'array' and _numbers(one.get('items') or {})
               for one in _schemas(schema))


def as_described(spec: dict, function):
    """`function` given and giving plain values as its description `spec` says (see the
    module); itself when nothing of it applies."""
    numbers, arrays, plain = set(), set(), set()
    callbacks: dict[str, set] = {}  # name -> the types beside a process it takes
    for parameter in spec.get('parameters') or []:
        schema = parameter.get('schema') or {}
        # an optional parameter's null means "not given"; a required one's passes through,
        # as the descriptions say even where the schema names no null (normalized_difference)
        required = not parameter.get('optional')
        if _callback(schema):
            callbacks[parameter['name']] = schema_types(schema) | ({'null'} if not required
                                                             else set())
        if required and _numbers(schema):
            numbers.add(parameter['name'])
        elif required and _number_arrays(schema):
            arrays.add(parameter['name'])
        if not _takes_times(schema):
            plain.add(parameter['name'])
    returns = schema_types((spec.get('returns') or {}).get('schema') or {})
    boolean = bool(returns) and returns <= {'boolean', 'null'}
    own = plain_values.IMPLEMENTATIONS.get(spec.get('id'))
    check = argument_check.checker(spec)
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return function

    @functools.wraps(function)
    def call(*args, **kwargs):
        try:
            bound = signature.bind_partial(*args, **kwargs)
        except TypeError:  # (the implementation says what is wrong)
            return function(*args, **kwargs)
        for name, value in bound.arguments.items():
            if name in callbacks and (isinstance(value, dict) or value is None and
                                      'null' not in callbacks[name]):
                raise GraphError(f"{spec.get('id')}: {name} takes a process, given as "
                                 '{"process_graph": {...}}', 'ProcessParameterInvalid')
            if name in numbers and value is None:
                return None  # (no-data passed through)
            if name in plain:
                value = _plain(value)
            check(name, value)
            if name in arrays:
                value = _nan_for_null(value)
            bound.arguments[name] = value
        if own is not None and all(map(plain_values.is_plain, bound.arguments.values())):
            return own(**bound.arguments)
        try:
            result = _call(function, signature, bound.arguments)
        except ZeroDivisionError:  # Python's on plain numbers (arrays give infinity)
            if not all(map(plain_values.is_plain, bound.arguments.values())):
                raise
            raise GraphError(f"{spec.get('id')}: division by zero", 'DivisionByZero') from None
        return _boolean(result) if boolean else result
    return call


def _call(function, signature: inspect.Signature, arguments: dict):
    """`function` called with bound `arguments`, by name where it may be (a wrapper may
    add a keyword the implementation also takes positionally)."""
    positional, keywords = [], {}
    for name, value in arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.POSITIONAL_ONLY:
            positional.append(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            positional.extend(value)
        elif kind is inspect.Parameter.VAR_KEYWORD:
            keywords.update(value)
        else:
            keywords[name] = value
    return function(*positional, **keywords)


def _plain(value):
    """A pydantic root model the parser made of a JSON array, as that array."""
    from pydantic import RootModel
    return value.model_dump() if isinstance(value, RootModel) else value


def _nan_for_null(value):
    """A list of numbers and nulls as a float array, NaN for null; any other value as is."""
    if not isinstance(value, list) or None not in value or not all(
            item is None or isinstance(item, (int, float)) and not isinstance(item, bool)
            for item in value):
        return value
    import numpy as np
    return np.array([math.nan if item is None else item for item in value], dtype=float)


def _boolean(result):
    """A plain result (not a cube or an array) as a boolean, null for NaN or None."""
    import numpy as np
    if hasattr(result, 'dims') or getattr(result, 'ndim', 0) or \
            isinstance(result, (bool, type(None))):  # (a cube or an array: as it is)
        return result
    value = np.asarray(result)
    if value.ndim or value.dtype.kind not in 'biuf':
        return result
    value = value.item()
    return None if isinstance(value, float) and math.isnan(value) else bool(value)

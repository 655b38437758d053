"""The official process descriptions (openeo-processes 2.0, shipped in `specs/`) and the
glue that makes openeo-processes-dask's implementations answer to them.

Checked for every implementation against its 2.0 description (parameter names, optionality,
defaults); what differs is adapted here:
- a parameter of the description that the implementation lacks (`filter_bands`'
  `wavelengths`, `aggregate_spatial`'s `target_dimension`) is dropped when left at its
  default and refused otherwise (`ProcessParameterInvalid`), never ignored;
- an optional parameter the implementation requires gets the description's default
  (`text_concat`'s `separator`);
- an implementation that does not do what its description says is replaced by one of
  this package (`replaced()`: `mask_polygon`, see `masks`).
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
from pathlib import Path

from .errors import GraphError

SPECS = Path(__file__).resolve().parent / 'specs'


def replaced() -> dict:
    """openEO id -> this package's implementation, used instead of the library's."""
    from .masks import mask_polygon
    return {'mask_polygon': mask_polygon}


@functools.lru_cache(maxsize=None)
def official(process_id: str) -> dict | None:
    """The 2.0 description of a process implemented here, or None."""
    path = SPECS / f'{process_id}.json'
    return json.loads(path.read_text()) if path.is_file() else None


def official_ids() -> set[str]:
    return {path.stem for path in SPECS.glob('*.json')}


def description(process_id: str, bundled: dict) -> dict:
    """What `/processes` serves: the official description, else the library's."""
    return copy.deepcopy(official(process_id) or bundled)


def adapt(process_id: str, function):
    """`function` called as its official description says; itself when nothing differs."""
    spec = official(process_id)
    if spec is None:
        return function
    accepted = inspect.signature(function).parameters
    if any(p.kind is p.VAR_KEYWORD for p in accepted.values()):
        accepted = None
    lacking, filled = {}, {}
    for parameter in spec.get('parameters') or []:
        name, default = parameter['name'], parameter.get('default')
        if accepted is not None and name not in accepted and name != 'context':
            lacking[name] = default
        elif (accepted is not None and name in accepted and 'default' in parameter
              and accepted[name].default is inspect.Parameter.empty):
            filled[name] = default
    if not (lacking or filled):
        return function

    @functools.wraps(function)
    def as_specified(*args, **kwargs):
        for name, default in lacking.items():
            if not _at_default(kwargs.pop(name, default), default):
                raise GraphError(f'{process_id}: parameter {name!r} is not supported by '
                                 f'this back-end (leave it at {json.dumps(default)})',
                                 'ProcessParameterInvalid')
        for name, default in filled.items():
            kwargs.setdefault(name, default)
        return function(*args, **kwargs)
    return as_specified


def _at_default(value, default) -> bool:
    """Is an argument null or its default (lists compared as any sequence; the parser
    may hand a list over as a pydantic root model)?"""
    value = getattr(value, 'root', value)
    if value is None:
        return True
    if isinstance(default, list) and isinstance(value, (list, tuple)):
        return list(value) == default
    return type(value) is type(default) and value == default

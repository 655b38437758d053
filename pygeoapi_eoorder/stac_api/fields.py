"""STAC API - Fields: the members of each item to return (dotted paths).

- no `fields`: the whole item;
- `include` given: only those members (and ALWAYS); a member both included and
  excluded is included;
- `exclude` only: the whole item without those members;
- `fields` empty (GET `fields=`, POST `{}` or empty/null lists): the default set below,
  without what `exclude` names.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

DEFAULT_SET = ('type', 'stac_version', 'id', 'geometry', 'bbox', 'links', 'assets',
               'properties.datetime')
ALWAYS = ('type', 'stac_version', 'id', 'links')  # with any `include`


@dataclass
class Fields:
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    defaults: bool = False  # start from DEFAULT_SET instead of the whole item


def _get(document: dict, path: list[str]):
    for key in path:
        if not isinstance(document, dict) or key not in document:
            return None, False
        document = document[key]
    return document, True


def _put(target: dict, path: list[str], value) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = copy.deepcopy(value)


def _drop(target: dict, path: list[str]) -> None:
    for key in path[:-1]:
        target = target.get(key)
        if not isinstance(target, dict):
            return
    target.pop(path[-1], None)


def _pick(item: dict, names) -> dict:
    result: dict = {}
    for name in names:
        path = name.split('.')
        value, found = _get(item, path)
        if found:
            _put(result, path, value)
    return result


def select(item: dict, fields: Fields | None) -> dict:
    """The item with the members `fields` asks for."""
    if fields is None:
        return item
    if fields.include:
        return _pick(item, (*ALWAYS, *fields.include))
    result = _pick(item, DEFAULT_SET) if fields.defaults else copy.deepcopy(item)
    for name in fields.exclude:
        _drop(result, name.split('.'))
    return result

"""Inputs given more than once: OGC API - Processes passes an input's occurrences as a
JSON array, unless the input's schema is itself an array (then the array is one value).
The request check, a container's environment and a plain processor's values read them
alike, numbered from 1."""

from __future__ import annotations

from typing import Any


def is_repeated(value: Any, spec: dict | None) -> bool:
    """Whether `value` lists several occurrences of the input described by `spec`."""
    schema = (spec or {}).get('schema')
    return isinstance(value, list) and not (isinstance(schema, dict)
                                            and schema.get('type') == 'array')

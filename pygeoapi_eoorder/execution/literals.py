"""Literal inputs and outputs (strings, numbers, booleans): what a literal is, its text in
a staged file, and the typed value of such a text."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import ExecutionError
from .paths import UnsafePathError, open_nofollow

LITERAL_TYPES = {'string', 'number', 'integer', 'boolean'}
LITERAL_LIMIT = 64 * 1024  # bytes of a literal input given by reference


def is_literal(spec: dict) -> bool:
    """An input or output description whose schema is a literal (not a file)."""
    schema = spec.get('schema') or {}
    return (schema.get('type') in LITERAL_TYPES and 'contentMediaType' not in schema
            and schema.get('format') not in ('binary', 'byte'))


def typed(text: str, schema: dict, what: str) -> Any:
    """The value of a literal's text for its schema's type (`what` names it in errors)."""
    text = text.strip()
    kind = schema.get('type')
    try:
        if kind == 'integer':
            return int(text)
        if kind == 'number':
            return float(text)
        if kind == 'boolean':
            return text.lower() in ('true', '1', 'yes')
    except ValueError:
        raise ExecutionError(f'{what} {text[:80]!r} is not a {kind}') from None
    return text


def staged_text(workdir: Path, path: Path, input_id: str) -> str:
    """The text of a literal input staged in at `path` under `workdir` (at most
    LITERAL_LIMIT bytes, no NUL; opened without following links)."""
    try:
        fd = open_nofollow(workdir, path.relative_to(workdir).as_posix())
    except (OSError, UnsafePathError, ValueError) as err:
        raise ExecutionError(f'input {input_id}: the referenced value cannot be read '
                             f'({err})') from None
    with os.fdopen(fd, 'rb') as fh:
        data = fh.read(LITERAL_LIMIT + 1)
    if len(data) > LITERAL_LIMIT or b'\0' in data:
        raise ExecutionError(f'input {input_id}: the referenced value is not a literal '
                             f'(more than {LITERAL_LIMIT} bytes or binary)')
    return data.decode('utf-8', 'replace').strip()

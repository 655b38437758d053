"""OpenSearch EO (OGC 13-026r9) value syntax as query model nodes.

    n        equal to n                 {a,b,c}  any of a, b, c
    [a,b]    a <= x <= b                ]a,b[    a < x < b   (and [a,b[, ]a,b])
    [a       x >= a                     ]a       x > a
    b]       x <= b                     b[       x < b
"""

from __future__ import annotations

import re

from pygeofilter import ast

from .query import QueryError, typed_value

_INTERVAL = re.compile(r'^([\[\]])\s*([^,\[\]]+?)\s*,\s*([^,\[\]]+?)\s*([\[\]])$')
_LOWER = re.compile(r'^([\[\]])\s*([^,\[\]]+?)$')
_UPPER = re.compile(r'^([^,\[\]{}]+?)\s*([\[\]])$')


def parse(name: str, text: str, parameter: str | None = None) -> ast.Node:
    """The condition `text` puts on queryable `name` (QueryError names `parameter`)."""
    parameter = parameter or name
    text = (text or '').strip()
    attribute = ast.Attribute(name)

    def value(raw: str):
        raw = raw.strip()
        if not raw:
            raise QueryError(f'{parameter}: empty value in {text!r}')
        return typed_value(name, raw, parameter)

    if not text:
        raise QueryError(f'{parameter}: empty value')
    if text.startswith('{'):
        if not text.endswith('}') or len(text) < 3:
            raise QueryError(f'{parameter}: a set is written {{a,b,...}}: {text!r}')
        return ast.In(attribute, [value(v) for v in text[1:-1].split(',')], False)
    match = _INTERVAL.match(text)
    if match:
        opening, low, high, closing = match.groups()
        low, high = value(low), value(high)
        if low > high:
            raise QueryError(f'{parameter}: the interval {text!r} is empty (low > high)')
        lower = (ast.GreaterEqual if opening == '[' else ast.GreaterThan)(attribute, low)
        upper = (ast.LessEqual if closing == ']' else ast.LessThan)(attribute, high)
        return ast.And(lower, upper)
    match = _LOWER.match(text)
    if match:
        opening, low = match.groups()
        return (ast.GreaterEqual if opening == '[' else ast.GreaterThan)(attribute, value(low))
    match = _UPPER.match(text)
    if match:
        high, closing = match.groups()
        return (ast.LessEqual if closing == ']' else ast.LessThan)(attribute, value(high))
    if any(c in text for c in '[]{},'):
        raise QueryError(f'{parameter}: malformed EO value {text!r} '
                         '(use n, {a,b}, [a,b], ]a,b[, [a, ]a, b] or b[)')
    return ast.Equal(attribute, value(text))

"""Nesting depth of JSON and CQL2 texts, measured without recursion.

Deeply nested documents make recursive code (parsers, validators, translators) hit
Python's recursion limit; they are refused before anything recursive sees them.
"""

from __future__ import annotations

import re
from itertools import accumulate

MAX_JSON_DEPTH = 100
JSON_STRINGS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
CQL_STRINGS = re.compile(r"'[^']*(?:''[^']*)*'|\"[^\"]*\"")
_JSON_BRACKETS = re.compile(r'[\[\]{}]')
_CQL_BRACKETS = re.compile(r'[\[\]()]')


class TooDeep(ValueError):
    """A document nested deeper than allowed; the message says how deep is allowed."""


def depth(text: str | bytes, strings: re.Pattern = JSON_STRINGS,
          brackets: re.Pattern = _JSON_BRACKETS) -> int:
    """How deep brackets outside quoted strings nest in `text`."""
    if isinstance(text, bytes):
        text = text.decode('utf-8', 'replace')
    marks = brackets.findall(strings.sub('', text))
    return max(accumulate(1 if mark in '[{(' else -1 for mark in marks), default=0)


def check_json_depth(text: str | bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise TooDeep when a JSON text nests deeper than `limit`."""
    if depth(text) > limit:
        raise TooDeep(f'JSON nested deeper than {limit} levels')


def check_cql_text_depth(text: str, limit: int) -> None:
    """Raise TooDeep when a CQL2 text nests parentheses deeper than `limit`."""
    if depth(text, CQL_STRINGS, _CQL_BRACKETS) > limit:
        raise TooDeep(f'filter nested deeper than {limit} levels')


def check_value_depth(value, limit: int = MAX_JSON_DEPTH) -> None:
    """Raise TooDeep when decoded JSON (dicts and lists) nests deeper than `limit`."""
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, (dict, list)):
            if level > limit:
                raise TooDeep(f'JSON nested deeper than {limit} levels')
            stack.extend((child, level + 1)
                         for child in (node.values() if isinstance(node, dict) else node))

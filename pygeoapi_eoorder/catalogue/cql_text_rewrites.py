"""CQL2 text rewritten into what pygeofilter's text grammar reads: temporal functions in
its infix form (`T_AFTER(a, b)` as `a T_AFTER b`) and CQL2's names for them, INTERVALs as
calls (`interval_of` makes them intervals), `true`/`false` where a condition stands as
INCLUDE/EXCLUDE, WKT keywords in capitals without `Z`. Quoted text is left alone; a
malformed filter raises ValueError."""

from __future__ import annotations

import re

RENAMED = {'T_STARTS': 'T_BEGINS', 'T_STARTEDBY': 'T_BEGUNBY',  # CQL2's names: pygeofilter's
           'T_FINISHES': 'T_ENDS', 'T_FINISHEDBY': 'T_ENDEDBY'}
_TEMPORAL_FUNC = re.compile(r'\b(T_[A-Z]+)\s*\(', re.IGNORECASE)
_WKT_TYPE = re.compile(r'\b(POINT|LINESTRING|POLYGON|MULTIPOINT|MULTILINESTRING|MULTIPOLYGON|'
                       r'GEOMETRYCOLLECTION)(\s+Z)?(?=\s*\()', re.IGNORECASE)
# a filter's tokens, enough to tell where a condition stands (`_boolean_conditions`)
_TOKEN = re.compile(r"'(?:[^'\\]|''|\\.)*'|\"[^\"]*\"|[A-Za-z_][A-Za-z_:0-9.]*|\S")
_JOINS = ('AND', 'OR', 'NOT')
_KEYWORDS = {*_JOINS, 'BETWEEN', 'IN', 'LIKE', 'IS'}
_INTERVAL_CALL = re.compile(r'\bINTERVAL\s*\(', re.IGNORECASE)


def rewritten(text: str) -> str:
    """The filter as pygeofilter's grammar (with `cql._GRAMMAR_ADDED`) reads it."""
    return _intervals_as_calls(_infix_renames(_temporal_to_infix(_wkt_keywords(
        _unary_plus(_boolean_conditions(text))))))


def _outside_quotes(text: str) -> list[bool]:
    """For each character: is it outside a single- or double-quoted literal? (In a text
    literal `\\'` is a quote, as `''` is.)"""
    flags, quote, escaped = [], None, False
    for char in text:
        if quote:
            flags.append(False)
            if escaped:
                escaped = False
            elif char == '\\' and quote == "'":
                escaped = True
            elif char == quote:
                quote = None
        elif char in '\'"':
            quote = char
            flags.append(False)
        else:
            flags.append(True)
    return flags


def _split_call(text: str, open_index: int) -> tuple[list[str], int]:
    """Arguments of the call whose '(' is at open_index, and the index after its ')'."""
    depth, start, args = 0, open_index + 1, []
    outside = _outside_quotes(text)
    for i in range(open_index, len(text)):
        if not outside[i]:
            continue
        char = text[i]
        if char == '(':
            depth += 1
        elif char == ')':
            depth -= 1
            if depth == 0:
                args.append(text[start:i])
                return args, i + 1
        elif char == ',' and depth == 1:
            args.append(text[start:i])
            start = i + 1
    raise ValueError('unbalanced parentheses')


def _is_function_call(text: str, match: re.Match, outside: list[bool]) -> bool:
    """`T_OP(` is a call unless an operand precedes it (the infix form `a T_OP (b)`)."""
    if not outside[match.start()]:
        return False
    before = text[:match.start()].rstrip()
    if not before or before[-1] in '(,':
        return True
    return bool(re.search(r'\b(AND|OR|NOT)$', before, re.IGNORECASE))


def _temporal_to_infix(text: str) -> str:
    """T_OP(a, b) -> ((a) T_OP (b)), recursively, leaving quoted text alone."""
    while True:
        outside = _outside_quotes(text)
        match = next((m for m in _TEMPORAL_FUNC.finditer(text)
                      if _is_function_call(text, m, outside)), None)
        if match is None:
            return text
        args, end = _split_call(text, match.end() - 1)
        if len(args) != 2:
            raise ValueError(f'{match.group(1)} takes two arguments')
        op = match.group(1).upper()
        op = RENAMED.get(op, op)
        expression = f'(({args[0].strip()}) {op} ({args[1].strip()}))'
        if op == 'T_DISJOINT':
            expression = f'(NOT (({args[0].strip()}) T_INTERSECTS ({args[1].strip()})))'
        text = f'{text[:match.start()]}{expression}{text[end:]}'


def _intervals_as_calls(text: str) -> str:
    """Each INTERVAL written `interval(...)`: parsed as a function call, then made an
    interval (`interval_of`); the grammar's INTERVAL takes date-times only, not dates,
    open ends or properties."""
    outside = _outside_quotes(text)
    for match in reversed(list(_INTERVAL_CALL.finditer(text))):
        if outside[match.start()]:
            text = text[:match.start()] + 'interval' + text[match.start() + 8:]
    return text


def _boolean_conditions(text: str) -> str:
    """`true` and `false` where a condition stands (`true`, `NOT false AND x = 1`; Basic
    CQL2) written INCLUDE and EXCLUDE, which the grammar takes there: its `true` is a
    value only (`flag = true`), and taking it as a condition too would make `(true)`
    ambiguous."""
    tokens = [(m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]
    words = [token.upper() for token, _, _ in tokens]
    for index in reversed(range(len(tokens))):
        if words[index] not in ('TRUE', 'FALSE'):
            continue
        before = words[index - 1] if index else None
        grouping = before == '(' and (index < 2 or words[index - 2] in (*_JOINS, '('))
        after = words[index + 1] if index + 1 < len(words) else None
        if (before is None or before in _JOINS or grouping) and \
                after in (None, ')', 'AND', 'OR'):
            _, start, end = tokens[index]
            text = f"{text[:start]}{'INCLUDE' if words[index] == 'TRUE' else 'EXCLUDE'}" \
                   f'{text[end:]}'
    return text


def _unary_plus(text: str) -> str:
    """`+3` where a value starts (after an operator, a keyword, `(` or `,`) written `3`:
    the grammar reads a sign-less number or `-3` only (CQL2 allows both signs)."""
    tokens = [(m.group(), m.start()) for m in _TOKEN.finditer(text)]
    for index in reversed(range(len(tokens))):
        token, start = tokens[index]
        after = tokens[index + 1][0] if index + 1 < len(tokens) else ''
        before = tokens[index - 1][0] if index else ''
        operand = before[-1:].isalnum() and before.upper() not in _KEYWORDS or \
            before[:1] in ('"', "'", ')') or before[-1:] in ('_', '.')
        if token == '+' and not operand and (after[:1].isdigit() or after == '.'):
            text = text[:start] + text[start + 1:]
    return text


def _wkt_keywords(text: str) -> str:
    """`point Z (1 2 3)` as `POINT (1 2 3)`: pygeofilter's WKT takes its keywords in capitals
    and has no `Z` (the third coordinates say it), outside quoted text."""
    outside = _outside_quotes(text)
    for match in reversed(list(_WKT_TYPE.finditer(text))):
        if outside[match.start()]:
            text = text[:match.start()] + match.group(1).upper() + text[match.end():]
    return text


def _infix_renames(text: str) -> str:
    for cql2, name in RENAMED.items():
        text = re.sub(rf'\b{cql2}\b', name, text, flags=re.IGNORECASE)
    return text

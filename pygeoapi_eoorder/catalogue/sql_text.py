"""Text matching in SQL, the same on SQLite and PostgreSQL: the values of a multi-valued
column ('a|b|c'), LIKE patterns as SQLite's case-sensitive GLOB, and CQL2's ACCENTI."""

from __future__ import annotations

from sqlalchemy import and_, func, literal, or_

from .accents import accented_letters
from .query import escape_like


def has_value(col, value) -> object:
    """A multi-valued column ('a|b|c', or '|a|b|' for externalIds) holds `value`."""
    text = str(value)
    token = escape_like(text)
    candidates = or_(col == text, col.like(f'{token}|%', escape='\\'),
                     col.like(f'%|{token}', escape='\\'), col.like(f'%|{token}|%', escape='\\'))
    # SQLite's LIKE ignores the case of ASCII letters; replace() does not
    joined = '|' + col + '|'
    return and_(candidates, func.replace(joined, f'|{text}|', '') != joined)


def glob_pattern(pattern: str) -> str:
    """A LIKE pattern (`%`, `_`, escaped with `\\`) as the GLOB pattern SQLite matches case
    by case (`*`, `?`; its own special characters as one-character sets)."""
    found, characters = [], iter(pattern)
    for character in characters:
        if character in '%_':
            found.append('*' if character == '%' else '?')
            continue
        if character == '\\':  # (the next character as itself)
            character = next(characters, '\\')
        found.append(f'[{character}]' if character in '*?[' else character)
    return ''.join(found)


def contained_by(col, values, wrapped: bool = False) -> object:
    """Every value a multi-valued column holds is one of `values` (`wrapped`: the
    column's form is '|a|b|', else 'a|b'): with its separators doubled, removing each
    '|value|' leaves nothing (a column of no value is NULL: not contained)."""
    remaining = func.replace(col, '|', '||')
    if not wrapped:
        remaining = '|' + remaining + '|'
    for value in values:
        remaining = func.replace(remaining, f'|{value}|', '')
    return remaining == ('||' if wrapped else '')


def accent_insensitive(expression, dialect: str):
    """CQL2 ACCENTI of an SQL expression: its Latin letters without diacritics."""
    if dialect == 'sqlite':
        return func.eoorder_accenti(expression)
    accented, plain = accented_letters()
    return func.translate(expression, literal(accented), literal(plain))

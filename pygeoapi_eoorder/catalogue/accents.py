"""CQL2's ACCENTI: the Latin letters with diacritics (Latin-1 Supplement, Latin Extended-A
and -B, Latin Extended Additional) without them, one table for every store and for the
literals of a filter."""

from __future__ import annotations

import functools
import unicodedata


@functools.lru_cache(maxsize=1)
def accented_letters() -> tuple[str, str]:
    """The Latin letters with diacritics (Latin-1 Supplement, Extended-A and -B, Extended
    Additional) and their letters without: ACCENTI's table, the same on both stores."""
    accented, plain = [], []
    for code in (*range(0xC0, 0x250), *range(0x1E00, 0x1F00)):
        letter = chr(code)
        base = ''.join(c for c in unicodedata.normalize('NFD', letter)
                       if not unicodedata.combining(c))
        if len(base) == 1 and base != letter:
            accented.append(letter)
            plain.append(base)
    return ''.join(accented), ''.join(plain)


def without_accents(text: str | None) -> str | None:
    """ACCENTI on SQLite (the SQL function `eoorder_accenti`)."""
    if text is None:
        return None
    return str(text).translate(_table())


@functools.lru_cache(maxsize=1)
def _table() -> dict:
    return str.maketrans(*accented_letters())

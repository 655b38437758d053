"""Request bodies of the STAC API: JSON objects, with finite numbers only.

Python's json reads `NaN`, `Infinity` and `-Infinity` (no JSON numbers), and `1e400` as
infinity; such a value in a search or an item is refused, naming where it is (an item
stored with one would be served as JSON no parser need read).
"""

from __future__ import annotations

import json
import math

from .errors import StacError


def is_finite_number(value) -> bool:
    """A JSON number (no boolean) that a double holds and that is not NaN or infinite."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond any double
        return False


def non_finite_path(document) -> str | None:
    """Where in `document` the first number that is not finite is (`limit`,
    `bbox[2]`, `filter.args[1]`), or None."""
    pending = [('', document)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, dict):
            pending += [(f'{path}.{key}' if path else str(key), item)
                        for key, item in reversed(value.items())]
        elif isinstance(value, list):
            pending += [(f'{path}[{index}]', item)
                        for index, item in reversed(list(enumerate(value)))]
        elif isinstance(value, (int, float)) and not isinstance(value, bool) and \
                not is_finite_number(value):
            return path or '(the body)'
    return None


def json_object(data: bytes) -> dict:
    """The request body as a JSON object (raises StacError: 400)."""
    try:
        body = json.loads(data or b'null')
    except ValueError:
        raise StacError(400, 'request body: not JSON') from None
    if not isinstance(body, dict):
        raise StacError(400, 'request body: a JSON object is required')
    return body


def refuse_non_finite(document, context: str = '') -> None:
    """Raise StacError (400) naming the first number of `document` that is not finite
    (`context`: what the document is, e.g. 'item: ')."""
    where = non_finite_path(document)
    if where is not None:
        raise StacError(400, f'{context}{where}: not a finite number (NaN, Infinity and '
                             'numbers beyond a double are refused)')

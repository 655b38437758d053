"""Comparisons, logic, text, array and some arithmetic processes on plain values
(numbers, booleans, text, null, lists) as the official descriptions define them: strict
data types (a boolean or a text is no number), null (no-data) in, null out where the
outcome is ambiguous (reducers skip it unless `ignore_nodata` is false), NaN as IEEE 754
says, the errors the descriptions name (`DivisionByZero`, `ArrayElementNotAvailable`...).
openeo-processes-dask computes these for arrays and cubes (and is still used for those);
on plain values it compared across types, failed on null or on empty lists, took index -1
as the last element and answered 0 for a division by zero in `mod`.
"""

from __future__ import annotations

import math

from .errors import GraphError


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def eq(x, y, delta=None, case_sensitive=True, **_):
    if x is None or y is None:
        return None
    if _number(x) and _number(y):
        return x == y or delta is not None and abs(x - y) <= delta
    if isinstance(x, str) and isinstance(y, str):
        return x == y if case_sensitive is not False else x.casefold() == y.casefold()
    return isinstance(x, bool) and isinstance(y, bool) and x == y


def neq(x, y, delta=None, case_sensitive=True, **_):
    equal = eq(x, y, delta, case_sensitive)
    return None if equal is None else not equal


def _ordered(strict: bool, greater: bool):
    """gt, gte, lt or lte: numbers compared, any other type `false` (unless equal, for
    the non-strict ones)."""
    def compare(x, y, **_):
        if x is None or y is None:
            return None
        if not strict and eq(x, y):
            return True
        if not (_number(x) and _number(y)):
            return False
        return (x > y if strict else x >= y) if greater else (x < y if strict else x <= y)
    return compare


def between(x, min, max, exclude_max=False, **_):  # (the description's names)
    if x is None:
        return None
    if not _number(x) or not (_number(min) and _number(max)) or min > max:
        return False
    return min <= x and (x < max if exclude_max else x <= max)


def and_(x, y, **_):
    if x is False or y is False:
        return False
    return None if x is None or y is None else bool(x and y)


def or_(x, y, **_):
    if x is True or y is True:
        return True
    return None if x is None or y is None else bool(x or y)


def xor(x, y, **_):
    return None if x is None or y is None else bool(x) != bool(y)


def not_(x, **_):
    return None if x is None else not x


def is_nan(x, **_):
    return not _number(x) or math.isnan(x)


def array_find(data, value, reverse=False, **_):
    """The first (or last) index whose element equals `value` (as `eq`), else null."""
    if value is None or not isinstance(data, list):
        return None
    indexes = range(len(data) - 1, -1, -1) if reverse else range(len(data))
    return next((i for i in indexes if eq(data[i], value) is True), None)


def _text(value) -> str:
    """A value in a text as JSON writes it (null, true, false), a text as it is."""
    if value is None or isinstance(value, bool):
        return {None: 'null', True: 'true', False: 'false'}[value]
    return str(value)


def text_concat(data, separator='', **_):
    return _text(separator).join(_text(value) for value in data)


def _kept(data: list, ignore_nodata) -> list | None:
    """The elements of `data` that are not null; None if a null must make the result
    null (`ignore_nodata` false)."""
    kept = [value for value in data if value is not None]
    return None if len(kept) < len(data) and ignore_nodata is False else kept


def _truth(decisive: bool):
    """all (`decisive` false: one false decides) or any (true: one true decides); null
    where the outcome is ambiguous, or for no value."""
    def reduce(data, ignore_nodata=True, **_):
        kept = _kept(data, ignore_nodata)
        if not data or kept is not None and not kept:
            return None
        if decisive in (kept if kept is not None else data):
            return decisive
        return None if kept is None else not decisive
    return reduce


def _end(pick):
    """first or last: the first (or last) element, skipping nulls unless told not to."""
    def end(data, ignore_nodata=True, **_):
        kept = data if ignore_nodata is False else _kept(data, True)
        return pick(kept) if kept else None
    return end


def _extreme(pick):
    """max or min: null for no number (or a null, unless ignored)."""
    def extreme(data, ignore_nodata=True, **_):
        kept = _kept(data, ignore_nodata)
        if kept and any(isinstance(v, float) and math.isnan(v) for v in kept):
            return math.nan
        return pick(kept) if kept else None
    return extreme


_lowest, _highest = _extreme(min), _extreme(max)


def extrema(data, ignore_nodata=True, **_):
    return [_lowest(data, ignore_nodata), _highest(data, ignore_nodata)]


def order(data, asc=True, nodata=None, **_):
    """The positions that sort `data` (ties in their order); nulls left out, or last
    (`nodata` true) or first (false)."""
    try:
        found = sorted((i for i, v in enumerate(data) if v is not None),
                       key=data.__getitem__, reverse=asc is False)
    except TypeError:  # e.g. numbers and texts
        raise GraphError('order: the elements cannot be compared with each other (numbers '
                         'and texts?)', 'ProcessParameterInvalid') from None
    missing = [i for i, v in enumerate(data) if v is None]
    return found if nodata is None else found + missing if nodata else missing + found


def sort(data, asc=True, nodata=None, **_):
    return [data[i] for i in order(data, asc, nodata)]


def quantiles(data, probabilities=None, q=None, ignore_nodata=True, **_):
    """Linear interpolation between the closest ranks (type 7, numpy's default);
    `probabilities` an integer: that many intervals of equal probability."""
    import numpy as np
    wanted = probabilities if probabilities is not None else q
    if isinstance(wanted, int) and not isinstance(wanted, bool):
        wanted = [k / wanted for k in range(1, wanted)]
    kept = _kept(data, ignore_nodata)
    if not kept:
        return [None] * len(wanted)
    return [float(v) for v in np.quantile(np.array(kept, dtype=float), wanted)]


def array_concat(array1, array2, **_):
    return list(array1) + list(array2)


def array_append(data, value, label=None, **_):
    """`value` at the end; a label only for a labeled array (a JSON list has none)."""
    if label is not None:
        raise GraphError('array_append: a label was given, but the array is not labeled',
                         'ArrayNotLabeled')
    return list(data) + [value]


def array_element(data, index=None, label=None, return_nodata=False, **_):
    """The element at `index` (0 to its length - 1, nothing counted from the end); null
    for one not there if `return_nodata`, else an error."""
    if index is None and label is None:
        raise GraphError('array_element: either index or label is required',
                         'ArrayElementParameterMissing')
    if index is not None and label is not None:
        raise GraphError('array_element: index and label exclude each other',
                         'ArrayElementParameterConflict')
    if label is not None:
        raise GraphError('array_element: a label was given, but the array is not labeled',
                         'ArrayNotLabeled')
    if 0 <= index < len(data):
        return data[index]
    if return_nodata is True:
        return None
    raise GraphError(f'array_element: the array has no element at index {index}',
                     'ArrayElementNotAvailable')


def is_valid(x, **_):
    """Not null, and not NaN or an infinity (any other value is valid, an array too)."""
    return x is not None and not (_number(x) and not math.isfinite(x))


def _total(combine, start):
    """sum or product of numbers (nulls came as NaN arrays: the library's); null for none."""
    def total(data, ignore_nodata=True, **_):
        if not data:
            return None
        result = start
        for value in data:
            result = combine(result, value)
        return result
    return total


def _cumulative(combine):
    """cumsum, cumproduct, cummax or cummin: a null stays null (and, unless ignored,
    makes every later element null)."""
    def cumulative(data, ignore_nodata=True, **_):
        result, total, broken = [], None, False
        for value in data:
            broken = broken or value is None and ignore_nodata is False
            if value is None or broken:
                result.append(None)
                continue
            total = value if total is None else combine(total, value)
            result.append(total)
        return result
    return cumulative


def _nan_or(pick):
    return lambda a, b: math.nan if math.isnan(a) or math.isnan(b) else pick(a, b)


def mod(x, y, **_):
    """The remainder of x / y with the sign of y; dividing by zero is an error."""
    if y == 0:
        raise GraphError('mod: division by zero', 'DivisionByZero')
    return x % y


IMPLEMENTATIONS = {
    'eq': eq, 'neq': neq, 'gt': _ordered(True, True), 'gte': _ordered(False, True),
    'lt': _ordered(True, False), 'lte': _ordered(False, False), 'between': between,
    'and': and_, 'or': or_, 'xor': xor, 'not': not_, 'is_nan': is_nan,
    'array_find': array_find, 'text_concat': text_concat,
    'all': _truth(False), 'any': _truth(True),
    'first': _end(lambda kept: kept[0]), 'last': _end(lambda kept: kept[-1]),
    'max': _highest, 'min': _lowest, 'extrema': extrema, 'order': order,
    'sort': sort, 'quantiles': quantiles, 'array_concat': array_concat,
    'array_append': array_append, 'array_element': array_element, 'is_valid': is_valid,
    'sum': _total(lambda a, b: a + b, 0), 'product': _total(lambda a, b: a * b, 1),
    'mod': mod, 'cumsum': _cumulative(lambda a, b: a + b),
    'cumproduct': _cumulative(lambda a, b: a * b), 'cummax': _cumulative(_nan_or(max)),
    'cummin': _cumulative(_nan_or(min)),
}


def is_plain(value) -> bool:
    """Not an array or a cube (those stay the library's)."""
    import numpy as np
    return not (hasattr(value, 'dims') or hasattr(value, 'dask') or
                isinstance(value, np.ndarray))

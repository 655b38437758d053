"""Query parameters of GET /jobs (OGC API - Processes job list)."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from werkzeug.datastructures import MultiDict

from ..jobs.repository import STATUSES, JobQuery


MAX_SECONDS = 1e9  # about 31 years


class InvalidQuery(ValueError):
    """A job list parameter with a bad value; the message names the parameter."""


def _values(args: MultiDict, name: str) -> list[str]:
    values = []
    for raw in args.getlist(name):
        values.extend(v.strip() for v in raw.split(',') if v.strip())
    return values


def _instant(text: str, name: str) -> datetime | None:
    if text in ('', '..'):
        return None
    try:
        value = datetime.fromisoformat(text.replace('Z', '+00:00'))
    except ValueError:
        raise InvalidQuery(f'{name}: {text!r} is not an RFC 3339 date-time') from None
    if value.tzinfo is not None:
        try:
            value = value.astimezone(timezone.utc).replace(tzinfo=None)
        except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00 is before year 1 in UTC
            raise InvalidQuery(f'{name}: {text!r} is out of range') from None
    return value


def _number(args: MultiDict, name: str, minimum: float = 0) -> float | None:
    text = args.get(name)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidQuery(f'{name}: {text!r} is not a number') from None
    if not math.isfinite(value):
        raise InvalidQuery(f'{name}: {text!r} is not a finite number of seconds')
    if value < minimum:
        raise InvalidQuery(f'{name}: must be >= {minimum}')
    # a bound past any job's run time selects the same jobs, and stays a valid timedelta
    return min(value, MAX_SECONDS)


def _integer(args: MultiDict, name: str, default: int, minimum: int, maximum: int) -> int:
    text = args.get(name)
    if text is None:
        return default
    try:
        value = int(text)
    except ValueError:
        raise InvalidQuery(f'{name}: {text!r} is not an integer') from None
    if not minimum <= value <= maximum:
        raise InvalidQuery(f'{name}: must be between {minimum} and {maximum}')
    return value


def parse(args: MultiDict, default_limit: int = 10, max_limit: int = 1000) -> JobQuery:
    statuses = _values(args, 'status')
    for status in statuses:
        if status not in STATUSES:
            raise InvalidQuery(f'status: {status!r} is not one of {", ".join(STATUSES)}')
    created_from = created_to = None
    if args.get('datetime'):
        text = args['datetime']
        if '/' in text:
            start, _, end = text.partition('/')
            created_from, created_to = _instant(start, 'datetime'), _instant(end, 'datetime')
            if created_from and created_to and created_from > created_to:
                raise InvalidQuery('datetime: the interval ends before it starts')
        else:
            created_from = created_to = _instant(text, 'datetime')
    min_duration = _number(args, 'minDuration')
    max_duration = _number(args, 'maxDuration')
    if min_duration is not None and max_duration is not None and min_duration > max_duration:
        raise InvalidQuery('minDuration: greater than maxDuration')
    return JobQuery(types=_values(args, 'type'), process_ids=_values(args, 'processID'),
                    statuses=statuses, created_from=created_from, created_to=created_to,
                    min_duration=min_duration, max_duration=max_duration,
                    limit=_integer(args, 'limit', default_limit, 1, max_limit),
                    offset=_integer(args, 'offset', 0, 0, 10**9))

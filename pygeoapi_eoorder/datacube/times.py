"""Instants as graphs give them (RFC 3339 dates and date-times)."""

from __future__ import annotations

from .errors import GraphError


def instant(value, what: str):
    """A date or date-time as an aware UTC datetime (a date: its midnight); `what` names
    it in the error."""
    from datetime import datetime, timezone
    text = str(value).strip().replace('Z', '+00:00').replace('z', '+00:00')
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise GraphError(f'{what} {value!r} is not an RFC 3339 date or date-time') from None
    return found.replace(tzinfo=timezone.utc) if found.tzinfo is None else \
        found.astimezone(timezone.utc)

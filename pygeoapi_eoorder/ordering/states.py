"""Order and item statuses (OSEO EnumStatusType), the one transition table, and how an
order's status follows from its items'."""

from __future__ import annotations

from collections import Counter

SUBMITTED, ACCEPTED, IN_PRODUCTION, SUSPENDED = 'Submitted', 'Accepted', 'InProduction', 'Suspended'
CANCELLED, COMPLETED, FAILED, TERMINATED, DOWNLOADED = (
    'Cancelled', 'Completed', 'Failed', 'Terminated', 'Downloaded')
STATUSES = (SUBMITTED, ACCEPTED, IN_PRODUCTION, SUSPENDED, CANCELLED, COMPLETED, FAILED,
            TERMINATED, DOWNLOADED)
# no more work will be done (Completed items may still be downloaded)
FINAL = (CANCELLED, COMPLETED, FAILED, TERMINATED, DOWNLOADED)
ACTIVE = (SUBMITTED, ACCEPTED, IN_PRODUCTION, SUSPENDED)

# target status -> statuses an order or item may be in to move there (the only place)
TRANSITIONS: dict[str, tuple[str, ...]] = {
    ACCEPTED: (SUBMITTED, SUSPENDED),                     # approved / resumed
    IN_PRODUCTION: (ACCEPTED, SUSPENDED),
    SUSPENDED: (ACCEPTED, IN_PRODUCTION),
    COMPLETED: (ACCEPTED, IN_PRODUCTION),
    DOWNLOADED: (COMPLETED, DOWNLOADED),
    FAILED: (SUBMITTED, ACCEPTED, IN_PRODUCTION, SUSPENDED),
    CANCELLED: (SUBMITTED, ACCEPTED, IN_PRODUCTION, SUSPENDED),  # by the client
    TERMINATED: (SUBMITTED, ACCEPTED, IN_PRODUCTION, SUSPENDED),  # by the provider (rejected)
}


def allowed(current: str, target: str) -> bool:
    return current in TRANSITIONS.get(target, ())


def moving_items(current: str, items: list[dict], target: str) -> list[dict] | None:
    """The items (each with its `status`) that move with an order going from `current` to
    `target`; None when the order itself may not."""
    if not allowed(current, target):
        return None
    return [item for item in items if allowed(item['status'], target)]


def order_status(current: str, item_statuses: list[str]) -> tuple[str, str | None]:
    """The order's status derived from its items' (and a note when it is mixed).

    An order awaiting approval stays Submitted; an order cancelled or terminated as a
    whole keeps that status.
    """
    if current in (SUBMITTED, CANCELLED, TERMINATED) or not item_statuses:
        return current, None
    counts = Counter(item_statuses)
    total = len(item_statuses)
    if any(counts[s] for s in (ACCEPTED, IN_PRODUCTION, SUSPENDED)):
        if counts[SUSPENDED] == total:
            return SUSPENDED, None
        if counts[ACCEPTED] == total:
            return ACCEPTED, None
        return IN_PRODUCTION, f'{total - counts[ACCEPTED] - counts[IN_PRODUCTION] - counts[SUSPENDED]} of {total} items done'
    done = counts[COMPLETED] + counts[DOWNLOADED]
    if counts[DOWNLOADED] == total:
        return DOWNLOADED, None
    if done == total:
        return COMPLETED, None
    if done:
        return COMPLETED, f'{done} of {total} items completed; ' + ', '.join(
            f'{counts[s]} {s.lower()}' for s in (FAILED, CANCELLED, TERMINATED) if counts[s])
    for status in (CANCELLED, TERMINATED):
        if counts[status] == total:
            return status, None
    return FAILED, None

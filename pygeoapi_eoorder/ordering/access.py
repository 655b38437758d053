"""Who may see which orders: the rule the REST views, the HTML pages and OSEO share."""

from __future__ import annotations


def sees_every_order(auth, user) -> bool:
    """Admins and moderators (who must find the orders to approve) see every order."""
    return auth.is_admin(user) or auth.allowed(user, 'moderate')


def may_read_order(auth, user, owner: str | None) -> bool:
    return sees_every_order(auth, user) or auth.owns(user, owner)

"""Orders in the shared store. Every status change goes through the transition table,
as a compare-and-set, with a history row, in the same transaction as the order's
derived status."""

from __future__ import annotations

import uuid

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.engine import Connection

from ..store import Job, Store, utcnow
from ..store.order_tables import Order, OrderHistory, OrderItem, Quotation
from . import states

ORDER_FIELDS = [c.name for c in Order.__table__.columns]
ITEM_FIELDS = [c.name for c in OrderItem.__table__.columns]
BRIEF_FIELDS = [f for f in ORDER_FIELDS if f != 'request_xml']
SUBSCRIPTION = 'subscription'  # the kind of a subscription's standing item


class QuotationUsed(Exception):
    """The order's quotation was submitted already (nothing was committed)."""


def item_job_id(item_pk: str) -> str:
    """The id of the job that runs an order item: derived, so that it can be re-created."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f'eoorder:order-item:{item_pk}'))


@dataclass
class OrderQuery:
    """Filters of GetStatus filteringCriteria and of the /orders listing."""

    owner: str | None = None
    any_owner: bool = False
    updated_from: datetime | None = None
    updated_to: datetime | None = None
    statuses: list[str] = field(default_factory=list)
    reference: str | None = None
    limit: int = 100
    offset: int = 0


@dataclass
class Change:
    """What one transition did to an order (for notifications)."""

    order_id: str
    before: str
    after: str


def _row(row) -> dict:
    return dict(row) if row is not None else None


def _history(order_id: str, before: str, to: str, moved: list[dict], at: datetime,
             message: str | None) -> list[dict]:
    """History rows of an order moving `before` -> `to` with its `moved` items."""
    rows = [{'order_id': order_id, 'item': item['item_id'], 'from_status': item['status'],
             'to_status': to, 'at': at, 'message': message} for item in moved]
    rows.append({'order_id': order_id, 'item': None, 'from_status': before, 'to_status': to,
                 'at': at, 'message': message})
    return rows


class OrderRepository:
    def __init__(self, store: Store):
        self.store = store

    # -- creation -------------------------------------------------------------
    def create(self, order: dict, items: list[dict], message: str, *,
               accept: str | None = None, claim: int = 0,
               job_for: Callable[[dict], dict] | None = None,
               guard: Callable[[Connection], None] | None = None) -> tuple[dict, list[dict]]:
        """Commit an order with its items and history, all or nothing, in one transaction.

        `guard(connection)` runs first in that transaction (the owner's quota check,
        under a per-user lock): what it raises leaves nothing committed.

        With `accept` (the note of an automatic approval) the order `Submitted` is moved
        to `Accepted` with its items, as `transition_order` would, with the same history
        rows, and up to `claim` items get their job id (`item_job_id`), as
        `claim_pending` would; `job_for(item)` gives the row of each such item's job,
        inserted in the same transaction. Returns the order row and the items given a job.
        The order's `quotation_id`, if any, is marked used in that transaction too (raises
        QuotationUsed if it was already): a Submit that fails leaves its quotation usable.
        """
        now = utcnow()
        order = {**order, 'created': now, 'updated': now, 'item_count': len(items)}
        rows = [{'status_info': None, 'job_id': None, **item, 'order_id': order['id'],
                 'updated': now} for item in items]
        history = [{'order_id': order['id'], 'item': None, 'from_status': None,
                    'to_status': order['status'], 'at': now, 'message': message}]
        claimed: list[dict] = []
        if accept is not None:  # the same move as `transition_order`, before the insert
            moving = states.moving_items(order['status'], rows, states.ACCEPTED)
            if moving is None:
                raise ValueError(f'an order cannot be created {order["status"]} and accepted')
            history += _history(order['id'], order['status'], states.ACCEPTED, moving, now,
                                accept)
            for row in moving:
                row.update(status=states.ACCEPTED, status_info=accept)
            order.update(status=states.ACCEPTED, status_info=accept)
            claimed = [r for r in moving if r['kind'] != SUBSCRIPTION][:max(0, claim)]
            for row in claimed:
                row['job_id'] = item_job_id(row['id'])
        with self.store.write_engine.begin() as connection:  # Core: the hot path of Submit
            if guard is not None:
                guard(connection)
            if order.get('quotation_id') and connection.execute(
                    update(Quotation.__table__).where(
                        Quotation.id == order['quotation_id'], Quotation.used.is_(False))
                    .values(used=True)).rowcount != 1:
                raise QuotationUsed(order['quotation_id'])
            connection.execute(insert(Order.__table__), order)
            if rows:
                connection.execute(insert(OrderItem.__table__), rows)
            connection.execute(insert(OrderHistory.__table__), history)
            if claimed and job_for is not None:
                connection.execute(insert(Job.__table__), [job_for(r) for r in claimed])
        return order, claimed

    # -- reading --------------------------------------------------------------
    def get(self, order_id: str, with_request: bool = True) -> dict | None:
        columns = [Order.__table__.c[f] for f in (ORDER_FIELDS if with_request
                                                  else BRIEF_FIELDS)]
        with self.store.read() as session:
            return _row(session.execute(select(*columns).where(Order.id == order_id))
                        .mappings().first())

    def items(self, order_id: str) -> list[dict]:
        with self.store.read() as session:
            rows = session.execute(select(OrderItem.__table__).where(
                OrderItem.order_id == order_id).order_by(OrderItem.position)).mappings()
            return [dict(r) for r in rows]

    def item(self, item_pk: str) -> dict | None:
        with self.store.read() as session:
            return _row(session.execute(select(OrderItem.__table__).where(
                OrderItem.id == item_pk)).mappings().first())

    def item_by_token(self, token: str) -> dict | None:
        with self.store.read() as session:
            return _row(session.execute(select(OrderItem.__table__).where(
                OrderItem.token == token)).mappings().first())

    def history(self, order_id: str) -> list[dict]:
        with self.store.read() as session:
            rows = session.execute(select(OrderHistory.__table__).where(
                OrderHistory.order_id == order_id).order_by(OrderHistory.id)).mappings()
            return [dict(r) for r in rows]

    def query(self, q: OrderQuery, with_request: bool = False) -> tuple[list[dict], int]:
        conditions = []
        if not q.any_owner:
            conditions.append(Order.owner == q.owner if q.owner is not None
                              else Order.owner.is_(None))
        if q.updated_from is not None:
            conditions.append(Order.updated >= q.updated_from)
        if q.updated_to is not None:
            conditions.append(Order.updated <= q.updated_to)
        if q.statuses:
            conditions.append(Order.status.in_(q.statuses))
        if q.reference is not None:
            conditions.append(Order.reference == q.reference)
        where = and_(True, *conditions)
        columns = [Order.__table__.c[f] for f in (ORDER_FIELDS if with_request
                                                  else BRIEF_FIELDS)]
        with self.store.read() as session:
            total = session.scalar(select(func.count()).select_from(Order).where(where))
            rows = session.execute(select(*columns).where(where)
                                   .order_by(Order.updated.desc(), Order.id)
                                   .limit(q.limit).offset(q.offset)).mappings()
            return [dict(r) for r in rows], int(total or 0)

    def active_items_of(self, owner: str | None, connection: Connection | None = None) -> int:
        """How many items of `owner` are waiting or in production (read in `connection`
        when given: the inserting transaction). Starts from the active items (few), not
        from the owner's orders (all they ever made)."""
        owned = Order.owner == owner if owner is not None else Order.owner.is_(None)
        mine = select(Order.id).where(Order.id == OrderItem.order_id, owned).exists()
        query = select(func.count()).select_from(OrderItem).where(
            OrderItem.status.in_(states.ACTIVE), mine)
        if connection is not None:
            return int(connection.scalar(query) or 0)
        with self.store.read_engine.connect() as reader:
            return int(reader.scalar(query) or 0)

    # -- status changes -------------------------------------------------------
    def _lock_order(self, session, order_id: str) -> dict | None:
        stmt = select(Order.id, Order.status, Order.status_info).where(Order.id == order_id)
        if not self.store.is_sqlite:  # SQLite's BEGIN IMMEDIATE already serialises writers
            stmt = stmt.with_for_update()
        return _row(session.execute(stmt).mappings().first())

    def _derive(self, session, order: dict, now: datetime, message: str | None) -> Change:
        statuses = list(session.scalars(select(OrderItem.status).where(
            OrderItem.order_id == order['id'])))
        status, info = states.order_status(order['status'], statuses)
        if status != order['status'] or info != order['status_info']:
            session.execute(update(Order).where(Order.id == order['id'])
                            .values(status=status, status_info=info, updated=now))
            if status != order['status']:
                session.add(OrderHistory(order_id=order['id'], from_status=order['status'],
                                         to_status=status, at=now, message=message or info))
        else:
            session.execute(update(Order).where(Order.id == order['id']).values(updated=now))
        return Change(order['id'], order['status'], status)

    def transition_item(self, item_pk: str, to: str, message: str | None = None,
                        **fields: Any) -> Change | None:
        """Move an item to `to` if the table allows it; None when it does not."""
        now = utcnow()
        with self.store.write() as session:
            item = session.execute(select(OrderItem.order_id, OrderItem.status,
                                          OrderItem.item_id).where(OrderItem.id == item_pk)
                                   ).mappings().first()
            if item is None:
                return None
            order = self._lock_order(session, item['order_id'])
            result = session.execute(
                update(OrderItem).where(OrderItem.id == item_pk,
                                        OrderItem.status.in_(states.TRANSITIONS[to]))
                .values(status=to, updated=now, status_info=message, **fields))
            if result.rowcount != 1:
                return None
            if item['status'] != to:
                session.add(OrderHistory(order_id=item['order_id'], item=item['item_id'],
                                         from_status=item['status'], to_status=to, at=now,
                                         message=message))
            return self._derive(session, order, now, None)

    def transition_order(self, order_id: str, to: str, message: str | None = None,
                         items_too: bool = True) -> tuple[Change, list[dict]] | None:
        """Move an order (and its items that may move) to `to`; return the moved items."""
        now = utcnow()
        with self.store.write() as session:
            order = self._lock_order(session, order_id)
            if order is None:
                return None
            items = [dict(r) for r in session.execute(
                select(OrderItem.id, OrderItem.item_id, OrderItem.status, OrderItem.job_id)
                .where(OrderItem.order_id == order_id)).mappings()] if items_too else []
            moved = states.moving_items(order['status'], items, to)
            if moved is None:
                return None
            if moved:
                session.execute(update(OrderItem).where(
                    OrderItem.id.in_([m['id'] for m in moved]),
                    OrderItem.status.in_(states.TRANSITIONS[to]))
                    .values(status=to, status_info=message, updated=now))
            session.execute(update(Order).where(Order.id == order_id)
                            .values(status=to, status_info=message, updated=now))
            session.execute(insert(OrderHistory.__table__),
                            _history(order_id, order['status'], to, moved, now, message))
            return Change(order_id, order['status'], to), moved

    # -- scheduling of item jobs ---------------------------------------------
    def claim_pending(self, order_id: str, limit: int) -> list[dict]:
        """Give up to `limit` accepted items without a job their job id (`item_job_id`).

        The job is created afterwards under that id, so a crash in between leaves an item
        whose job is missing, which `ordering.recovery` creates again; `limit` counts items
        already running: at most `limit` of the order run at once.
        """
        with self.store.write() as session:
            self._lock_order(session, order_id)
            running = session.scalar(select(func.count()).select_from(OrderItem).where(
                OrderItem.order_id == order_id, OrderItem.job_id.is_not(None),
                OrderItem.status.in_((states.ACCEPTED, states.IN_PRODUCTION)))) or 0
            free = limit - running
            if free <= 0:
                return []
            pending = list(session.scalars(select(OrderItem.id).where(
                OrderItem.order_id == order_id, OrderItem.job_id.is_(None),
                OrderItem.kind != SUBSCRIPTION,  # a standing subscription runs no job
                OrderItem.status == states.ACCEPTED).order_by(OrderItem.position)
                .limit(free)))
            for item_pk in pending:
                session.execute(update(OrderItem).where(OrderItem.id == item_pk,
                                                        OrderItem.job_id.is_(None))
                                .values(job_id=item_job_id(item_pk)))
            return [dict(r) for r in session.execute(select(OrderItem.__table__).where(
                OrderItem.id.in_(pending))).mappings()] if pending else []

    def waiting_items(self) -> list[dict]:
        """Items that should be in production: they have a job id and are not final."""
        with self.store.read() as session:
            return [dict(r) for r in session.execute(select(OrderItem.__table__).where(
                OrderItem.job_id.is_not(None),
                OrderItem.status.in_((states.ACCEPTED, states.IN_PRODUCTION)))).mappings()]

    def stalled_orders(self) -> tuple[list[str], list[str]]:
        """Orders a crash stopped half-way through Submit: (still Submitted although
        automatically approved - no `awaiting approval` note -, Accepted with accepted
        items that never got a job id)."""
        with self.store.read() as session:
            unapproved = list(session.scalars(select(Order.id).where(
                Order.status == states.SUBMITTED, Order.status_info.is_(None))))
            unstarted = list(session.scalars(select(Order.id).distinct().join(
                OrderItem, OrderItem.order_id == Order.id).where(
                Order.status.in_((states.ACCEPTED, states.IN_PRODUCTION)),
                OrderItem.kind != SUBSCRIPTION,  # a standing subscription runs no job
                OrderItem.status == states.ACCEPTED, OrderItem.job_id.is_(None))))
        return unapproved, unstarted

    def update_item(self, item_pk: str, **fields: Any) -> None:
        with self.store.write() as session:
            session.execute(update(OrderItem).where(OrderItem.id == item_pk).values(**fields))

    def count_download(self, item_pk: str) -> Change | None:
        """Record one download: Completed -> Downloaded (again Downloaded: counted only)."""
        with self.store.write() as session:
            session.execute(update(OrderItem).where(OrderItem.id == item_pk)
                            .values(downloads=OrderItem.downloads + 1))
        return self.transition_item(item_pk, states.DOWNLOADED, 'downloaded')

    def expired_items(self, now: datetime) -> list[dict]:
        with self.store.read() as session:
            rows = session.execute(select(OrderItem.__table__).where(
                OrderItem.expires.is_not(None), OrderItem.expires < now,
                OrderItem.files_removed.is_(False))).mappings()
            return [dict(r) for r in rows]

    # -- quotations -----------------------------------------------------------
    def add_quotation(self, **fields: Any) -> None:
        with self.store.write() as session:
            session.add(Quotation(**fields))

    def quotation(self, quotation_id: str) -> dict | None:
        with self.store.read() as session:
            return _row(session.execute(select(Quotation.__table__).where(
                Quotation.id == quotation_id)).mappings().first())

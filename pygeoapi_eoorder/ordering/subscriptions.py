"""Subscription orders: every product that enters a subscribed collection is delivered.

A subscription item (`subscriptionId` with a `collectionId`) stands while its order is
active. Each new catalogue record of its collection becomes a product item of the same
order, with the subscription's options, processed and delivered like any ordered product
(an item job, a download URL, `nextReady` in DescribeResultAccess, SubmitResponse
notifications). A cursor per subscription (the highest record key served) makes this
exactly-once: new items and the cursor move in one transaction, so the catalogue's
insert hook and the engine's periodic sweep may both run it.
"""

from __future__ import annotations

import copy
import logging
import uuid

from lxml import etree
from sqlalchemy import bindparam, func, select, update

from ..store import utcnow
from . import states
from .encode import order_item_xml
from ..store.order_tables import Order, OrderHistory, OrderItem, SubscriptionCursor
from ..store.record_tables import Record
from .repository import SUBSCRIPTION
from .xmlns import O, local_name, q

LOGGER = logging.getLogger('eoorder.ordering')
BATCH = 200  # new records taken per subscription and transaction
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


_STANDING = select(OrderItem.id, OrderItem.order_id, OrderItem.item_id,
                   OrderItem.collection_id).join(Order, Order.id == OrderItem.order_id).where(
    OrderItem.kind == SUBSCRIPTION, OrderItem.status.in_(states.ACTIVE),
    OrderItem.collection_id.is_not(None),
    Order.status.in_((states.ACCEPTED, states.IN_PRODUCTION)))
_STANDING_ON = _STANDING.where(OrderItem.collection_id == bindparam('collection'))


def _standing(connection, collection: str | None) -> list[dict]:
    """Subscription items still served: active item of an approved, unfinished order
    (statements built once: asked after every insert of records)."""
    if collection is None:
        return [dict(r) for r in connection.execute(_STANDING).mappings()]
    return [dict(r) for r in connection.execute(_STANDING_ON,
                                                {'collection': collection}).mappings()]


def open_cursor(session, item: dict) -> None:
    """Start serving a subscription from the records present now (only new ones count)."""
    last = session.scalar(select(func.max(Record.pk)).where(
        Record.collection == item['collection_id'])) or 0
    session.add(SubscriptionCursor(item_pk=item['id'], order_id=item['order_id'],
                                   collection_id=item['collection_id'], last_record=last,
                                   delivered=0, started=utcnow()))


def start(repo, order_id: str) -> None:
    """Open the cursors of an order's subscription items (when it is approved)."""
    query = select(OrderItem.id, OrderItem.order_id, OrderItem.collection_id).where(
        OrderItem.order_id == order_id, OrderItem.kind == SUBSCRIPTION,
        OrderItem.collection_id.is_not(None))
    with repo.store.read() as session:
        items = [dict(r) for r in session.execute(query).mappings()]
    if not items:
        return
    with repo.store.write() as session:
        for item in items:
            if session.get(SubscriptionCursor, item['id']) is None:
                open_cursor(session, item)


def _product_item_xml(subscription_xml: str, item_id: str, identifier: str,
                      collection: str) -> str:
    """The subscription's orderItem with a new itemId and a productId for the record."""
    element = etree.fromstring(subscription_xml, _PARSER)
    element.find(q('itemId')).text = item_id
    choice = next(c for c in element if isinstance(c.tag, str)
                  and local_name(c) == 'subscriptionId')
    product = O.productId(O.identifier(identifier), O.collectionId(collection))
    element.replace(choice, product)
    return order_item_xml(copy.deepcopy(element))


def _serve(session, standing: dict) -> int:
    """Add a product item per record new to this subscription; advance its cursor."""
    cursor = session.get(SubscriptionCursor, standing['id'], with_for_update=True)
    if cursor is None:
        open_cursor(session, standing)
        return 0
    from ..catalogue.visibility import PUBLIC_ONLY, condition  # a user's private results
    new = session.execute(select(Record.pk, Record.identifier).where(  # serve nobody else
        Record.collection == cursor.collection_id, Record.pk > cursor.last_record,
        condition(PUBLIC_ONLY))
        .order_by(Record.pk).limit(BATCH)).all()
    if not new:
        return 0
    subscription = session.execute(select(OrderItem).where(
        OrderItem.id == standing['id'])).scalar_one()
    position = session.scalar(select(func.max(OrderItem.position)).where(
        OrderItem.order_id == cursor.order_id)) or 0
    now = utcnow()
    for offset, (pk, identifier) in enumerate(new, start=1):
        item_id = f'{subscription.item_id}-{cursor.delivered + offset}'[:80]
        session.add(OrderItem(
            id=str(uuid.uuid4()), order_id=cursor.order_id, position=position + offset,
            item_id=item_id, kind='product', collection_id=cursor.collection_id,
            identifier=identifier, status=states.ACCEPTED,
            status_info=f'new product of subscription {subscription.item_id}',
            updated=now, options=subscription.options, packaging=subscription.packaging,
            protocol=subscription.protocol,
            item_xml=_product_item_xml(subscription.item_xml, item_id, identifier,
                                       cursor.collection_id)))
        session.add(OrderHistory(order_id=cursor.order_id, item=item_id, from_status=None,
                                 to_status=states.ACCEPTED, at=now,
                                 message=f'new product {identifier}'))
    session.execute(update(SubscriptionCursor).where(
        SubscriptionCursor.item_pk == cursor.item_pk).values(
        last_record=new[-1][0], delivered=cursor.delivered + len(new)))
    session.execute(update(Order).where(Order.id == cursor.order_id).values(
        item_count=Order.item_count + len(new), updated=now))
    return len(new)


def deliver(service, collection: str | None = None) -> int:
    """Serve every standing subscription (of `collection`, or all); start the new items'
    jobs. Returns how many product items were added."""
    repo = service.repo
    with repo.store.read_engine.connect() as connection:  # Core: after every insert
        standing = _standing(connection, collection)
    added = 0
    for item in standing:
        while True:
            with repo.store.write() as session:
                count = _serve(session, item)
            if count:
                LOGGER.info('order %s: subscription %s got %s new products',
                            item['order_id'], item['item_id'], count)
                service.start_items(item['order_id'])
            added += count
            if count < BATCH:
                break
    return added

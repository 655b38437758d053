"""Tables of the ordering component in the shared store (orders, items, history, quotations)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String,
                        Text)
from sqlalchemy.orm import Mapped, mapped_column

from .models import Base


class Order(Base):
    """One OSEO order. `request_xml` keeps the submitted orderSpecification verbatim."""

    __tablename__ = 'eoorder_order'

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    reference: Mapped[str | None] = mapped_column(String(64))
    order_type: Mapped[str] = mapped_column(String(32))
    massive: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16))
    status_info: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(String(255))
    created: Mapped[datetime] = mapped_column(DateTime)
    updated: Mapped[datetime] = mapped_column(DateTime)
    status_notification: Mapped[str] = mapped_column(String(8), default='None')
    reply_to: Mapped[str | None] = mapped_column(Text)
    binding: Mapped[str] = mapped_column(String(8), default='xml')
    priority: Mapped[str | None] = mapped_column(String(16))
    packaging: Mapped[str | None] = mapped_column(String(8))
    protocol: Mapped[str | None] = mapped_column(String(16))
    options: Mapped[dict | None] = mapped_column(JSON)
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    quotation_id: Mapped[str | None] = mapped_column(String(64))
    request_xml: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index('ix_eoorder_order_owner_updated', 'owner', 'updated'),
        Index('ix_eoorder_order_status', 'status'),
        Index('ix_eoorder_order_reference', 'reference'),
    )


class OrderItem(Base):
    """One item of an order; processed by one job of the engine (`job_id`)."""

    __tablename__ = 'eoorder_order_item'

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    order_id: Mapped[str] = mapped_column(ForeignKey('eoorder_order.id', ondelete='CASCADE'))
    position: Mapped[int] = mapped_column(Integer)
    item_id: Mapped[str] = mapped_column(String(80))
    kind: Mapped[str] = mapped_column(String(16))  # product, subscription, tasking
    collection_id: Mapped[str | None] = mapped_column(String(255))
    identifier: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    status_info: Mapped[str | None] = mapped_column(Text)
    updated: Mapped[datetime] = mapped_column(DateTime)
    options: Mapped[dict | None] = mapped_column(JSON)
    packaging: Mapped[str | None] = mapped_column(String(8))
    protocol: Mapped[str | None] = mapped_column(String(16))
    job_id: Mapped[str | None] = mapped_column(String(48))
    files: Mapped[list | None] = mapped_column(JSON)
    token: Mapped[str | None] = mapped_column(String(64), unique=True)
    expires: Mapped[datetime | None] = mapped_column(DateTime)
    downloads: Mapped[int] = mapped_column(Integer, default=0)
    described: Mapped[bool] = mapped_column(Boolean, default=False)  # by nextReady
    files_removed: Mapped[bool] = mapped_column(Boolean, default=False)
    item_xml: Mapped[str] = mapped_column(Text)

    __table_args__ = (
        Index('ix_eoorder_order_item_order', 'order_id', 'position'),
        Index('ix_eoorder_order_item_status', 'status'),
        Index('ix_eoorder_order_item_job', 'job_id'),
    )


class OrderHistory(Base):
    """Every status change of an order or of one of its items, in order."""

    __tablename__ = 'eoorder_order_history'

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey('eoorder_order.id', ondelete='CASCADE'))
    item: Mapped[str | None] = mapped_column(String(80))
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(DateTime)
    message: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index('ix_eoorder_order_history_order', 'order_id', 'id'),)


class Quotation(Base):
    """A quotation given for an order specification; Submit may refer to it by id."""

    __tablename__ = 'eoorder_quotation'

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(255))
    created: Mapped[datetime] = mapped_column(DateTime)
    valid_until: Mapped[datetime] = mapped_column(DateTime)
    price: Mapped[float] = mapped_column(Float)
    currency: Mapped[str] = mapped_column(String(10))
    request_xml: Mapped[str] = mapped_column(Text)
    used: Mapped[bool] = mapped_column(Boolean, default=False)


class SubscriptionCursor(Base):
    """How far a subscription item has been served: catalogue records of its collection
    with a key above `last_record` are new to it."""

    __tablename__ = 'eoorder_subscription_cursor'

    item_pk: Mapped[str] = mapped_column(
        ForeignKey('eoorder_order_item.id', ondelete='CASCADE'), primary_key=True)
    order_id: Mapped[str] = mapped_column(String(64))
    collection_id: Mapped[str] = mapped_column(String(255))
    last_record: Mapped[int] = mapped_column(Integer, default=0)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    started: Mapped[datetime] = mapped_column(DateTime)

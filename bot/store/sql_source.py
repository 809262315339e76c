"""The demo shop's order source: `bot.orders.OrderSource` over the SQL store."""

from __future__ import annotations

import secrets

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from bot.clock import utcnow
from bot.orders import (
    LineInfo,
    OrderChangeRefused,
    OrderInfo,
    RefundInfo,
    ReturnInfo,
    ShipmentInfo,
    joined,
)
from bot.policy import RETURNABLE_STATES, UNSHIPPED_STATES, tracking_link
from bot.store.db import get_engine, session_scope
from bot.store.models import Order, Refund, ReturnRequest


class SqlOrderSource:
    def __init__(self, engine: Engine | None = None) -> None:
        self.engine = engine or get_engine()

    def get_order(self, number: str) -> OrderInfo | None:
        with session_scope(self.engine) as session:
            order = _load(session, number)
            return None if order is None else to_info(order)

    def cancel_order(self, number: str) -> OrderInfo:
        with session_scope(self.engine) as session:
            order = _load_for_change(session, number, UNSHIPPED_STATES)
            now = utcnow()
            paid = order.status != "pending"
            order.status = "cancelled"
            order.cancelled_at = now
            if paid:
                order.refunds.append(
                    Refund(
                        amount=to_info(order).total,
                        method=order.payment_method,
                        status="pending",
                        created_at=now,
                    )
                )
            session.flush()
            return to_info(order)

    def change_address(self, number: str, new_address: str) -> OrderInfo:
        with session_scope(self.engine) as session:
            order = _load_for_change(session, number, UNSHIPPED_STATES)
            # The shopper types the whole address in one message; it replaces line 1 and the
            # city. The postcode on file stays: it is what the shopper verifies with.
            order.ship_line1 = new_address.strip()
            order.ship_city = ""
            session.flush()
            return to_info(order)

    def create_return(self, number: str, skus: list[str]) -> ReturnInfo:
        with session_scope(self.engine) as session:
            order = _load_for_change(session, number, RETURNABLE_STATES)
            rma = ReturnRequest(
                rma_number=f"RMA-{secrets.randbelow(900000) + 100000}",
                created_at=utcnow(),
                status="requested",
                skus=",".join(skus),
            )
            order.returns.append(rma)
            order.status = "return_requested"
            session.flush()
            return ReturnInfo(rma.rma_number, rma.created_at, rma.status)


def _load(session: Session, number: str) -> Order | None:
    query = (
        select(Order)
        .where(Order.number == number)
        .options(
            selectinload(Order.lines),
            selectinload(Order.shipment),
            selectinload(Order.returns),
            selectinload(Order.refunds),
            selectinload(Order.customer),
        )
    )
    return session.scalars(query).first()


def _load_for_change(session: Session, number: str, allowed: frozenset[str]) -> Order:
    order = _load(session, number)
    if order is None or order.status not in allowed:
        raise OrderChangeRefused(f"order {number} is not in one of {sorted(allowed)}")
    return order


def to_info(order: Order) -> OrderInfo:
    ship = order.shipment
    address = joined(", ", order.ship_line1, order.ship_city, order.ship_postcode)
    return OrderInfo(
        number=order.number,
        status=order.status,
        placed_at=order.placed_at,
        currency=order.currency,
        email=order.customer.email,
        postcode=order.ship_postcode,
        ship_to=address,
        ship_name=order.ship_name,
        lines=tuple(
            LineInfo(line.sku, line.name, line.quantity, line.unit_price, line.final_sale)
            for line in order.lines
        ),
        shipment=None
        if ship is None
        else ShipmentInfo(
            ship.carrier,
            ship.tracking_number,
            ship.shipped_at,
            ship.promised_from,
            ship.promised_to,
            ship.revised_eta,
            ship.delivered_at,
            tracking_link(ship.carrier, ship.tracking_number),
            ship.out_for_delivery_at is not None,
            ship.delay_reason,
        ),
        returns=tuple(ReturnInfo(r.rma_number, r.created_at, r.status) for r in order.returns),
        refunds=tuple(
            RefundInfo(r.amount, order.currency, r.method, r.status, r.created_at, r.issued_at)
            for r in order.refunds
        ),
    )

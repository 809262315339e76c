"""The demo shop moves an order on (`bot shop advance ORDER STEP`), as a real shop's platform
would, and tells the gateway with the same kind of signed webhook Shopify and WooCommerce send
(bot/gateway/order_webhooks.py). So a newcomer sees order updates arrive in the demo.
"""

from __future__ import annotations

import json
import secrets
import uuid
from datetime import timedelta
from decimal import Decimal

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import selectinload

from bot.clock import utcnow
from bot.gateway.order_webhooks import DEMO_SHOP, signature
from bot.policy import UNSHIPPED_STATES, promised_window
from bot.shared_secrets import shop_webhook_secret
from bot.store.db import get_engine, session_scope
from bot.store.models import Order, Refund, Shipment

STEPS = ("ship", "out-for-delivery", "deliver", "delay", "refund")


class CannotAdvance(ValueError):
    """The step makes no sense for the order as it is (delivering a cancelled order...)."""


def advance(number: str, step: str, reason: str | None = None, engine: Engine | None = None) -> str:
    """Move the demo order on by `step`; returns its new status."""
    now = utcnow()
    with session_scope(engine or get_engine()) as session:
        order = session.scalars(
            select(Order)
            .where(Order.number == number.lstrip("#"))
            .options(selectinload(Order.shipment), selectinload(Order.refunds))
        ).first()
        if order is None:
            raise CannotAdvance(f"no order {number}")
        if order.status == "cancelled" and step != "refund":
            raise CannotAdvance(f"order {number} is cancelled")
        if step in ("ship", "out-for-delivery", "deliver", "delay") and order.shipment is None:
            if order.status not in UNSHIPPED_STATES:
                raise CannotAdvance(f"order {number} is {order.status}")
            first, last = promised_window(now.date())
            order.shipment = Shipment(
                carrier="UPS",
                tracking_number=f"1Z{secrets.randbelow(10**16):016d}",
                shipped_at=now,
                promised_from=first,
                promised_to=last,
            )
            order.status = "shipped"
        ship = order.shipment
        if step == "out-for-delivery":
            ship.out_for_delivery_at = now
            order.status = "out_for_delivery"
        elif step == "deliver":
            ship.delivered_at = now
            order.status = "delivered"
        elif step == "delay":
            if ship.delivered_at is not None:
                raise CannotAdvance(f"order {number} was delivered")
            ship.delay_reason = (reason or "").strip()[:200] or None
            ship.revised_eta = max(ship.promised_to, now.date()) + timedelta(days=2)
            order.status = "delayed"
        elif step == "refund":
            refund(order)
        elif step != "ship":
            raise CannotAdvance(f"unknown step {step!r}: one of {', '.join(STEPS)}")
        return order.status


def refund(order: Order) -> None:
    """A pending refund is paid out; else the whole order is refunded (and cancelled if it had
    not shipped)."""
    now = utcnow()
    pending = [r for r in order.refunds if r.status == "pending"]
    if pending:
        for r in pending:
            r.status, r.issued_at = "issued", now
        return
    total = sum((Decimal(line.unit_price) * line.quantity for line in order.lines), Decimal("0"))
    order.refunds.append(
        Refund(
            amount=total,
            method=order.payment_method,
            status="issued",
            created_at=now,
            issued_at=now,
        )
    )
    if order.status in UNSHIPPED_STATES:
        order.status, order.cancelled_at = "cancelled", now
    else:
        order.status = "refunded"


def notify_gateway(gateway_url: str, number: str, step: str, timeout: float = 10) -> dict:
    """The signed webhook, as a platform sends it; the gateway's answer."""
    body = json.dumps({"order_number": number, "event": step}).encode()
    headers = {
        "content-type": "application/json",
        DEMO_SHOP.signature_header: signature(body, shop_webhook_secret()),
        DEMO_SHOP.delivery_header: str(uuid.uuid4()),
    }
    url = gateway_url.rstrip("/") + "/webhooks/shop/orders"
    response = httpx.post(url, content=body, headers=headers, timeout=timeout)
    response.raise_for_status()
    return response.json()

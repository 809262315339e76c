"""What the fake shop platforms (shopify_admin.py, woocommerce_api.py) share: the demo shop's
orders read from the seeded store, and the faults a test can ask a fake for."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import selectinload

from bot.store.db import session_scope
from bot.store.models import Order


@dataclass
class Fault:
    kind: str  # "429", "503", "slow" (and Shopify's "throttled")
    times: int
    operation: str | None = None  # only this operation; None: any
    seconds: float = 0.0  # "slow": how long the answer takes (the change is made first)


def demo_orders(engine: Engine, convert):
    """`convert(order)` of every order in the store, with its lines, shipment, returns,
    refunds and customer loaded (inside the session, so the conversion may read them)."""
    with session_scope(engine) as session:
        rows = session.scalars(
            select(Order).options(
                selectinload(Order.lines),
                selectinload(Order.shipment),
                selectinload(Order.returns),
                selectinload(Order.refunds),
                selectinload(Order.customer),
            )
        ).all()
        return [convert(row) for row in rows]

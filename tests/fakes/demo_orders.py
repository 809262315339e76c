"""What the fake shop platforms (shopify_admin.py, woocommerce_api.py) and their tests share:
the demo shop's orders read from the seeded store, the faults a test can ask a fake for, and
pointing the order source at a fake."""

from __future__ import annotations

from dataclasses import dataclass
from threading import Lock

from sqlalchemy import Engine, select
from sqlalchemy.orm import selectinload

from bot.store.db import session_scope
from bot.store.models import Order

# The first order of each state in the seed (and a delayed one with a revised date).
ONE_ORDER_PER_STATE = [
    "10401",
    "10402",
    "10403",
    "10405",
    "10406",
    "10407",
    "10408",
    "10410",
    "10411",
    "10416",
    "10433",
    "10453",  # delayed, with the reason the shop gave
    "10465",  # out for delivery
]


def use_order_source(monkeypatch, name: str, timeout: str, retries: str, **env: str) -> None:
    """ORDER_SOURCE=`name` with its settings in `env`, for this test (caches cleared)."""
    from bot.orders import get_order_source
    from bot.settings import get_settings

    for variable, value in {
        "ORDER_SOURCE": name,
        "ORDER_SOURCE_TIMEOUT_SECONDS": timeout,
        "ORDER_SOURCE_RETRIES": retries,
        **env,
    }.items():
        monkeypatch.setenv(variable, value)
    get_settings.cache_clear()
    get_order_source.cache_clear()


@dataclass
class Fault:
    kind: str  # "429", "503", "slow" (and Shopify's "throttled")
    times: int
    operation: str | None = None  # only this operation; None: any
    seconds: float = 0.0  # "slow": how long the answer takes (the change is made first)


def take_fault(faults: list[Fault], lock: Lock, operation: str) -> Fault | None:
    """The next fault asked for this operation (or any), counted down; None if there is none."""
    with lock:
        for fault in faults:
            if fault.times > 0 and fault.operation in (None, operation):
                fault.times -= 1
                return fault
    return None


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

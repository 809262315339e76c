"""The shop's rules on hand-made orders with fixed dates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from bot.orders import LineInfo, OrderInfo, ReturnInfo, ShipmentInfo
from bot.policy import (
    add_business_days,
    change_check,
    delivery_estimate,
    load_policy,
    return_check,
)

POLICY = load_policy()
TODAY = date(2026, 11, 20)  # a Friday


def order(status: str, shipment: ShipmentInfo | None = None, lines=None, **kw) -> OrderInfo:
    return OrderInfo(
        number="10001",
        status=status,
        placed_at=datetime(2026, 11, 18, 10),
        currency="USD",
        email="a@example.com",
        postcode="97205",
        ship_to="1 Main St",
        lines=tuple(lines or [LineInfo("TEE", "Tee", 1, Decimal("24"))]),
        shipment=shipment,
        **kw,
    )


def shipped(delivered: datetime | None = None, revised: date | None = None) -> ShipmentInfo:
    return ShipmentInfo(
        "UPS",
        "1Z999",
        datetime(2026, 11, 16, 9),
        date(2026, 11, 18),
        date(2026, 11, 21),
        revised,
        delivered,
    )


def test_business_days_skip_weekends():
    assert add_business_days(date(2026, 11, 20), 1) == date(2026, 11, 23)  # Fri -> Mon
    assert add_business_days(date(2026, 11, 23), 2) == date(2026, 11, 25)


def test_estimate_in_window_late_delivered_unshipped_cancelled():
    assert delivery_estimate(order("in_transit", shipped()), POLICY, TODAY).kind == "window"
    late = delivery_estimate(order("in_transit", shipped()), POLICY, date(2026, 11, 22))
    assert late.kind == "late"
    flagged = delivery_estimate(
        order("delayed", shipped(revised=date(2026, 11, 24))), POLICY, TODAY
    )
    assert flagged.kind == "late" and flagged.revised == date(2026, 11, 24)
    delivered = order("delivered", shipped(delivered=datetime(2026, 11, 19, 15)))
    assert delivery_estimate(delivered, POLICY, TODAY).earliest == date(2026, 11, 19)
    unshipped = delivery_estimate(order("paid"), POLICY, TODAY)
    # dispatch Mon 23 - Tue 24, plus 2-5 days in transit
    assert (unshipped.kind, unshipped.earliest, unshipped.latest) == (
        "not_shipped",
        date(2026, 11, 25),
        date(2026, 11, 29),
    )
    assert delivery_estimate(order("cancelled"), POLICY, TODAY).kind == "cancelled"


def test_return_rules():
    delivered = shipped(delivered=datetime(2026, 11, 1, 12))
    assert return_check(order("delivered", delivered), POLICY, TODAY).eligible
    deadline = date(2026, 12, 1)
    assert return_check(order("delivered", delivered), POLICY, deadline).eligible
    closed = return_check(order("delivered", delivered), POLICY, date(2026, 12, 2))
    assert (closed.reason, closed.deadline) == ("window_closed", deadline)
    mixed = [LineInfo("A", "A", 1, Decimal(1)), LineInfo("B", "B", 1, Decimal(1), True)]
    check = return_check(order("delivered", delivered, mixed), POLICY, TODAY)
    assert check.eligible and [line.sku for line in check.lines] == ["A"]
    final = [LineInfo("B", "B", 1, Decimal(1), True)]
    assert return_check(order("delivered", delivered, final), POLICY, TODAY).reason == "final_sale"
    again = order(
        "delivered", delivered, returns=(ReturnInfo("RMA-1", datetime(2026, 11, 2), "requested"),)
    )
    assert return_check(again, POLICY, TODAY).reason == "already_returned"
    assert return_check(order("in_transit", shipped()), POLICY, TODAY).reason == "not_delivered"
    assert return_check(order("cancelled"), POLICY, TODAY).reason == "cancelled"


def test_change_rules():
    assert [change_check(order(s)) for s in ("pending", "paid", "packed")] == ["ok"] * 3
    assert change_check(order("delayed", shipped())) == "shipped"
    assert change_check(order("delivered")) == "delivered"
    assert change_check(order("refunded")) == "closed"

"""The shop's business rules: what can be cancelled, changed or returned, and when it arrives.

Pure functions over `bot.orders` records and the shop policy in `data/shop/policy.yml`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import yaml

from bot import settings
from bot.orders import LineInfo, OrderInfo

UNSHIPPED_STATES = frozenset({"pending", "paid", "packed"})
IN_FLIGHT_STATES = frozenset({"shipped", "in_transit", "out_for_delivery", "delayed"})
RETURNABLE_STATES = frozenset({"delivered"})


DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class SupportHours:
    """When the support team answers handed-off conversations."""

    timezone: str
    days: frozenset[int]  # 0 = Monday
    open: time
    close: time

    def staffed(self, now: datetime) -> bool:
        """Whether someone is at work at `now` (aware, or naive UTC)."""
        if now.tzinfo is None:
            now = now.replace(tzinfo=UTC)
        local = now.astimezone(ZoneInfo(self.timezone))
        return local.weekday() in self.days and self.open <= local.time() < self.close


def _support_hours(raw: dict) -> SupportHours:
    return SupportHours(
        timezone=raw["timezone"],
        days=frozenset(DAY_NAMES.index(day.lower()[:3]) for day in raw["days"]),
        open=time.fromisoformat(raw["open"]),
        close=time.fromisoformat(raw["close"]),
    )


@dataclass(frozen=True)
class ShopPolicy:
    shop_name: str
    return_window_days: int
    processing_days: tuple[int, int]
    transit_days: tuple[int, int]
    refund_days: tuple[int, int]
    support_hours: SupportHours
    tracking_links: tuple[tuple[str, str], ...] = ()  # carrier, URL with {number}


@cache
def load_policy(path: Path = settings.SHOP_POLICY_FILE) -> ShopPolicy:
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return ShopPolicy(
        shop_name=raw["shop_name"],
        return_window_days=int(raw["return_window_days"]),
        processing_days=tuple(raw["processing_days"]),
        transit_days=tuple(raw["transit_days"]),
        refund_days=tuple(raw["refund_days"]),
        support_hours=_support_hours(raw["support_hours"]),
        tracking_links=tuple(
            (str(k), str(v)) for k, v in (raw.get("tracking_links") or {}).items()
        ),
    )


def tracking_link(carrier: str, number: str, policy: ShopPolicy | None = None) -> str | None:
    """The carrier's tracking page for a parcel (`tracking_links` in the policy), if known."""
    links = dict((policy or load_policy()).tracking_links)
    template = links.get(carrier)
    return template.replace("{number}", quote(number, safe="")) if template and number else None


def add_business_days(start: date, days: int) -> date:
    current = start
    while days > 0:
        current += timedelta(days=1)
        if current.weekday() < 5:
            days -= 1
    return current


@dataclass(frozen=True)
class Estimate:
    """When an order arrives. kind: window, late, delivered, not_shipped, cancelled."""

    kind: str
    earliest: date | None = None
    latest: date | None = None
    revised: date | None = None


def promised_window(shipped: date, policy: ShopPolicy | None = None) -> tuple[date, date]:
    """The delivery window promised when an order ships: the policy's transit days after the
    day it shipped (as the demo shop's seed has it), for platforms that keep no window."""
    first, last = (policy or load_policy()).transit_days
    return shipped + timedelta(days=first), shipped + timedelta(days=last)


def delivery_estimate(order: OrderInfo, policy: ShopPolicy, today: date) -> Estimate:
    ship = order.shipment
    if order.status == "cancelled":
        return Estimate("cancelled")
    if ship and ship.delivered_at:
        return Estimate("delivered", earliest=ship.delivered_at.date())
    if ship:
        late = order.status == "delayed" or today > ship.promised_to
        return Estimate(
            "late" if late else "window",
            earliest=ship.promised_from,
            latest=ship.promised_to,
            revised=ship.revised_eta,
        )
    # Not shipped yet: processing time from today (or from the order date, if later),
    # then the usual transit time.
    start = max(order.placed_at.date(), today)
    first_ship = add_business_days(start, policy.processing_days[0])
    last_ship = add_business_days(start, policy.processing_days[1])
    return Estimate(
        "not_shipped",
        earliest=first_ship + timedelta(days=policy.transit_days[0]),
        latest=last_ship + timedelta(days=policy.transit_days[1]),
    )


@dataclass(frozen=True)
class ReturnCheck:
    """Whether a return can be opened. reason: eligible, not_delivered, already_returned,
    refunded, cancelled, window_closed, final_sale."""

    reason: str
    lines: tuple[LineInfo, ...] = ()
    deadline: date | None = None
    final_sale_lines: tuple[LineInfo, ...] = ()

    @property
    def eligible(self) -> bool:
        return self.reason == "eligible"


def return_check(order: OrderInfo, policy: ShopPolicy, today: date) -> ReturnCheck:
    if order.status == "cancelled":
        return ReturnCheck("cancelled")
    if order.status == "refunded":
        return ReturnCheck("refunded")
    if order.returns or order.status == "return_requested":
        return ReturnCheck("already_returned")
    delivered = order.shipment.delivered_at if order.shipment else None
    if order.status not in RETURNABLE_STATES or delivered is None:
        return ReturnCheck("not_delivered")
    deadline = delivered.date() + timedelta(days=policy.return_window_days)
    if today > deadline:
        return ReturnCheck("window_closed", deadline=deadline)
    returnable = tuple(line for line in order.lines if not line.final_sale)
    final_sale = tuple(line for line in order.lines if line.final_sale)
    if not returnable:
        return ReturnCheck("final_sale", deadline=deadline, final_sale_lines=final_sale)
    return ReturnCheck("eligible", returnable, deadline, final_sale)


def change_check(order: OrderInfo) -> str:
    """Whether an order can still be cancelled or re-addressed: ok, shipped, delivered,
    cancelled or closed (returned/refunded)."""
    if order.status in UNSHIPPED_STATES:
        return "ok"
    if order.status in IN_FLIGHT_STATES:
        return "shipped"
    if order.status == "delivered":
        return "delivered"
    if order.status == "cancelled":
        return "cancelled"
    return "closed"

"""What has happened to an order, as events a shopper can be told about once each.

An event is worked out from the order as the shop's system has it now, not from the webhook
that said something changed: platforms retry, reorder and repeat webhooks, and an event key
("shipped", "refund:2") is told at most once per subscription whatever arrives. Standard
library and `bot.orders`/`bot.policy` only: the actions (Rasa's Python) use it too, to note
what had already happened when a shopper subscribes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from bot.orders import OrderInfo
from bot.policy import ShopPolicy, delivery_estimate, load_policy

SHIPPED = "shipped"
OUT_FOR_DELIVERY = "out_for_delivery"
DELIVERED = "delivered"
LATE = "late"
REFUNDED = "refunded"
KINDS = (SHIPPED, OUT_FOR_DELIVERY, DELIVERED, LATE, REFUNDED)
# The parcel's journey: when several steps are new at once, only the furthest is told.
JOURNEY = (SHIPPED, OUT_FOR_DELIVERY, DELIVERED)
# Nothing more to tell about an order in these states once it is there.
FINISHED = frozenset({"cancelled", "refunded"})


@dataclass(frozen=True)
class OrderEvent:
    key: str  # unique per order: the kind, or "refund:N" for its Nth issued refund
    kind: str


def event_of(key: str) -> OrderEvent:
    """The event an event key names ("refund:2" is a refund)."""
    return OrderEvent(key, REFUNDED if key.startswith("refund:") else key)


def events_of(order: OrderInfo, today: date, policy: ShopPolicy | None = None) -> list[OrderEvent]:
    """Every event that has happened to `order` by `today`, in the order they happen."""
    events = []
    ship = order.shipment
    if ship is not None and order.status != "cancelled":
        events.append(OrderEvent(SHIPPED, SHIPPED))
        if ship.out_for_delivery or order.status == OUT_FOR_DELIVERY:
            events.append(OrderEvent(OUT_FOR_DELIVERY, OUT_FOR_DELIVERY))
        if ship.delivered_at is not None:
            events.append(OrderEvent(DELIVERED, DELIVERED))
        elif delivery_estimate(order, policy or load_policy(), today).kind == "late":
            events.append(OrderEvent(LATE, LATE))
    issued = [refund for refund in order.refunds if refund.status == "issued"]
    events.extend(event_of(f"refund:{n}") for n in range(1, len(issued) + 1))
    return events


def worth_telling(new: list[OrderEvent]) -> tuple[list[OrderEvent], list[OrderEvent]]:
    """(to tell, overtaken) among events new to a shopper: of the journey's steps only the
    furthest is told ("delivered" makes "shipped" old news), a new "late" makes a new
    "shipped" old news too, and nothing is late once delivered."""
    journey = [event for event in new if event.kind in JOURNEY]
    furthest = max(journey, key=lambda e: JOURNEY.index(e.kind), default=None)
    delivered = furthest is not None and furthest.kind == DELIVERED
    late = any(event.kind == LATE for event in new) and not delivered
    tell, overtaken = [], []
    for event in new:
        old_news = (
            (event.kind in JOURNEY and event is not furthest)
            or (event.kind == LATE and delivered)
            or (event.kind == SHIPPED and late)
        )
        (overtaken if old_news else tell).append(event)
    return tell, overtaken


def still_moving(order: OrderInfo) -> bool:
    """Whether there is more to tell: not delivered, cancelled or refunded yet."""
    delivered = order.shipment is not None and order.shipment.delivered_at is not None
    return not delivered and order.status not in FINISHED

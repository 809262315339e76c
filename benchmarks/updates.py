"""Webhook to message: how long a shopper subscribed on Telegram waits for an order update
after the shop's signed order webhook reaches the gateway (issue #17).

One stack on a fresh store, Telegram pointed at the fake Bot API on loopback (served in this
process, so its arrival times and ours share one clock). Telegram conversations are subscribed
to demo orders straight in the store, as the actions do when a shopper says yes. Then, one
event at a time on an idle stack: the order moves on (`bot.demo_shop.advance`), and the time
runs from just before the signed webhook is POSTed to the moment the fake receives the
sendMessage for that chat. The late check stays at its defaults (UPDATES_CHECK_SECONDS 60), so
only the webhook path sends.

Run with `python -m benchmarks.updates` (needs SA_MODEL); prints a table and writes
benchmarks/results/updates.json.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, select
from sqlalchemy.orm import selectinload
from starlette.requests import Request

from benchmarks.common import (
    NO_RATE_LIMITS,
    fresh_work_dir,
    print_table,
    trained_model,
    write_results,
)
from benchmarks.stats import latency_summary
from bot import conversations, demo_shop, order_updates
from bot.gateway.order_webhooks import DEMO_SHOP, signature
from bot.order_events import events_of
from bot.policy import UNSHIPPED_STATES
from bot.shared_secrets import shop_webhook_secret
from bot.stack import Stack, free_port
from bot.store.db import get_engine, session_scope
from bot.store.models import Order, OrderLine
from bot.store.sql_source import SqlOrderSource
from tests.fakes.server import serving
from tests.fakes.telegram_api import FakeBotApi

EVENTS = 100
TIMEOUT_SECONDS = 30.0
SETTLE_SECONDS = 3.0  # after the last event: time for a late duplicate to show up
BOT_TOKEN = "424242:BENCH-updates"
FIRST_CHAT = 7_100_001
FIRST_EXTRA_NUMBER = 30001
JOURNEY = ("ship", "out-for-delivery", "deliver")
# What each step's update says (bot/replies.py order_update), to tell a wrong message.
SAYS = {"ship": "has shipped", "out-for-delivery": "out for delivery", "deliver": "delivered"}
# Orders that still have a parcel journey ahead once shipped (not finished or returning).
IN_TRANSIT = frozenset({"shipped", "in_transit", "delayed", "out_for_delivery"})


class TimedBotApi(FakeBotApi):
    """The fake Bot API, noting when each sendMessage arrives (perf_counter, this process)."""

    def __init__(self, token: str) -> None:
        super().__init__(token)
        self.arrived = threading.Condition()
        self.arrivals: dict[int, list[tuple[float, str]]] = {}

    async def params(self, request: Request) -> dict[str, Any]:  # type: ignore[override]
        at = time.perf_counter()  # before the body is read: the request has arrived
        params = await FakeBotApi.params(request)
        if request.path_params.get("method") == "sendMessage":
            with self.arrived:
                chat = int(params["chat_id"])
                self.arrivals.setdefault(chat, []).append((at, str(params.get("text", ""))))
                self.arrived.notify_all()
        return params

    def wait_for(self, chat: int, count: int, timeout: float) -> tuple[float, str] | None:
        """The `count`th message to `chat` (1-based): its arrival time and text, or None."""
        with self.arrived:
            got = self.arrived.wait_for(
                lambda: len(self.arrivals.get(chat, [])) >= count, timeout=timeout
            )
            return self.arrivals[chat][count - 1] if got else None

    def received(self, chat: int) -> int:
        with self.arrived:
            return len(self.arrivals.get(chat, []))


@dataclass(frozen=True)
class Event:
    number: str
    step: str
    chat: int
    nth: int  # this chat's how-manieth update it is


def steps_ahead(order: Order) -> tuple[str, ...]:
    """The journey steps `demo_shop.advance` can still take this order through."""
    ship = order.shipment
    if ship is None:
        return JOURNEY if order.status in UNSHIPPED_STATES else ()
    if ship.delivered_at is not None or order.status not in IN_TRANSIT:
        return ()
    return JOURNEY[2:] if ship.out_for_delivery_at else JOURNEY[1:]


def add_unshipped_orders(engine: Engine, count: int) -> list[str]:
    """`count` more paid, unshipped orders, copies of the seed's first paid one, when the demo
    shop has too few journeys ahead for EVENTS."""
    numbers = []
    with session_scope(engine) as session:
        model = session.scalars(
            select(Order).where(Order.status == "paid", ~Order.shipment.has())
        ).first()
        assert model is not None, "the seed has no paid, unshipped order to copy"
        for n in range(count):
            number = str(FIRST_EXTRA_NUMBER + n)
            copy = Order(
                number=number,
                customer_id=model.customer_id,
                status="paid",
                placed_at=model.placed_at,
                currency=model.currency,
                payment_method=model.payment_method,
                ship_name=model.ship_name,
                ship_line1=model.ship_line1,
                ship_city=model.ship_city,
                ship_postcode=model.ship_postcode,
                ship_country=model.ship_country,
            )
            copy.lines = [
                OrderLine(
                    sku=line.sku, name=line.name, quantity=line.quantity, unit_price=line.unit_price
                )
                for line in model.lines
            ]
            session.add(copy)
            numbers.append(number)
    return numbers


def journeys(engine: Engine, events: int) -> list[tuple[str, tuple[str, ...]]]:
    """(order number, steps ahead) for the demo orders, topped up with copies until there are
    `events` steps plus one order for the warm-up."""
    with session_scope(engine) as session:
        orders = session.scalars(
            select(Order).options(selectinload(Order.shipment)).order_by(Order.number)
        ).all()
        found = [(o.number, steps) for o in orders if (steps := steps_ahead(o))]
    short = events - sum(len(steps) for _, steps in found)
    extra = add_unshipped_orders(engine, max(0, -(-short // len(JOURNEY))) + 1)
    return found + [(number, JOURNEY) for number in extra]


def subscribe_chats(engine: Engine, orders: list[str]) -> dict[str, int]:
    """One Telegram conversation per order, subscribed with what already happened as known
    (as actions/confirmation.py `subscribe` does). Returns each order's chat id."""
    source = SqlOrderSource(engine)
    today = datetime.now(UTC).date()
    chats = {}
    for i, number in enumerate(orders):
        chat = FIRST_CHAT + i
        conversation = conversations.for_channel_user("telegram", str(chat), engine)
        order = source.get_order(number)
        known = [event.key for event in events_of(order, today)] if order else []
        order_updates.subscribe(conversation.id, number, known, engine)
        chats[number] = chat
    return chats


def plan(found: list[tuple[str, tuple[str, ...]]], chats: dict, events: int) -> list[Event]:
    """Every order's first step, then every second step, then every third, up to `events`."""
    planned = []
    for index in range(len(JOURNEY)):
        for number, steps in found:
            if index < len(steps) and len(planned) < events:
                planned.append(Event(number, steps[index], chats[number], index + 1))
    return planned


def signed(number: str, step: str) -> tuple[bytes, dict[str, str]]:
    """The demo shop's webhook for this step, as `bot.demo_shop.notify_gateway` signs it."""
    body = json.dumps({"order_number": number, "event": step}).encode()
    headers = {
        "content-type": "application/json",
        DEMO_SHOP.signature_header: signature(body, shop_webhook_secret()),
        DEMO_SHOP.delivery_header: str(uuid.uuid4()),
    }
    return body, headers


def measure(model: Path, work: Path, events: int = EVENTS) -> dict:
    store_url = f"sqlite:///{work / 'store.db'}"
    engine = get_engine(store_url)
    found = journeys(engine, events)
    warm_up, found = found[-1], found[:-1]  # one order of its own, not timed
    chats = subscribe_chats(engine, [number for number, _ in [*found, warm_up]])
    planned = plan(found, chats, events)
    telegram = TimedBotApi(BOT_TOKEN)
    latencies: list[float] = []
    acks: list[float] = []
    errors = wrong = 0
    expected: dict[int, int] = {}
    with serving(telegram.app) as telegram_url:
        env = {
            "STORE_DATABASE_URL": store_url,
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "TELEGRAM_API_URL": telegram_url,
            "TELEGRAM_WEBHOOK_URL": "",  # polling the fake, as the e2e tests do
            "UPDATES_CHECK_SECONDS": "60",  # the default: only the webhook path sends
            "QUIET_HOURS": "",
            **NO_RATE_LIMITS,
        }
        tracker = f"sqlite:///{work / 'tracker.db'}"
        with (
            Stack(model, free_port(), free_port(), free_port(), work, env, tracker) as stack,
            httpx.Client(timeout=TIMEOUT_SECONDS) as client,
        ):
            url = f"{stack.gateway_url}/webhooks/shop/orders"
            number = warm_up[0]
            demo_shop.advance(number, "ship", engine=engine)
            body, headers = signed(number, "ship")
            client.post(url, content=body, headers=headers).raise_for_status()
            if telegram.wait_for(chats[number], 1, 60) is None:
                raise RuntimeError("the warm-up update never reached the fake Bot API")
            for event in planned:
                demo_shop.advance(event.number, event.step, engine=engine)
                body, headers = signed(event.number, event.step)
                expected[event.chat] = event.nth
                started = time.perf_counter()
                answer = client.post(url, content=body, headers=headers)
                acks.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200 or answer.json().get("accepted") is not True:
                    errors += 1
                    continue
                arrival = telegram.wait_for(event.chat, event.nth, TIMEOUT_SECONDS)
                if arrival is None:
                    errors += 1
                    continue
                at, text = arrival
                latencies.append((at - started) * 1000)
                if f"#{event.number}" not in text or SAYS[event.step] not in text:
                    wrong += 1
            time.sleep(SETTLE_SECONDS)
            duplicates = sum(
                max(0, telegram.received(chat) - count) for chat, count in expected.items()
            )
            duplicates += max(0, telegram.received(chats[warm_up[0]]) - 1)
            strays = sum(
                telegram.received(chat)
                for chat in set(telegram.arrivals) - set(expected) - {chats[warm_up[0]]}
            )
    steps = {step: sum(e.step == step for e in planned) for step in JOURNEY}
    return {
        "webhook_to_message": latency_summary(latencies) if latencies else None,
        "webhook_answered": latency_summary(acks) if acks else None,
        "events": len(planned),
        "delivered": len(latencies),
        "errors": errors,
        "wrong_messages": wrong,
        "duplicates": duplicates,
        "messages_to_other_chats": strays,
        "orders": len({e.number for e in planned}),
        "steps": steps,
        "mix": "one event at a time on an idle stack: demo order advanced in the store, signed "
        "demo-shop webhook POSTed, timed to the fake Bot API receiving the sendMessage for the "
        "subscribed chat; one Telegram conversation per order; a warm-up event first, not "
        f"timed; {TIMEOUT_SECONDS:.0f} s per event; UPDATES_CHECK_SECONDS 60; SQLite store",
    }


def main() -> int:
    model = trained_model()
    if model is None:
        return 2
    work = fresh_work_dir("bench-updates")
    print(f"Order updates: {EVENTS} webhook events, one at a time...", flush=True)
    results = measure(model, work)
    written = write_results("updates", results, model)
    latency = results["webhook_to_message"] or {}
    ack = results["webhook_answered"] or {}
    print_table(
        [
            ("webhook -> message", _figures(latency)),
            ("webhook answered", _figures(ack)),
            ("events", str(results["events"])),
            ("delivered", str(results["delivered"])),
            ("errors", str(results["errors"])),
            ("wrong messages", str(results["wrong_messages"])),
            ("duplicates", str(results["duplicates"])),
        ]
    )
    print(f"written: {written}")
    failed = results["errors"] or results["duplicates"] or results["wrong_messages"]
    return 1 if failed else 0


def _figures(summary: dict) -> str:
    return "   ".join(f"{k[:3]} {summary.get(k)} ms" for k in ("p50_ms", "p95_ms", "max_ms"))


if __name__ == "__main__":
    sys.exit(main())

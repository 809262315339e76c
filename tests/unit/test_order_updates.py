"""Order events, subscriptions and the rules that keep updates to one per event: pure parts
and the store (a real SQLite database)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot import conversations, demo_shop, order_updates
from bot.channels.whatsapp import Template, update_templates
from bot.gateway.order_updates import OrderUpdates
from bot.gateway.order_webhooks import order_number
from bot.gateway.rasa_client import RasaClient
from bot.gateway.relay import Gateway
from bot.order_events import event_of, events_of, still_moving, worth_telling
from bot.orders import get_order_source
from bot.settings import get_settings
from bot.store.db import session_scope
from bot.store.models import OrderUpdate
from bot.store.sql_source import SqlOrderSource


def keys(events) -> list[str]:
    return [event.key for event in events]


def test_events_follow_the_order_as_the_shop_has_it(store):
    source = SqlOrderSource(store)
    today = date.today()
    assert keys(events_of(source.get_order("10426"), today)) == []  # paid, not shipped
    assert keys(events_of(source.get_order("10419"), today)) == ["shipped"]
    assert keys(events_of(source.get_order("10465"), today)) == ["shipped", "out_for_delivery"]
    assert keys(events_of(source.get_order("10453"), today)) == ["shipped", "late"]
    delivered = events_of(source.get_order("10418"), today)
    assert keys(delivered) == ["shipped", "delivered"]
    in_transit = source.get_order("10419")
    assert keys(events_of(in_transit, today + timedelta(days=30))) == ["shipped", "late"]
    refunded = source.get_order("10427")
    assert events_of(refunded, today)[-1] == event_of("refund:1")
    assert event_of("refund:1").kind == "refunded"
    assert not still_moving(refunded) and still_moving(in_transit)


def test_only_the_furthest_new_step_is_told_and_nothing_is_late_once_delivered(store):
    order = SqlOrderSource(store).get_order("10418")
    late = replace(order.shipment, delivered_at=None)
    events = events_of(replace(order, shipment=late, status="delayed"), date.today())
    tell, overtaken = worth_telling(events)
    assert keys(tell) == ["late"] and keys(overtaken) == ["shipped"]
    tell, overtaken = worth_telling(events_of(order, date.today()))
    assert keys(tell) == ["delivered"] and keys(overtaken) == ["shipped"]


@pytest.mark.parametrize(
    "utc, expected",
    [
        (datetime(2026, 7, 1, 2, 0), datetime(2026, 7, 1, 12, 0)),  # 22:00 New York (EDT)
        (datetime(2026, 7, 1, 11, 59), datetime(2026, 7, 1, 12, 0)),  # 07:59
        (datetime(2026, 7, 1, 12, 0), None),  # 08:00: quiet hours are over
        (datetime(2026, 7, 1, 20, 0), None),  # 16:00
        (datetime(2026, 1, 10, 3, 0), datetime(2026, 1, 10, 13, 0)),  # 22:00 (EST)
    ],
)
def test_quiet_hours_hold_an_update_until_they_end_in_the_shops_time_zone(utc, expected):
    assert order_updates.quiet_until(utc, "21:00-08:00", "America/New_York") == expected
    assert order_updates.quiet_until(utc, "", "America/New_York") is None


def test_quiet_hours_inside_one_day_and_a_bad_setting():
    assert order_updates.quiet_until(
        datetime(2026, 7, 1, 13, 30), "12:00-14:00", "UTC"
    ) == datetime(2026, 7, 1, 14, 0)
    with pytest.raises(ValueError):
        order_updates.check_quiet_hours("9pm to 8am")


def test_whatsapp_templates_default_and_are_overridden_by_the_setting():
    templates = update_templates("late=delay_notice:order_number,eta,reason")
    assert templates["shipped"] == Template(
        "order_shipped", ("order_number", "carrier", "tracking_link")
    )
    assert templates["late"] == Template("delay_notice", ("order_number", "eta", "reason"))
    for bad in ("late=delay_notice:order_number,password", "late", "=x:order_number"):
        with pytest.raises(ValueError, match="WHATSAPP_UPDATE_TEMPLATES"):
            update_templates(bad)


@pytest.mark.parametrize(
    "payload, number",
    [
        ({"id": 820982911946154508, "name": "#10423", "order_number": 10423}, "10423"),
        ({"id": 255858046, "order_id": 450789469, "name": "#10423.1"}, "10423"),  # fulfillment
        ({"id": 727, "number": "10423", "status": "completed"}, "10423"),  # WooCommerce
        ({"order_number": "10423", "event": "ship"}, "10423"),
        ({"order_id": 450789469}, None),
        ({"name": "#10423; DROP TABLE"}, None),
        ([1, 2], None),
        ({"number": True}, None),
    ],
)
def test_the_order_a_webhook_is_about(payload, number):
    assert order_number(payload) == number


def subscriber_of(store, number: str, channel: str = "telegram"):
    conversation = conversations.for_channel_user(channel, f"user-{number}", store)
    subscription = order_updates.subscribe(conversation.id, number, ["shipped"], store)
    (found,) = [
        s for s in order_updates.subscribers(number, store) if s.subscription_id == subscription
    ]
    return conversation, found


def test_an_event_is_due_once_per_subscriber_and_claimed_once(store):
    conversation, subscriber = subscriber_of(store, "10419")
    shipped, delivered = events_of(SqlOrderSource(store).get_order("10418"), date.today())
    now = datetime.now().replace(microsecond=0)
    # "shipped" had happened when the shopper subscribed: not news.
    assert order_updates.record(subscriber, [shipped, delivered], [], now, store) == 1
    assert order_updates.record(subscriber, [delivered], [], now, store) == 0  # a replay
    utc = order_updates.utcnow()
    first = order_updates.claim_due(utc, {"telegram"}, store)
    assert [due.kind for due in first] == ["delivered"]
    assert order_updates.claim_due(utc, {"telegram"}, store) == []  # taken
    order_updates.release_claims(store)  # a gateway stopped mid-send: due again
    assert order_updates.claim_due(utc, {"web"}, store) == []  # not this gateway's channel
    assert len(order_updates.claim_due(utc, {"telegram"}, store)) == 1
    assert order_updates.orders_to_watch(store) == []  # told "delivered": nothing to watch


def test_stop_ends_the_subscription_and_drops_what_was_waiting(store):
    conversation, subscriber = subscriber_of(store, "10444")
    (late,) = [e for e in events_of(SqlOrderSource(store).get_order("10453"), date.today())][1:]
    later = order_updates.utcnow() + timedelta(hours=8)  # held for quiet hours
    assert order_updates.record(subscriber, [late], [], later, store) == 1
    assert order_updates.orders_to_watch(store) == ["10444"]
    assert order_updates.stop(conversation.id, store) == 1
    assert order_updates.subscribers("10444", store) == []
    assert order_updates.claim_due(later, {"telegram"}, store) == []
    assert order_updates.orders_to_watch(store) == []
    # Saying yes again subscribes again.
    order_updates.subscribe(conversation.id, "10444", [], store)
    assert len(order_updates.subscribers("10444", store)) == 1


def quiet_around_now() -> str:
    """Quiet hours that hold now, in the demo shop's time zone (America/New_York)."""
    local = datetime.now(ZoneInfo("America/New_York"))
    start, end = local - timedelta(hours=1), local + timedelta(hours=1)
    return f"{start:%H:%M}-{end:%H:%M}"


def test_quiet_hours_hold_an_update_and_it_goes_out_when_they_end(store, monkeypatch):
    """The gateway's own OrderUpdates on a web conversation (no Rasa needed: an update is
    the gateway's)."""
    conversation = conversations.start("web", engine=store)
    order_updates.subscribe(conversation.id, "10419", ["shipped"], store)
    demo_shop.advance("10419", "deliver", engine=store)
    monkeypatch.setenv("QUIET_HOURS", quiet_around_now())
    get_settings.cache_clear()
    quiet = OrderUpdates(Gateway(RasaClient("http://127.0.0.1:9"), store), get_settings())
    assert asyncio.run(quiet.order_changed("10419")) == 1
    said = [m.text for m in conversations.messages(conversation.id, engine=store)]
    assert said == []  # held
    assert asyncio.run(quiet.send_due()) == 0
    # Quiet hours over (the same row, its time come): it goes out once, in the transcript.
    with session_scope(store) as session:
        session.execute(update(OrderUpdate).values(due_at=order_updates.utcnow()))
    monkeypatch.delenv("QUIET_HOURS")
    get_settings.cache_clear()
    awake = OrderUpdates(Gateway(RasaClient("http://127.0.0.1:9"), store), get_settings())
    assert asyncio.run(awake.send_due()) == 1
    assert asyncio.run(awake.order_changed("10419")) == 0  # nothing new
    (update_message,) = conversations.messages(conversation.id, engine=store)
    assert "#10419 has been delivered" in update_message.text
    assert update_message.extra["update"] == "delivered"
    assert [b["payload"] for b in update_message.buttons] == ["/stop_updates"]


def test_an_order_system_down_sends_nothing_and_loses_nothing(store, monkeypatch):
    conversation = conversations.start("web", engine=store)
    order_updates.subscribe(conversation.id, "10419", ["shipped"], store)
    demo_shop.advance("10419", "deliver", engine=store)
    monkeypatch.setenv("ORDER_SOURCE", "tests.fakes.down_orders:DownOrderSource")
    get_settings.cache_clear()
    get_order_source.cache_clear()
    updates = OrderUpdates(Gateway(RasaClient("http://127.0.0.1:9"), store), get_settings())
    assert asyncio.run(updates.order_changed("10419")) == 0
    monkeypatch.delenv("ORDER_SOURCE")
    get_settings.cache_clear()
    get_order_source.cache_clear()
    assert asyncio.run(updates.order_changed("10419")) == 1  # the next webhook or check


def test_an_update_due_while_the_order_system_is_down_waits_for_a_retry(store, monkeypatch):
    conversation, subscriber = subscriber_of(store, "10419", channel="web")
    (late,) = events_of(SqlOrderSource(store).get_order("10453"), date.today())[1:]
    order_updates.record(subscriber, [late], [], order_updates.utcnow(), store)
    monkeypatch.setenv("ORDER_SOURCE", "tests.fakes.down_orders:DownOrderSource")
    get_settings.cache_clear()
    get_order_source.cache_clear()
    updates = OrderUpdates(Gateway(RasaClient("http://127.0.0.1:9"), store), get_settings())
    assert asyncio.run(updates.send_due()) == 0
    with session_scope(store) as session:
        row = session.scalars(select(OrderUpdate).where(OrderUpdate.event == "late")).one()
        assert (row.status, row.attempts) == ("due", 1)  # retried after DELIVERY_RETRY_DELAYS
        assert row.due_at > order_updates.utcnow()
    assert conversations.messages(conversation.id, engine=store) == []

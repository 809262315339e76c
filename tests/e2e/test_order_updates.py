"""Proactive order updates end to end: shoppers on Telegram, WhatsApp and the web say yes to
updates after an order answer; signed order webhooks (the demo shop's, `bot shop advance`)
reach a gateway with the fake Bot API and Graph API on loopback; the late check runs on its
own. The running stack (Rasa, actions, store) answers."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from bot import demo_shop
from bot.clock import utcnow
from bot.conversations import stored_id
from bot.gateway.order_webhooks import DEMO_SHOP, signature
from bot.shared_secrets import shop_webhook_secret
from bot.store.db import get_engine, session_scope
from bot.store.models import (
    Conversation,
    Message,
    Order,
    OrderSubscription,
    OrderUpdate,
    Shipment,
)
from tests.conftest import Shopper, new_agent, seed_order, ticket_of
from tests.e2e.test_whatsapp import post as post_whatsapp
from tests.e2e.test_whatsapp import text_message, webhook
from tests.e2e.two_channels import (
    Channels,
    telegram_messages,
    two_channels,
    whatsapp_messages,
    whatsapp_text,
)
from tests.fakes.server import wait_for

pytestmark = pytest.mark.e2e

BOT_TOKEN = "654321:UPDATES-token"
chats = itertools.count(9101)
numbers = (f"4477119{n:05d}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def channels(stack):
    with two_channels(
        stack,
        BOT_TOKEN,
        {
            "WHATSAPP_UPDATE_TEMPLATES": "delivered=parcel_arrived:order_number,carrier",
            "UPDATES_CHECK_SECONDS": "0.3",
            "LATE_CHECK_MINUTES": "0.01",
            "DELIVERY_RETRY_DELAYS": "0.3,0.5",
        },
    ) as both:
        yield both


def subscribe_on_telegram(channels: Channels, chat: int, number: str) -> list[dict]:
    """Ask about the order, prove it, say yes to updates; returns what the bot sent."""
    fake = channels.telegram
    fake.user_says(chat, f"where is my order {number}?")
    telegram_messages(channels, chat, 1)
    fake.user_says(chat, seed_order(number)["email"])
    sent = telegram_messages(channels, chat, 3)
    assert f"#{number}" in sent[1]["text"]
    offer = sent[2]
    assert "Shall I message you here when it ships?" in offer["text"]
    yes = offer["reply_markup"]["inline_keyboard"][0][0]
    fake.user_presses(chat, offer, yes["callback_data"])
    assert "I'll message you here" in telegram_messages(channels, chat, 4)[3]["text"]
    return channels.telegram.sent(chat)


def subscribe_on_whatsapp(channels: Channels, wa_id: str, number: str) -> None:
    graph = channels.whatsapp
    post_whatsapp(graph, webhook([text_message(wa_id, f"where is my order {number}?")]))
    whatsapp_messages(channels, wa_id, 1)
    post_whatsapp(graph, webhook([text_message(wa_id, seed_order(number)["postcode"])]))
    sent = whatsapp_messages(channels, wa_id, 3)
    offer = sent[2]
    assert "when it ships" in whatsapp_text(offer)
    yes = offer["interactive"]["action"]["buttons"][0]["reply"]
    pressed = {
        "from": wa_id,
        "id": f"wamid.in.{uuid.uuid4().hex}",
        "timestamp": "1700000000",
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": yes},
    }
    post_whatsapp(graph, webhook([pressed]))
    assert "I'll message you here" in whatsapp_text(whatsapp_messages(channels, wa_id, 4)[3])


def signed_event(number: str, step: str, delivery: str | None = None) -> tuple[bytes, dict]:
    body = json.dumps({"order_number": number, "event": step}).encode()
    headers = {
        "content-type": "application/json",
        DEMO_SHOP.signature_header: signature(body, shop_webhook_secret()),
        DEMO_SHOP.delivery_header: delivery or str(uuid.uuid4()),
    }
    return body, headers


def post_event(channels: Channels, body: bytes, headers: dict) -> httpx.Response:
    return httpx.post(
        f"{channels.gateway.gateway_url}/webhooks/shop/orders", content=body, headers=headers
    )


def outside_the_window(engine, wa_id: str) -> None:
    """The shopper last wrote 25 hours ago: WhatsApp takes only templates now."""
    with session_scope(engine) as session:
        conversation = session.scalars(
            select(Conversation).where(Conversation.channel_user_id == wa_id)
        ).one()
        session.execute(
            update(Message)
            .where(Message.conversation_id == conversation.id)
            .values(created_at=utcnow() - timedelta(hours=25))
        )


def updates_of(engine, number: str) -> list[tuple[str, str, str]]:
    with session_scope(engine) as session:
        rows = session.execute(
            select(OrderUpdate.channel, OrderUpdate.kind, OrderUpdate.status)
            .join(OrderSubscription, OrderSubscription.id == OrderUpdate.subscription_id)
            .where(OrderSubscription.order_number == number)
        ).all()
    return sorted(tuple(row) for row in rows)


def test_a_signed_webhook_makes_one_update_per_subscriber_and_a_replay_none(channels, stack):
    engine = get_engine(stack.db_url)
    number, chat, wa_id = "10442", next(chats), next(numbers)
    subscribe_on_telegram(channels, chat, number)
    subscribe_on_whatsapp(channels, wa_id, number)
    outside_the_window(engine, wa_id)
    telegram_before = len(channels.telegram.sent(chat))
    whatsapp_before = len(channels.whatsapp.sent_to(wa_id))

    demo_shop.advance(number, "ship", engine=engine)
    body, headers = signed_event(number, "ship")
    assert post_event(channels, body, headers).json() == {"accepted": True}

    shipped = telegram_messages(channels, chat, telegram_before + 1)[-1]
    tracking = seed_shipment(engine, number)
    assert f"#{number} has shipped with UPS" in shipped["text"]
    assert f"https://www.ups.com/track?tracknum={tracking}" in shipped["text"]
    stop = shipped["reply_markup"]["inline_keyboard"][-1][0]
    assert stop["text"] == "Stop updates"
    template = whatsapp_messages(channels, wa_id, whatsapp_before + 1)[-1]
    assert template["type"] == "template"
    assert template["template"]["name"] == "order_shipped"
    assert template["template"]["language"] == {"code": "en"}
    values = [p["text"] for p in template["template"]["components"][0]["parameters"]]
    assert values == [number, "UPS", f"https://www.ups.com/track?tracknum={tracking}"]

    # The same delivery again, and the same event under a new delivery id: nothing more.
    assert post_event(channels, body, headers).json()["accepted"] is False
    again, again_headers = signed_event(number, "ship")
    assert post_event(channels, again, again_headers).json() == {"accepted": True}
    time.sleep(2)
    assert len(channels.telegram.sent(chat)) == telegram_before + 1
    assert len(channels.whatsapp.sent_to(wa_id)) == whatsapp_before + 1
    assert updates_of(engine, number) == [
        ("telegram", "shipped", "sent"),
        ("whatsapp", "shipped", "sent"),
    ]
    # Everything is in the transcripts.
    with session_scope(engine) as session:
        kinds = session.scalars(
            select(Message.extra).where(Message.text.contains("has shipped with UPS"))
        ).all()
    assert sum('"update": "shipped"' in (extra or "") for extra in kinds) >= 2

    # Telegram stops (the button); delivery then reaches WhatsApp only, by its template.
    channels.telegram.user_presses(chat, shipped, stop["callback_data"])
    assert (
        "won't send you any more"
        in telegram_messages(channels, chat, telegram_before + 2)[-1]["text"]
    )
    demo_shop.advance(number, "deliver", engine=engine)
    assert post_event(channels, *signed_event(number, "deliver")).json()["accepted"]
    delivered = whatsapp_messages(channels, wa_id, whatsapp_before + 2)[-1]
    assert delivered["template"]["name"] == "parcel_arrived"  # WHATSAPP_UPDATE_TEMPLATES
    values = [p["text"] for p in delivered["template"]["components"][0]["parameters"]]
    assert values == [number, "UPS"]
    time.sleep(1.5)
    assert len(channels.telegram.sent(chat)) == telegram_before + 2


def seed_shipment(engine, number: str) -> str:
    with session_scope(engine) as session:
        return session.scalars(
            select(Shipment.tracking_number).join(Order).where(Order.number == number)
        ).one()


def test_unsigned_or_tampered_webhooks_are_refused_and_store_nothing(channels, stack):
    engine = get_engine(stack.db_url)
    body, headers = signed_event("10426", "ship")
    url = f"{channels.gateway.gateway_url}/webhooks/shop/orders"
    unsigned = {k: v for k, v in headers.items() if k != DEMO_SHOP.signature_header}
    assert httpx.post(url, content=body, headers=unsigned).status_code == 401
    tampered = body.replace(b"10426", b"10427")
    assert httpx.post(url, content=tampered, headers=headers).status_code == 401
    wrong = {**headers, DEMO_SHOP.signature_header: signature(body, "not-the-secret")}
    assert httpx.post(url, content=body, headers=wrong).status_code == 401
    # Refused deliveries were not recorded: the signed one with that id is still new.
    assert post_event(channels, body, headers).json() == {"accepted": True}
    # Another order's event under the same delivery id (WooCommerce's ids are the webhook and
    # the second) is news, not a retry.
    delivery = headers[DEMO_SHOP.delivery_header]
    assert post_event(channels, *signed_event("10404", "ship", delivery)).json()["accepted"]
    assert post_event(channels, body, headers).json()["accepted"] is False
    # Shopify and WooCommerce webhooks are off until their secrets are set.
    for platform in ("shopify", "woocommerce"):
        answer = httpx.post(
            f"{channels.gateway.gateway_url}/webhooks/{platform}/orders", content=body
        )
        assert answer.status_code == 404
    assert engine is not None


def test_the_late_check_tells_a_web_shopper_once_with_the_shops_reason(channels, stack):
    engine = get_engine(stack.db_url)
    number = "10419"  # in transit, due in a few days
    shopper = Shopper(channels.gateway)
    shopper.says(f"where is order {number}?")
    said = shopper.says(seed_order(number)["postcode"])
    assert "when it's out for delivery and when it arrives" in said
    assert "I'll message you here" in shopper.says("yes")
    with session_scope(engine) as session:  # days pass; the carrier says why
        ship = session.scalars(select(Shipment).join(Order).where(Order.number == number)).one()
        ship.promised_from -= timedelta(days=10)
        ship.promised_to -= timedelta(days=8)
        ship.delay_reason = "Held at customs"

    def late_updates() -> list[Message]:
        with session_scope(engine) as session:
            return session.scalars(
                select(Message).where(
                    Message.conversation_id == shopper.id, Message.extra.contains('"late"')
                )
            ).all()

    late = wait_for(late_updates, timeout=20, what="the late update")
    assert "running late" in late[0].text and "“Held at customs”" in late[0].text
    assert "Talk to a person" in late[0].extra
    time.sleep(2)  # several more checks
    assert len(late_updates()) == 1
    # The shopper stops typing "stop updates": no more updates on this order.
    assert "won't send you any more" in shopper.says("stop updates")
    with session_scope(engine) as session:
        stopped = session.scalars(
            select(OrderSubscription.stopped_at).where(
                OrderSubscription.conversation_id == stored_id(shopper.key)
            )
        ).one()
    assert stopped is not None
    # The late update's "Talk to a person" still works; staff see the subscription.
    assert "reference H-" in shopper.says("Talk to a person", payload="/human_handoff")
    agent = new_agent(stack, channels.gateway)
    ticket = agent.ticket(ticket_of(engine, shopper.id).id)
    assert [u["order_number"] for u in ticket["order_updates"]] == [number]
    assert ticket["order_updates"][0]["stopped_at"] is not None

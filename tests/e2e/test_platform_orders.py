"""Shops on Shopify and WooCommerce end to end (issue #17): the running stack's action server
and a gateway both read orders from a fake of the platform on loopback (ORDER_SOURCE), a
shopper proves an order and is answered from the platform, says yes to updates, and the
platform's signed order webhook (Shopify's `fulfillments/create`, WooCommerce's
`order.updated`) tells them once that it shipped. Shopify then goes down mid-conversation."""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from bot.gateway.order_webhooks import SHOPIFY, WOOCOMMERCE, signature
from bot.replies import ORDER_SYSTEM_DOWN
from bot.store.db import get_engine, session_scope
from bot.store.models import ChannelReceipt, OrderSubscription, OrderUpdate, Ticket
from tests.conftest import Shopper, gateway_with, seed_order
from tests.e2e.test_faults import restart_actions
from tests.fakes import shopify_admin, woocommerce_api
from tests.fakes.server import serving, wait_for
from tests.fakes.shopify_admin import FakeShopifyAdmin
from tests.fakes.telegram_api import FakeBotApi
from tests.fakes.woocommerce_api import FakeWooCommerce

pytestmark = pytest.mark.e2e

BOT_TOKEN = "765432:PLATFORMS-token"
SHOPIFY_SECRET = "shopify-app-client-secret"
WOOCOMMERCE_SECRET = "woocommerce-webhook-secret"
# Packed, unshipped, and used by no other test: one per platform, as the subscriptions and
# receipts live in the session's shared store.
NUMBER = {"shopify": "10428", "woocommerce": "10435"}
WEBHOOK_SECRET = {
    "shopify": ("SHOPIFY_WEBHOOK_SECRET", SHOPIFY_SECRET),
    "woocommerce": ("WOOCOMMERCE_WEBHOOK_SECRET", WOOCOMMERCE_SECRET),
}
chats = itertools.count(7301)


@dataclass
class Shop:
    """One platform's fake, and a gateway whose ORDER_SOURCE (like the action server's) is it."""

    name: str
    fake: FakeShopifyAdmin | FakeWooCommerce
    telegram: FakeBotApi
    gateway: Any  # bot.stack.Stack: `.gateway_url`
    engine: Engine

    @property
    def number(self) -> str:
        return NUMBER[self.name]

    def asked_for(self, number: str) -> bool:
        """Whether the platform was asked for this order (not the bundled SQL store)."""
        if isinstance(self.fake, FakeShopifyAdmin):
            return {"query": f'name:"#{number}"'} in self.fake.sent("OrderByName")
        return any(
            params.get("search") == number or self.fake.order(number)["id"] == order_id
            for operation, order_id, params in self.fake.calls
            if operation in ("get_order", "list_orders")
        )


def platform_env(name: str, url: str, fake) -> dict[str, str]:
    """ORDER_SOURCE=`name` pointing at the fake, as both the actions and the gateway get it."""
    common = {
        "ORDER_SOURCE": name,
        "ORDER_SOURCE_TIMEOUT_SECONDS": "2",
        "ORDER_SOURCE_RETRIES": "1",
    }
    if name == "shopify":
        return common | {"SHOPIFY_SHOP_URL": url, "SHOPIFY_ACCESS_TOKEN": fake.token}
    return common | {
        "WOOCOMMERCE_URL": url,
        "WOOCOMMERCE_CONSUMER_KEY": fake.key,
        "WOOCOMMERCE_CONSUMER_SECRET": fake.secret,
    }


@pytest.fixture(scope="module")
def actions_on(stack) -> Iterator:
    """Restarts the shared action server with another environment when asked; the original
    one (`stack.env`) is put back once, when the module is done."""
    normal = dict(stack.env)
    current = {"env": normal}

    def use(env: dict[str, str]) -> None:
        """The action server with the original environment plus `env`."""
        if normal | env != current["env"]:
            restart_actions(stack, normal | env)
            current["env"] = normal | env

    try:
        yield use
    finally:
        if current["env"] != normal:
            restart_actions(stack, normal)


@pytest.fixture(scope="module")
def shop(request, stack, actions_on) -> Iterator[Shop]:
    """The platform's fake on loopback, the action server reading orders from it, and a
    gateway with that ORDER_SOURCE, the platform's webhook secret and a fake Telegram."""
    name = request.param
    engine = get_engine(stack.db_url)
    fake = FakeShopifyAdmin(engine) if name == "shopify" else FakeWooCommerce(engine)
    telegram = FakeBotApi(BOT_TOKEN)
    with serving(fake.app) as url, serving(telegram.app) as telegram_url:
        env = platform_env(name, url, fake)
        actions_on(env)
        variable, secret = WEBHOOK_SECRET[name]
        gateway_env = env | {
            variable: secret,
            "TELEGRAM_BOT_TOKEN": BOT_TOKEN,
            "TELEGRAM_API_URL": telegram_url,
            "UPDATES_CHECK_SECONDS": "0.3",
        }
        with gateway_with(stack, gateway_env) as gateway:
            telegram.gateway = gateway
            yield Shop(name, fake, telegram, gateway, engine)


BOTH = pytest.mark.parametrize("shop", ["shopify", "woocommerce"], indirect=True)


# --- the platform's webhooks ----------------------------------------------------------------


def shopify_fulfillment(payload: dict, secret: str = SHOPIFY_SECRET) -> tuple[bytes, dict]:
    """`fulfillments/create` as Shopify sends it: the JSON body and its headers."""
    body = json.dumps(payload).encode()
    headers = {
        "content-type": "application/json",
        "X-Shopify-Topic": "fulfillments/create",
        "X-Shopify-Hmac-Sha256": signature(body, secret),
        "X-Shopify-Shop-Domain": "northwind-outfitters.myshopify.com",
        "X-Shopify-API-Version": "2025-01",
        "X-Shopify-Webhook-Id": str(uuid.uuid4()),
        "X-Shopify-Triggered-At": payload["created_at"],
    }
    return body, headers


def woocommerce_order_updated(
    payload: dict, secret: str = WOOCOMMERCE_SECRET
) -> tuple[bytes, dict]:
    """`order.updated` as WooCommerce sends it: the order resource and its headers."""
    body = json.dumps(payload).encode()
    headers = {
        "content-type": "application/json",
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": "updated",
        "X-WC-Webhook-Signature": signature(body, secret),
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": uuid.uuid4().hex,
    }
    return body, headers


def shipped_webhook(shop: Shop, carrier: str, tracking: str, url: str) -> tuple[bytes, dict]:
    """The shop ships the order on the platform; the webhook the platform then sends."""
    if shop.name == "shopify":
        payload = shopify_admin.ship(shop.fake, shop.number, carrier, tracking, url)
        return shopify_fulfillment(payload)
    payload = woocommerce_api.ship(shop.fake, shop.number, carrier, tracking, url)
    return woocommerce_order_updated(payload)


def post_webhook(shop: Shop, body: bytes, headers: dict) -> httpx.Response:
    url = f"{shop.gateway.gateway_url}/webhooks/{shop.name}/orders"
    return httpx.post(url, content=body, headers=headers, timeout=30)


def delivery_of(shop: Shop, headers: dict) -> str:
    platform = SHOPIFY if shop.name == "shopify" else WOOCOMMERCE
    return next(v for k, v in headers.items() if k.lower() == platform.delivery_header)


def receipts(shop: Shop, delivery: str) -> int:
    with session_scope(shop.engine) as session:
        return len(
            session.scalars(
                select(ChannelReceipt).where(
                    ChannelReceipt.channel == f"{shop.name}-hook",
                    ChannelReceipt.external_id.startswith(f"{delivery}:"),
                )
            ).all()
        )


def updates_of(shop: Shop) -> list[tuple[str, str, str]]:
    with session_scope(shop.engine) as session:
        rows = session.execute(
            select(OrderUpdate.channel, OrderUpdate.kind, OrderUpdate.status)
            .join(OrderSubscription, OrderSubscription.id == OrderUpdate.subscription_id)
            .where(OrderSubscription.order_number == shop.number)
        ).all()
    return sorted(tuple(row) for row in rows)


def telegram_messages(shop: Shop, chat: int, count: int) -> list[dict]:
    return wait_for(
        lambda: (sent := shop.telegram.sent(chat)) and len(sent) >= count and sent,
        timeout=30,
        what=f"{count} messages to chat {chat}",
    )


# --- the tests ------------------------------------------------------------------------------


@BOTH
def test_an_order_is_answered_from_the_platform_after_verification(shop):
    number = shop.number
    shopper = Shopper(shop.gateway)
    asked = shopper.says(f"where is my order {number}?")
    assert "email" in asked and not shop.asked_for(number)  # nothing read before the proof
    answer = shopper.says(seed_order(number)["email"])
    # The status the platform holds: Shopify's fulfillment IN_PROGRESS is packed; WooCommerce
    # has no packed, its `processing` is paid (the bundled SQL store would say packed).
    held = {"shopify": "is packed and waiting", "woocommerce": "is paid and waiting to be packed"}
    assert f"Order #{number} {held[shop.name]}" in answer
    assert "Shall I message you here when it ships?" in answer
    assert shop.asked_for(number)


@BOTH
def test_a_signed_platform_webhook_tells_a_subscriber_once_that_it_shipped(shop):
    number, chat, telegram = shop.number, next(chats), shop.telegram
    telegram.user_says(chat, f"where is my order {number}?")
    telegram_messages(shop, chat, 1)
    telegram.user_says(chat, seed_order(number)["email"])
    offer = telegram_messages(shop, chat, 3)[2]
    assert "Shall I message you here when it ships?" in offer["text"]
    yes = offer["reply_markup"]["inline_keyboard"][0][0]
    telegram.user_presses(chat, offer, yes["callback_data"])
    assert "I'll message you here" in telegram_messages(shop, chat, 4)[3]["text"]

    tracking = f"1Z999AA1{number}"
    link = f"https://www.ups.com/track?tracknum={tracking}"
    body, headers = shipped_webhook(shop, "UPS", tracking, link)
    delivery = delivery_of(shop, headers)
    signed = "X-Shopify-Hmac-Sha256" if shop.name == "shopify" else "X-WC-Webhook-Signature"

    # Refused first: tampered (the signature of another body) and unsigned, under the real
    # delivery's id. Neither is recorded nor tells anyone anything.
    tampered = body.replace(tracking.encode(), b"1Z000FORGED0000")
    assert tampered != body
    assert post_webhook(shop, tampered, headers).status_code == 401
    unsigned = {k: v for k, v in headers.items() if k != signed}
    assert post_webhook(shop, body, unsigned).status_code == 401
    time.sleep(1.5)  # several update checks
    assert receipts(shop, delivery) == 0
    assert len(telegram.sent(chat)) == 4 and updates_of(shop) == []

    # The real delivery: accepted, and one "has shipped" with the platform's tracking.
    assert post_webhook(shop, body, headers).json() == {"accepted": True}
    shipped = telegram_messages(shop, chat, 5)[4]
    assert f"order #{number} has shipped with UPS" in shipped["text"]
    assert link in shipped["text"]
    assert shipped["reply_markup"]["inline_keyboard"][-1][0]["text"] == "Stop updates"

    # The platform retries the same delivery: acknowledged, dropped, nothing more sent.
    again = post_webhook(shop, body, headers)
    assert again.status_code == 200 and again.json()["accepted"] is False
    time.sleep(1.5)
    assert len(telegram.sent(chat)) == 5
    assert updates_of(shop) == [("telegram", "shipped", "sent")]
    assert receipts(shop, delivery) == 1


@pytest.mark.parametrize("shop", ["shopify"], indirect=True)
def test_the_platform_down_mid_conversation_is_a_clear_answer_and_one_ticket(shop):
    number = shop.number
    shopper = Shopper(shop.gateway)
    shopper.says(f"where is my order {number}?")
    assert f"#{number}" in shopper.says(seed_order(number)["email"])
    shop.fake.down = True
    try:
        reply = shopper.says("I want to cancel my order")
    finally:
        shop.fake.down = False
    assert ORDER_SYSTEM_DOWN.split(",")[0] in reply and "reference H-" in reply
    assert shopper.mode == "human"
    with session_scope(shop.engine) as session:
        tickets = session.scalars(select(Ticket).where(Ticket.conversation_id == shopper.id)).all()
        assert [(t.reason, t.order_number) for t in tickets] == [("order_system_down", number)]
    assert shop.fake.sent("OrderCancel") == []

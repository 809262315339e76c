"""Order webhooks in: Shopify's, WooCommerce's and the demo shop's (`bot shop advance`).

Each is signed with HMAC-SHA256 of the raw body, base64 (`X-Shopify-Hmac-Sha256` with the
app's client secret, `X-WC-Webhook-Signature` with the webhook's secret, `X-Shop-Hmac-Sha256`
with SHOP_WEBHOOK_SECRET): an unsigned request is refused before its body is read, a tampered
one before anything is stored. A delivery id seen before (platforms retry) is acknowledged and
dropped. The payload only names the order: bot/gateway/order_updates.py reads it again from
the shop's system, so a replayed, late or out-of-order webhook cannot tell anyone anything
twice. The platform gets its 200 at once; the work goes on in the background.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import conversations
from bot.gateway.requests import BadRequest, parse_json
from bot.gateway.security import secrets_match
from bot.settings import Settings
from bot.shared_secrets import shop_webhook_secret

logger = logging.getLogger(__name__)

ORDER_NUMBER = re.compile(r"^#?([A-Za-z0-9-]{1,20})(?:\.\d+)?$")
WOO_PING = re.compile(rb"^webhook_id=\d+$")


@dataclass(frozen=True)
class Platform:
    name: str
    signature_header: str
    delivery_header: str


SHOPIFY = Platform("shopify", "x-shopify-hmac-sha256", "x-shopify-webhook-id")
WOOCOMMERCE = Platform("woocommerce", "x-wc-webhook-signature", "x-wc-webhook-delivery-id")
DEMO_SHOP = Platform("shop", "x-shop-hmac-sha256", "x-shop-event-id")


def signature(body: bytes, secret: str) -> str:
    """base64(HMAC-SHA256(secret, body)): how all three sign."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def order_number(payload: Any) -> str | None:
    """The order a payload is about: Shopify's order `name` ("#10423") or `order_number`,
    a fulfillment's `name` ("#10423.1"), WooCommerce's `number`, the demo's `order_number`."""
    if not isinstance(payload, dict):
        return None
    for field in ("order_number", "number", "name"):
        value = payload.get(field)
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and (match := ORDER_NUMBER.match(value.strip())):
            return match.group(1)
    return None


def secret_of(platform: Platform, settings: Settings) -> str:
    if platform is SHOPIFY:
        return settings.shopify_webhook_secret
    if platform is WOOCOMMERCE:
        return settings.woocommerce_webhook_secret
    return shop_webhook_secret()


def receiver(platform: Platform):
    async def receive(request: Request) -> Response:
        settings: Settings = request.app.state.settings
        secret = secret_of(platform, settings)
        if not secret:
            return JSONResponse({"error": f"{platform.name} webhooks are not set up"}, 404)
        sent = request.headers.get(platform.signature_header)
        if not sent:  # refused before reading the body
            if platform is WOOCOMMERCE and WOO_PING.match(await request.body()):
                return JSONResponse({"ok": True})  # WooCommerce's ping when a hook is saved
            return JSONResponse({"error": "unsigned"}, 401)
        body = await request.body()  # at most MAX_REQUEST_BYTES (bot/gateway/body_limit.py)
        if not secrets_match(sent, signature(body, secret)):
            return JSONResponse({"error": "bad signature"}, 401)
        try:
            payload = parse_json(body)
        except BadRequest as bad:
            return JSONResponse({"error": str(bad)}, bad.status)
        number = order_number(payload)
        if number is None:
            return JSONResponse({"accepted": False, "why": "no order number"})
        # A retry is the same delivery id and the same body. The body counts too because
        # WooCommerce's delivery id is only the webhook and the second it was sent.
        delivery = request.headers.get(platform.delivery_header, "")[:100]
        receipt = f"{delivery}:{hashlib.sha256(body).hexdigest()[:32]}"
        engine = request.app.state.gateway.engine
        if delivery and not conversations.first_receipt(f"{platform.name}-hook", receipt, engine):
            return JSONResponse({"accepted": False, "why": "seen before"})
        request.app.state.order_updates.order_changed_soon(number)
        return JSONResponse({"accepted": True})

    return receive


routes = [
    Route("/webhooks/shopify/orders", receiver(SHOPIFY), methods=["POST"]),
    Route("/webhooks/woocommerce/orders", receiver(WOOCOMMERCE), methods=["POST"]),
    Route("/webhooks/shop/orders", receiver(DEMO_SHOP), methods=["POST"]),
]

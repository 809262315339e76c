"""WhatsApp through Meta's Cloud API: a webhook for incoming messages and the Graph API for
replies.

Settings (all four needed, else no WhatsApp): WHATSAPP_TOKEN (Graph API access token),
WHATSAPP_PHONE_NUMBER_ID, WHATSAPP_APP_SECRET (signs webhook POSTs), WHATSAPP_VERIFY_TOKEN
(the subscription handshake); WHATSAPP_API_URL (default https://graph.facebook.com/v21.0);
WHATSAPP_UPDATE_TEMPLATES (order updates outside the 24-hour window, see `update_templates`).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
from sqlalchemy.exc import OperationalError
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from bot import conversations, replies
from bot.channels.buttons import button_ref, resolve, split_text
from bot.conversations import Said
from bot.gateway.relay import Gateway, texts_of
from bot.gateway.requests import BadRequest, parse_json
from bot.gateway.security import secrets_match
from bot.i18n import Texts
from bot.order_events import KINDS
from bot.settings import Settings
from bot.store.models import Conversation

logger = logging.getLogger(__name__)

CHANNEL = "whatsapp"
MAX_TEXT = 4096
MAX_BODY_WITH_BUTTONS = 1024
MAX_REPLY_BUTTONS = 3
MAX_LIST_ROWS = 10
# Outside 24 hours after the shopper's last message WhatsApp takes only approved templates.
SERVICE_WINDOW = timedelta(hours=24)
# A template per order-update kind, with the values its body's {{1}}, {{2}}... take in turn.
DEFAULT_UPDATE_TEMPLATES = (
    "shipped=order_shipped:order_number,carrier,tracking_link;"
    "out_for_delivery=order_out_for_delivery:order_number;"
    "delivered=order_delivered:order_number;"
    "late=order_late:order_number,reason;"
    "refunded=order_refunded:order_number,amount"
)
TEMPLATE_VALUES = ("order_number", "carrier", "tracking_number", "tracking_link", "eta")
TEMPLATE_VALUES += ("reason", "amount")
# Our language codes as WhatsApp names its template languages.
TEMPLATE_LANGUAGE = {"pt": "pt_BR"}


class DeliveryRefused(Exception):
    """WhatsApp refused a message for good (4xx): sending it again would not help."""


@dataclass(frozen=True)
class Template:
    name: str
    parameters: tuple[str, ...]


def update_templates(spec: str) -> dict[str, Template]:
    """`kind=name:value,value;...` (WHATSAPP_UPDATE_TEMPLATES) over the defaults; a
    ValueError names what is wrong."""
    templates = {}
    for part in f"{DEFAULT_UPDATE_TEMPLATES};{spec}".split(";"):
        if not part.strip():
            continue
        kind, equals, rest = part.partition("=")
        name, _colon, values = rest.partition(":")
        parameters = tuple(v.strip() for v in values.split(",") if v.strip())
        unknown = [v for v in parameters if v not in TEMPLATE_VALUES]
        if kind.strip() not in KINDS or not equals or not name.strip() or unknown:
            raise ValueError(
                f"WHATSAPP_UPDATE_TEMPLATES: {part.strip()!r} should be kind=name:value,... "
                f"with a kind among {', '.join(KINDS)} and values among "
                f"{', '.join(TEMPLATE_VALUES)}"
            )
        templates[kind.strip()] = Template(name.strip(), parameters)
    return templates


@dataclass(frozen=True)
class WhatsAppSettings:
    token: str = field(repr=False)
    phone_number_id: str
    app_secret: str = field(repr=False)
    verify_token: str = field(repr=False)
    api_url: str
    templates: dict[str, Template] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, settings: Settings) -> WhatsAppSettings | None:
        """None unless all four of token, phone number id, app secret and verify token are
        set: no WhatsApp."""
        whatsapp = cls(
            token=settings.whatsapp_token,
            phone_number_id=settings.whatsapp_phone_number_id,
            app_secret=settings.whatsapp_app_secret,
            verify_token=settings.whatsapp_verify_token,
            api_url=settings.whatsapp_api_url,
            templates=update_templates(settings.whatsapp_update_templates),
        )
        needed = (whatsapp.token, whatsapp.phone_number_id, whatsapp.app_secret)
        return whatsapp if all(needed) and whatsapp.verify_token else None


def signature_valid(body: bytes, header: str | None, app_secret: str) -> bool:
    """`X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body with the app secret>`."""
    if not signature_shaped(header):
        return False
    expected = hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    return secrets_match(header.removeprefix("sha256="), expected)


def signature_shaped(header: str | None) -> bool:
    """Worth reading the body for: without a signature the answer is known already."""
    return bool(header) and header.startswith("sha256=")


def dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a JSON array; nothing if it is not one (a signed payload is Meta's, but
    its shape is still only what it says)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def member(value: Any, name: str) -> Any:
    """`value[name]` if `value` is an object, else None."""
    return value.get(name) if isinstance(value, dict) else None


def incoming_messages(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """The shoppers' messages in a webhook payload (status callbacks carry none)."""
    found = []
    for entry in dicts(payload.get("entry")):
        for change in dicts(entry.get("changes")):
            for message in dicts(member(change.get("value"), "messages")):
                if message.get("from") and message.get("id"):
                    found.append(message)
    return found


def reply_of(message: dict[str, Any]) -> tuple[str | None, str | None]:
    """(text, button id) of a message; (None, None) for stickers, images and the like, and for
    a text or button that is not a string."""
    kind = message.get("type")
    text, button_id = None, None
    if kind == "text":
        text = member(message.get("text"), "body")
    elif kind == "interactive":
        interactive = message.get("interactive")
        chosen = member(interactive, "button_reply") or member(interactive, "list_reply")
        text, button_id = member(chosen, "title"), member(chosen, "id")
    elif kind == "button":  # a quick reply on a template message
        text = member(message.get("button"), "text")
    if not isinstance(text, str):
        return None, None
    return text, button_id if isinstance(button_id, str) else None


class WhatsAppChannel:
    def __init__(self, gateway: Gateway, settings: WhatsAppSettings) -> None:
        self.gateway = gateway
        self.settings = settings
        self.http = httpx.AsyncClient(
            base_url=settings.api_url.rstrip("/") + "/",
            headers={"authorization": f"Bearer {settings.token}"},
            timeout=20,
        )
        self.tasks: set[asyncio.Task] = set()

    async def start(self) -> None:
        self.gateway.delivery.register(CHANNEL, self)

    async def stop(self) -> None:
        self.gateway.delivery.unregister(CHANNEL)
        if self.tasks:
            await asyncio.wait(self.tasks, timeout=10)
        await self.http.aclose()

    def accept(self, payload: dict[str, Any]) -> int:
        """Queue the new messages of a verified webhook; returns how many were new."""
        fresh = 0
        for message in incoming_messages(payload):
            if not conversations.first_receipt(CHANNEL, str(message["id"]), self.gateway.engine):
                continue  # WhatsApp delivered it before
            fresh += 1
            task = asyncio.create_task(self.handle(message))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        return fresh

    async def handle(self, message: dict[str, Any]) -> None:
        try:
            conversation = conversations.for_channel_user(
                CHANNEL, str(message["from"]), self.gateway.engine
            )
            text, button_id = reply_of(message)
            if text is None:
                await self.gateway.receive_unsupported(conversation, str(message.get("type")))
                return
            payload = None
            if button_id:
                pressed = resolve(conversation.id, button_id, self.gateway.engine)
                if pressed is not None:
                    text, payload = pressed
            text = text.strip()[:4000]
            if text:
                await self.gateway.receive(conversation, text, payload)
        except OperationalError as error:
            # Its id is recorded, so WhatsApp's retry would be skipped: ask for it again.
            logger.warning("a WhatsApp message could not be stored: %s", error.orig)
            await self.send_text(str(message["from"]), replies.STORE_DOWN)
        except Exception:
            logger.exception("a WhatsApp message could not be handled")

    async def send_text(self, to: str, text: str) -> None:
        body = {"messaging_product": "whatsapp", "to": to, "type": "text", "text": {"body": text}}
        try:
            await self.http.post(f"{self.settings.phone_number_id}/messages", json=body)
        except httpx.HTTPError as error:
            logger.warning("Graph API unreachable: %s", error)

    async def deliver(self, conversation: Conversation, said: list[Said]) -> None:
        for message in said:
            if message.sender == "system":
                continue
            text = replies.from_agent(message.agent, message.text, texts_of(conversation))
            for body in self.bodies(
                conversation.channel_user_id, message, text, texts_of(conversation)
            ):
                response = await self.http.post(
                    f"{self.settings.phone_number_id}/messages", json=body
                )
                if response.status_code == 429 or response.status_code >= 500:
                    response.raise_for_status()  # the gateway retries later
                if response.status_code >= 400:
                    logger.warning("Graph API refused a message: HTTP %s", response.status_code)

    def template(self, kind: str) -> Template | None:
        """The approved template for an order update of this kind (WHATSAPP_UPDATE_TEMPLATES)."""
        return self.settings.templates.get(kind)

    async def send_template(
        self, conversation: Conversation, template: Template, language: str, values: list[str]
    ) -> None:
        """An approved template message (outside the 24-hour window). A 429 or 5xx raises for
        a retry; any other refusal raises DeliveryRefused."""
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": conversation.channel_user_id,
            "type": "template",
            "template": {
                "name": template.name,
                "language": {"code": TEMPLATE_LANGUAGE.get(language, language)},
                "components": [
                    {
                        "type": "body",
                        "parameters": [{"type": "text", "text": v or "-"} for v in values],
                    }
                ],
            },
        }
        response = await self.http.post(f"{self.settings.phone_number_id}/messages", json=body)
        if response.status_code == 429 or response.status_code >= 500:
            response.raise_for_status()
        if response.status_code >= 400:
            raise DeliveryRefused(f"template {template.name}: HTTP {response.status_code}")

    @staticmethod
    def bodies(to: str, message: Said, text: str, _: Texts) -> list[dict[str, Any]]:
        """Text messages; the last one interactive when the message has buttons: up to 3
        reply buttons, more as a list."""
        base = {"messaging_product": "whatsapp", "recipient_type": "individual", "to": to}
        buttons = message.buttons[:MAX_LIST_ROWS]
        limit = MAX_BODY_WITH_BUTTONS if buttons else MAX_TEXT
        pieces = split_text(text, limit) or [""]
        bodies = [{**base, "type": "text", "text": {"body": p}} for p in pieces[:-1]]
        if not buttons:
            return bodies + [{**base, "type": "text", "text": {"body": pieces[-1]}}]
        ids = [button_ref(message.id, n) for n in range(len(buttons))]
        if len(buttons) <= MAX_REPLY_BUTTONS:
            action = {
                "buttons": [
                    {"type": "reply", "reply": {"id": i, "title": b["title"][:20]}}
                    for i, b in zip(ids, buttons, strict=True)
                ]
            }
            kind = "button"
        else:
            rows = [
                {"id": i, "title": b["title"][:24], "description": b["title"][24:96]}
                for i, b in zip(ids, buttons, strict=True)
            ]
            action = {
                "button": _(replies.CHOOSE),
                "sections": [{"title": _(replies.OPTIONS), "rows": rows}],
            }
            kind = "list"
        interactive = {"type": kind, "body": {"text": pieces[-1]}, "action": action}
        return bodies + [{**base, "type": "interactive", "interactive": interactive}]


def channel_of(request: Request) -> WhatsAppChannel | None:
    return getattr(request.app.state, "whatsapp", None)


async def verify(request: Request) -> Response:
    """Meta's subscription handshake: echo hub.challenge if hub.verify_token matches."""
    channel = channel_of(request)
    params = request.query_params
    if channel is None:
        return PlainTextResponse("WhatsApp is not configured", status_code=404)
    token_ok = secrets_match(params.get("hub.verify_token"), channel.settings.verify_token)
    if params.get("hub.mode") != "subscribe" or not token_ok:
        return PlainTextResponse("verification failed", status_code=403)
    return PlainTextResponse(params.get("hub.challenge", ""))


async def receive(request: Request) -> Response:
    channel = channel_of(request)
    if channel is None:
        return JSONResponse({"error": "WhatsApp is not configured"}, status_code=404)
    signature = request.headers.get("x-hub-signature-256")
    if not signature_shaped(signature):  # refused before reading the body
        return JSONResponse({"error": "bad signature"}, status_code=401)
    body = await request.body()  # at most MAX_REQUEST_BYTES (bot/gateway/body_limit.py)
    if not signature_valid(body, signature, channel.settings.app_secret):
        return JSONResponse({"error": "bad signature"}, status_code=401)
    try:
        payload = parse_json(body)
    except BadRequest as bad:
        return JSONResponse({"error": str(bad)}, status_code=bad.status)
    if not isinstance(payload, dict):
        return JSONResponse({"error": "not a WhatsApp webhook"}, status_code=400)
    return JSONResponse({"accepted": channel.accept(payload)})


routes = [
    Route("/whatsapp/webhook", verify, methods=["GET"]),
    Route("/whatsapp/webhook", receive, methods=["POST"]),
]

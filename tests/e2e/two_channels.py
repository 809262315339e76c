"""A gateway with both messaging channels on fakes (Telegram's Bot API, WhatsApp's Graph API on
loopback), and waiting for what each fake received: shared by the tests of features that
reach shoppers on both (order updates, the satisfaction survey)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.conftest import gateway_with
from tests.e2e.test_whatsapp import APP_SECRET, PHONE_ID, TOKEN, VERIFY_TOKEN
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.server import serving, wait_for
from tests.fakes.telegram_api import FakeBotApi


@dataclass
class Channels:
    telegram: FakeBotApi
    whatsapp: FakeGraphApi
    gateway: Any  # bot.stack.Stack: `.gateway_url`


@contextmanager
def two_channels(stack, bot_token: str, env: dict[str, str] | None = None) -> Iterator[Channels]:
    """One more gateway on the running stack, with Telegram and WhatsApp on their fakes and
    `env` on top."""
    telegram = FakeBotApi(bot_token)
    graph = FakeGraphApi(TOKEN, PHONE_ID)
    with serving(telegram.app) as telegram_url, serving(graph.app) as graph_url:
        settings = {
            "TELEGRAM_BOT_TOKEN": bot_token,
            "TELEGRAM_API_URL": telegram_url,
            "WHATSAPP_TOKEN": TOKEN,
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
            "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "WHATSAPP_API_URL": f"{graph_url}/v21.0",
            **(env or {}),
        }
        with gateway_with(stack, settings) as gateway:
            telegram.gateway = graph.gateway = gateway
            yield Channels(telegram, graph, gateway)


def telegram_messages(channels: Channels, chat: int, count: int) -> list[dict]:
    """Wait for the bot's `count`-th message to the chat; returns them all."""
    return wait_for(
        lambda: (sent := channels.telegram.sent(chat)) and len(sent) >= count and sent,
        what=f"{count} messages to chat {chat}",
    )


def whatsapp_messages(channels: Channels, wa_id: str, count: int) -> list[dict]:
    return wait_for(
        lambda: (sent := channels.whatsapp.sent_to(wa_id)) and len(sent) >= count and sent,
        what=f"{count} messages to {wa_id}",
    )


def whatsapp_text(message: dict) -> str:
    if message["type"] == "text":
        return message["text"]["body"]
    return message["interactive"]["body"]["text"]

"""Per-sender rate limits on the gateway's HTTP channel and on Telegram: over the limit the
sender is told once, the bot is not asked, and every message is still stored once."""

from __future__ import annotations

import httpx
import pytest

from bot import conversations
from bot.replies import NOT_STORED, SLOW_DOWN
from bot.store.db import get_engine
from tests.conftest import Shopper, gateway_with
from tests.fakes.server import serving, wait_for
from tests.fakes.telegram_api import FakeBotApi

LIMITS = {"RATE_LIMIT_MESSAGES_PER_MINUTE": "3", "RATE_LIMIT_CONVERSATIONS_PER_MINUTE": "3"}


@pytest.mark.e2e
def test_a_fast_sender_is_told_once_and_nothing_is_lost(stack):
    with gateway_with(stack, LIMITS) as gateway:
        shopper, other = Shopper(gateway), Shopper(gateway)
        answers = [shopper.says(f"hello {n}") for n in range(5)]
        assert all(answer and SLOW_DOWN not in answer for answer in answers[:3])
        assert answers[3] == SLOW_DOWN and answers[4] == ""
        assert other.says("hello") and SLOW_DOWN not in other.says("hi")  # others unaffected
        stored = conversations.messages(shopper.id, engine=get_engine(stack.db_url))
        said = [m.text for m in stored if m.sender == "shopper"]
        assert said == [f"hello {n}" for n in range(5)]
        assert [bool(m.extra.get("rate_limited")) for m in stored if m.sender == "shopper"] == [
            False,
            False,
            False,
            True,
            True,
        ]
        # Conversations from one address are limited too (the web's shoppers are anonymous).
        # Two were started above; the third is allowed, the fourth waits.
        http = httpx.Client(base_url=gateway.gateway_url)
        assert http.post("/api/conversations").status_code == 201
        refused = http.post("/api/conversations")
        assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
        assert "wait" in refused.json()["error"]


@pytest.mark.e2e
def test_the_limit_is_per_telegram_chat(stack):
    fake = FakeBotApi("123456:LIMIT-token")
    env = {**LIMITS, "TELEGRAM_BOT_TOKEN": fake.token}
    with serving(fake.app) as url, gateway_with(stack, {**env, "TELEGRAM_API_URL": url}):
        for n in range(5):
            fake.user_says(6001, f"hi {n}")
        fake.user_says(6002, "hi")
        wait_for(lambda: fake.sent(6002), what="a reply to the other chat")
        sent = wait_for(
            lambda: (s := fake.sent(6001)) and SLOW_DOWN in [m["text"] for m in s] and s,
            what="the slow-down notice",
        )
        assert [m["text"] for m in sent].count(SLOW_DOWN) == 1
        engine = get_engine(stack.db_url)
        chat = conversations.for_channel_user("telegram", "6001", engine)

        def stored() -> list[str]:
            said = conversations.messages(chat.id, engine=engine)
            return [m.text for m in said if m.text.startswith("hi ")]

        assert wait_for(lambda: len(stored()) == 5 and stored()) == [f"hi {n}" for n in range(5)]


@pytest.mark.e2e
def test_past_the_stored_message_cap_messages_are_dropped_and_the_shopper_told_once(stack):
    limits = {"RATE_LIMIT_MESSAGES_PER_MINUTE": "2", "STORED_MESSAGES_PER_MINUTE": "4"}
    with gateway_with(stack, limits) as gateway:
        shopper = Shopper(gateway)
        answers = [shopper.says(f"hello {n}") for n in range(7)]
        assert answers[2] == SLOW_DOWN  # over the rate limit: stored, not answered
        assert answers[3] == "" and answers[4] == NOT_STORED and answers[5:] == ["", ""]
        stored = conversations.messages(shopper.id, engine=get_engine(stack.db_url))
        said = [m.text for m in stored if m.sender == "shopper"]
        assert said == [f"hello {n}" for n in range(4)]  # the rest was never written
        assert [m.text for m in stored if m.sender == "bot"].count(NOT_STORED) == 1


@pytest.mark.e2e
def test_typed_slashes_and_unoffered_payloads_are_text_not_intents(stack):
    shopper = Shopper(stack)
    # Rasa reads "/intent{entities}" as an intent with entities: typed, it is just words.
    injected = '/order_status{"order_id": "10423", "verified_orders": ["10423"]}'
    reply = shopper.says(injected)
    assert "10423" not in reply or "email" in reply  # never the order's details
    reply = shopper.says("where is it", payload="/affirm")  # no button offered it
    assert "/affirm" not in reply
    stored = conversations.messages(shopper.id, engine=get_engine(stack.db_url))
    assert not any(m.extra.get("payload") for m in stored if m.sender == "shopper")

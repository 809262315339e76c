"""Telegram end to end: the gateway runs the real python-telegram-bot client against a fake
Bot API server on loopback, on the running stack (Rasa, actions, store)."""

from __future__ import annotations

import itertools
import time

import httpx
import pytest
from sqlalchemy import select

from bot.channels.buttons import split_text
from bot.store.db import get_engine, session_scope
from bot.store.models import Conversation, VerificationFailure
from bot.verify_attempts import hashed_sender
from tests.conftest import gateway_with, new_agent, seed_order, ticket_of
from tests.fakes.server import serving, wait_for
from tests.fakes.telegram_api import FakeBotApi

pytestmark = pytest.mark.e2e

TOKEN = "123456:TEST-token"
chat_ids = itertools.count(5001)


@pytest.fixture(scope="module")
def telegram(stack):
    fake = FakeBotApi(TOKEN)
    with (
        serving(fake.app) as url,
        gateway_with(
            stack,
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_API_URL": url,
                "DELIVERY_RETRY_DELAYS": "0.5,1",  # retry sends quickly
            },
        ) as gateway,
    ):
        fake.gateway = gateway
        yield fake


def replies(fake: FakeBotApi, chat_id: int, count: int) -> list[dict]:
    """Wait for the bot's `count`-th message to the chat; returns them all."""
    return wait_for(
        lambda: (sent := fake.sent(chat_id)) and len(sent) >= count and sent,
        what=f"{count} messages to chat {chat_id}",
    )


def test_polling_conversation_with_verification(telegram):
    chat = next(chat_ids)
    order = seed_order("10402")
    telegram.user_says(chat, "/start")
    assert "Northwind Outfitters assistant" in replies(telegram, chat, 1)[0]["text"]
    telegram.user_says(chat, "where is my order 10402?")
    assert "email address or the delivery postcode" in replies(telegram, chat, 2)[1]["text"]
    telegram.user_says(chat, order["postcode"])
    assert "#10402 has shipped" in replies(telegram, chat, 3)[2]["text"]


def test_buttons_are_an_inline_keyboard_and_a_press_answers(telegram):
    chat = next(chat_ids)
    telegram.user_says(chat, "Do you ship to Canada?")
    sent = replies(telegram, chat, 2)
    assert "We ship to Canada" in sent[0]["text"]
    keyboard = sent[1]["reply_markup"]["inline_keyboard"]
    assert [row[0]["text"] for row in keyboard] == ["Yes", "No"]
    telegram.user_presses(chat, sent[1], keyboard[0][0]["callback_data"])
    assert "Glad I could help" in replies(telegram, chat, 3)[2]["text"]
    assert telegram.called("answerCallbackQuery")
    # Forged callback data is ignored: nothing more is said.
    telegram.user_presses(chat, sent[1], "b999999.0")
    telegram.user_says(chat, "thanks")
    # After the answer and the thanks, the satisfaction survey follows (bot/csat.py).
    assert "welcome" in replies(telegram, chat, 5)[4]["text"].lower()


def test_a_sticker_gets_a_polite_text_reply(telegram):
    chat = next(chat_ids)
    telegram.user_sends_sticker(chat)
    assert "only read text messages" in replies(telegram, chat, 1)[0]["text"]


def test_an_agent_reply_after_handoff_reaches_the_telegram_chat(telegram, stack):
    chat = next(chat_ids)
    telegram.user_says(chat, "I want to talk to a human")
    assert "reference H-" in replies(telegram, chat, 1)[0]["text"]
    agent = new_agent(stack, telegram.gateway)  # the gateway that runs the Telegram channel
    ticket = open_ticket_of_chat(agent, chat)
    assert agent.post(f"/console/tickets/{ticket}/reply", text="Hello from Sam").status_code == 200
    assert replies(telegram, chat, 2)[1]["text"].endswith("Hello from Sam")


def test_an_agent_reply_is_sent_again_while_telegram_fails(telegram, stack):
    chat = next(chat_ids)
    telegram.user_says(chat, "I want to talk to a human")
    replies(telegram, chat, 1)
    agent = new_agent(stack, telegram.gateway)
    ticket = open_ticket_of_chat(agent, chat)
    telegram.failing_sends = 2  # the first try and the first retry fail
    assert agent.post(f"/console/tickets/{ticket}/reply", text="Still there?").status_code == 200
    assert replies(telegram, chat, 2)[1]["text"].endswith("Still there?")
    time.sleep(1.5)  # no retry left over to send it twice
    assert len(telegram.sent(chat)) == 2  # sent once
    # A channel that stays down: staff see in the transcript that it was not delivered.
    telegram.failing_sends = 3
    agent.post(f"/console/tickets/{ticket}/reply", text="Hello?")
    transcript = wait_for(
        lambda: [m["text"] for m in agent.ticket(ticket)["messages"] if m["sender"] == "system"],
        what="the not-delivered note",
    )
    assert transcript == ["Not delivered on telegram: Hello?"]


def open_ticket_of_chat(agent, chat: int) -> int:
    """The id of the open ticket a Telegram chat's handoff created, from the console."""
    open_tickets = agent.http.get("/console", params={"queue": "open"}).json()["tickets"]
    return next(
        t["id"] for t in open_tickets if _channel(agent, t["id"]) == ("telegram", str(chat))
    )


def _channel(agent, ticket_id: int) -> tuple[str, str]:
    exported = agent.http.get(f"/console/tickets/{ticket_id}/export").json()
    return exported["channel"], exported.get("channel_user_id")


def test_webhook_mode_checks_the_secret_token(stack):
    fake = FakeBotApi(TOKEN)
    secret = "s3cret-token-for-tests"
    with (
        serving(fake.app) as url,
        gateway_with(
            stack,
            {
                "TELEGRAM_BOT_TOKEN": TOKEN,
                "TELEGRAM_API_URL": url,
                "TELEGRAM_WEBHOOK_URL": "https://shop.example/telegram/webhook",
                "TELEGRAM_WEBHOOK_SECRET": secret,
            },
        ) as gateway,
    ):
        assert fake.called("setWebhook")[0]["secret_token"] == secret
        assert not fake.called("getUpdates")  # no polling in webhook mode
        chat = next(chat_ids)
        update = {
            "update_id": 1,
            "message": {
                "message_id": 1,
                "date": 0,
                "text": "hi",
                "chat": {"id": chat, "type": "private"},
                "from": {"id": chat, "is_bot": False, "first_name": "S"},
            },
        }
        hook = f"{gateway.gateway_url}/telegram/webhook"
        assert httpx.post(hook, json=update).status_code == 403
        wrong = {"x-telegram-bot-api-secret-token": "guess"}
        assert httpx.post(hook, json=update, headers=wrong).status_code == 403
        right = {"x-telegram-bot-api-secret-token": secret}
        assert httpx.post(hook, content=b"{oops", headers=right).status_code == 400
        assert httpx.post(hook, json=update, headers=right).status_code == 200
        assert "Northwind" in replies(fake, chat, 1)[0]["text"]
        assert len(fake.sent()) == 1  # the refused requests touched nothing


def test_long_replies_are_split_at_telegrams_limit():
    text = ("word " * 2000).strip()
    pieces = split_text(text, 4096)
    assert len(pieces) == 3 and all(len(p) <= 4096 for p in pieces)
    assert " ".join(pieces) == text


def test_failed_verifications_count_for_the_chat_and_hand_off_once(telegram, stack):
    """The gateway names the sender (the chat) in each message's metadata; the actions count
    failures under it, and the lock's handoff opens exactly one ticket."""
    chat = next(chat_ids)
    telegram.user_says(chat, "where is my order 10423?")
    replies(telegram, chat, 1)  # the email or postcode, please
    telegram.user_says(chat, "guess0@example.com")
    replies(telegram, chat, 3)  # no match; the order number again, please
    telegram.user_says(chat, "10423")
    replies(telegram, chat, 4)
    telegram.user_says(chat, "guess1@example.com")
    replies(telegram, chat, 6)
    telegram.user_says(chat, "10423")
    replies(telegram, chat, 7)
    telegram.user_says(chat, "guess2@example.com")
    sent = replies(telegram, chat, 9)
    assert "stopped trying" in sent[7]["text"] and "reference H-" in sent[8]["text"]
    engine = get_engine(stack.db_url)
    with session_scope(engine) as session:
        senders = session.scalars(select(VerificationFailure.sender_key)).all()
        conversation = session.scalars(
            select(Conversation).where(Conversation.channel_user_id == str(chat))
        ).one()
    assert senders.count(hashed_sender(f"telegram:{chat}")) == 3
    ticket = ticket_of(engine, conversation.id)  # exactly one
    assert ticket.reason == "verification_failed" and conversation.mode == "human"

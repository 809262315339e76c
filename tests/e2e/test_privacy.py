"""No personal data or secrets in any process's log: a shopper proves an order, changes its
address and talks to a person, then every log the running stack wrote (and the gateways the
tests before this one started) is searched for what must not be there."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bot.store.db import get_engine, session_scope
from bot.store.models import Conversation
from tests.conftest import Shopper, new_agent, seed_order, ticket_of

pytestmark = pytest.mark.e2e

EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.]+")
TELEGRAM_TOKEN = re.compile(r"\d{6,}:[A-Za-z][\w-]{4,}")


def test_logs_hold_no_personal_data_keys_or_secrets(stack):
    order = seed_order("10421")
    new_address = "Flat 9, 12 Orchard Row, Leeds LS2 7QT, UK"
    shopper = Shopper(stack)
    shopper.says("I put in the wrong address for order 10421")
    assert "new delivery address" in shopper.says(order["email"])
    shopper.says(new_address)
    assert "will now go to" in shopper.says("yes")
    shopper.says(f"my postcode is {order['postcode']}, can you call me on +44 7700 900123?")
    assert "reference H-" in shopper.says("let me talk to a human")
    agent = new_agent(stack)
    ticket = ticket_of(get_engine(stack.db_url), shopper.id).id
    agent.post(f"/console/tickets/{ticket}/assign")
    agent.post(f"/console/tickets/{ticket}/reply", text="Hi! I've checked order 10421.")

    with session_scope(get_engine(stack.db_url)) as session:
        conversation_ids = set(session.scalars(select(Conversation.id)))
    logs = {path.name: path.read_text(errors="replace") for path in stack.log_dir.glob("*.log")}
    assert logs and conversation_ids
    for name, text in logs.items():
        assert not EMAIL.findall(text), f"an email address in {name}"
        assert not TELEGRAM_TOKEN.findall(text), f"a bot token in {name}"
        for secret in [new_address, "Orchard Row", order["postcode"], "7700 900123"]:
            assert secret not in text, f"{secret!r} in {name}"
        leaked = [cid for cid in conversation_ids if cid in text]
        assert not leaked, f"conversation ids (shoppers' keys) in {name}"

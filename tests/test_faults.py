"""Parts failing for real: the running stack's action server is stopped and started again
while a shopper talks through the gateway."""

from __future__ import annotations

import os
import signal

import pytest

from bot.store.db import get_engine
from tests.conftest import Shopper, ticket_of

pytestmark = pytest.mark.e2e


def test_action_server_down_apologises_hands_off_and_keeps_the_message(stack):
    shopper = Shopper(stack)
    assert "Northwind" in shopper.says("hi")
    actions = stack.processes["actions"]
    os.killpg(actions.pid, signal.SIGTERM)
    actions.wait(timeout=30)
    try:
        reply = shopper.says("do you ship to Canada?")
        assert "something went wrong on my side" in reply and "reference H-" in reply
        assert shopper.mode == "human"
        assert ticket_of(get_engine(stack.db_url), shopper.id).reason == "action_error"
        said = [(m["sender"], m["text"]) for m in shopper.receives(wait=0)]
        assert ("shopper", "do you ship to Canada?") in said
    finally:
        stack.start_actions()
        stack.wait_healthy()
    # Back up: a new conversation is answered by the bot again.
    assert "We ship to Canada" in Shopper(stack).says("do you ship to Canada?")

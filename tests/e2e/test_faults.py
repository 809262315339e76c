"""Parts failing for real while a shopper talks through the gateway: the running stack's
action server and Rasa server are stopped and started again, the store database is locked,
and a PostgreSQL store is stopped and started."""

from __future__ import annotations

import os
import signal
import sqlite3

import pytest

from bot.replies import STORE_DOWN, UNAVAILABLE
from bot.store.db import get_engine
from tests.conftest import Shopper, gateway_with, seed_order, ticket_of
from tests.postgres_server import PostgresServer

pytestmark = pytest.mark.e2e


def restart_actions(stack, env: dict[str, str]) -> None:
    """The action server again, with `env` as its environment."""
    actions = stack.processes["actions"]
    os.killpg(actions.pid, signal.SIGTERM)
    actions.wait(timeout=30)
    stack.env = env
    stack.start_actions()
    stack.wait_healthy()


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


def test_rasa_down_keeps_the_message_and_the_conversation_continues_when_it_is_back(stack):
    order = seed_order("10423")
    shopper = Shopper(stack)
    shopper.says("where is my order 10423?")
    assert "#10423 is" in shopper.says(order["email"])
    rasa = stack.processes["rasa"]
    os.killpg(rasa.pid, signal.SIGKILL)  # a crash, not a clean stop
    rasa.wait(timeout=30)
    try:
        assert shopper.says("when will it arrive?") == UNAVAILABLE
    finally:
        stack.start_rasa()
        stack.wait_healthy()
    # The same conversation goes on, the order still verified (Rasa's SQL tracker store).
    assert "#10423" in shopper.says("when will it arrive?")
    said = [(m["sender"], m["text"]) for m in shopper.receives(wait=0)]
    assert said.count(("shopper", "when will it arrive?")) == 2


def test_a_locked_database_gets_a_clear_answer_and_nothing_half_written(stack):
    path = stack.db_url.removeprefix("sqlite:///")
    with gateway_with(stack, {"STORE_DB_BUSY_SECONDS": "1"}) as gateway:
        shopper = Shopper(gateway)
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
        try:
            refused = shopper.http.post(
                f"/api/conversations/{shopper.key}/messages", json={"text": "talk to a human"}
            )
            assert refused.status_code == 503 and refused.json() == {"error": STORE_DOWN}
            assert gateway.processes["gateway"].poll() is None  # still running
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert "reference H-" in shopper.says("talk to a human")
        said = [(m["sender"], m["text"]) for m in shopper.receives(wait=0)]
        assert said.count(("shopper", "talk to a human")) == 1  # the refused one is not there
        assert ticket_of(get_engine(stack.db_url), shopper.id).reason == "shopper_request"


def test_the_store_database_stopped_and_started_again(stack):
    """PostgreSQL goes away under a running gateway: clear 503s and a degraded health check,
    no crash, and the same conversation carries on once the database is back."""
    database = PostgresServer()
    try:
        with gateway_with(stack, {"STORE_DATABASE_URL": database.url}) as gateway:
            shopper = Shopper(gateway)
            assert "Northwind" in shopper.says("hi")
            database.stop()
            refused = shopper.http.post(
                f"/api/conversations/{shopper.key}/messages", json={"text": "still there?"}
            )
            assert refused.status_code == 503 and refused.json() == {"error": STORE_DOWN}
            health = shopper.http.get("/health")
            assert health.status_code == 503 and health.json()["database"] == "unreachable"
            assert gateway.processes["gateway"].poll() is None
            database.start()
            assert shopper.http.get("/health").json()["database"] == "ok"
            assert "Northwind" in shopper.says("hello again")
            said = [(m["sender"], m["text"]) for m in shopper.receives(wait=0)]
            shopper_said = [text for sender, text in said if sender == "shopper"]
            assert shopper_said == ["hi", "hello again"]
    finally:
        database.stop(check=False)


def test_an_action_that_fails_hands_off_through_the_gateway_once(stack):
    """An action server whose order source is too slow: the answer gives up after its time
    budget and asks for a person; the gateway opens one ticket with the verified order."""

    normal = dict(stack.env)
    slow = {
        "ORDER_SOURCE": "tests.fakes.slow_orders:SlowOrderSource",
        "SLOW_ORDERS_SECONDS": "4",  # verification waits it out (a form has no budget)...
        "ACTION_TIME_BUDGET_SECONDS": "1",  # ...the answer gives up
    }
    restart_actions(stack, normal | slow)
    try:
        order = seed_order("10423")
        shopper = Shopper(stack)
        shopper.says("where is my order 10423?")
        reply = shopper.says(order["email"])
    finally:
        restart_actions(stack, normal)
    assert "something went wrong on my side" in reply and "reference H-" in reply
    assert "#10423 is" not in reply and shopper.mode == "human"
    ticket = ticket_of(get_engine(stack.db_url), shopper.id)  # exactly one
    assert (ticket.reason, ticket.order_number) == ("action_error", "10423")


def test_the_shop_order_system_down_mid_conversation_gets_a_clear_answer_and_a_ticket(stack):
    """The shop's order system (a platform outside this machine) stops answering between the
    shopper's question and their proof: a clear message, a ticket, nothing counted against
    the shopper."""

    normal = dict(stack.env)
    order = seed_order("10423")
    shopper = Shopper(stack)
    assert "email" in shopper.says("where is my order 10423?")
    restart_actions(stack, normal | {"ORDER_SOURCE": "tests.fakes.down_orders:DownOrderSource"})
    try:
        reply = shopper.says(order["email"])
    finally:
        restart_actions(stack, normal)
    assert "can't reach the shop's order system" in reply and "reference H-" in reply
    assert "doesn't match" not in reply and shopper.mode == "human"
    ticket = ticket_of(get_engine(stack.db_url), shopper.id)  # exactly one
    assert ticket.reason == "order_system_down"

"""No personal data or secrets in any process's log: a shopper proves an order, changes its
address and talks to a person, then every log the running stack wrote (and the gateways the
tests before this one started) is searched for what must not be there. And a shopper erased
with `bot privacy erase` is in no table of either database (store and Rasa's trackers, on
SQLite and on PostgreSQL) and in no log."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from sqlalchemy import create_engine, select

from bot.settings import child_environment
from bot.store.db import get_engine, session_scope
from bot.store.models import Conversation
from tests.conftest import SEED, Shopper, make_stack, new_agent, seed_order, ticket_of
from tests.db_contents import everything_in
from tests.postgres_server import PostgresServer

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
    # Rasa reads "/..." as an intent with entities, and warns with the text when it does not
    # know it: typed, it must reach neither Rasa's parser nor any log.
    shopper.says(f"/{order['email']}")
    shopper.says(f'/inform{{"order_proof": "{order["email"]}"}}')
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
        leaked = [cid for cid in {*conversation_ids, shopper.key} if cid in text]
        assert not leaked, f"conversation ids or keys in {name}"
    # Rasa's memory of the conversation keeps no proof in clear (only the new address, which
    # the change needed; RETENTION_DAYS and `bot privacy erase` delete it).
    remembered = everything_in(create_engine(stack.tracker_url))
    assert shopper.id in remembered and shopper.key not in remembered
    assert order["email"] not in remembered and "[proof]" in remembered


NEW_ADDRESS = "Flat 2, 7 Quarry Lane, Sheffield S1 2GH, UK"
PHONE = "+44 7700 900456"


def erase_a_shopper(stack, store_url: str, tracker_url: str) -> None:
    """A shopper proves an order, changes its address, gives a phone number and asks for a
    person; `bot privacy erase --email` then leaves none of it in either database or any log,
    and another shopper's conversation untouched."""
    order = seed_order("10408")  # a customer no other test uses: erasing anonymises them
    customer = next(c for c in SEED["customers"] if c["email"] == order["email"])
    shopper, other = Shopper(stack), Shopper(stack)
    shopper.says("I put in the wrong address for order 10408")
    assert "new delivery address" in shopper.says(order["email"])
    shopper.says(NEW_ADDRESS)
    assert "will now go to" in shopper.says("yes")
    shopper.says(f"you can call me on {PHONE}")
    assert "reference H-" in shopper.says("let me talk to a human")
    assert other.says("do you ship to Canada?")
    erased = subprocess.run(
        [sys.executable, "-m", "bot.cli", "privacy", "erase", "--email", order["email"], "--yes"],
        env=child_environment(
            {"STORE_DATABASE_URL": store_url, "TRACKER_DATABASE_URL": tracker_url}
        ),
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(erased.stdout)["erased"]["conversations"] == 1
    kept = everything_in(create_engine(store_url)) + everything_in(create_engine(tracker_url))
    logs = "\n".join(path.read_text(errors="replace") for path in stack.log_dir.glob("*.log"))
    secrets = [order["email"], customer["name"], customer["address"]["line1"], PHONE, "900456"]
    secrets += [NEW_ADDRESS, "Quarry Lane", shopper.id, shopper.key]
    for secret in secrets:
        assert secret not in kept, f"{secret!r} is still stored"
        assert secret not in logs, f"{secret!r} in a log"
    assert other.id in kept and "do you ship to Canada?" in kept


def test_an_erased_shopper_is_in_no_table_and_no_log(stack):
    erase_a_shopper(stack, stack.db_url, stack.tracker_url)


def test_an_erased_shopper_is_in_no_table_and_no_log_on_postgresql(tmp_path):
    server = PostgresServer()
    try:
        store_url, tracker_url = server.url, server.create_database("rasa")
        env = {"STORE_DATABASE_URL": store_url}
        with make_stack(tmp_path, env, tracker_url=tracker_url) as running:
            erase_a_shopper(running, store_url, tracker_url)
    finally:
        server.stop(check=False)

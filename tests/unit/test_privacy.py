"""A shopper's data on request (export, erase) and on a schedule (retention), over both
databases: the store and a tracker database shaped like Rasa's (tests/e2e/test_privacy.py
does the same with the real Rasa server, on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from sqlalchemy import create_engine, select, text, update
from starlette.testclient import TestClient

from bot import cli, conversations, order_updates, privacy, staff, tickets
from bot.clock import utcnow
from bot.gateway.app import create_app
from bot.settings import get_settings
from bot.store.db import session_scope
from bot.store.models import Conversation, PrivacyAudit
from bot.verify_attempts import record_failure
from tests.conftest import PASSWORD, SEED, seed_order
from tests.db_contents import everything_in

ORDER = seed_order("10423")
JSON = {"accept": "application/json"}
ADDRESS = "Flat 9, 12 Orchard Row, Leeds LS2 7QT"
PHONE = "+44 7700 900123"


@pytest.fixture
def trackers(tmp_path, monkeypatch):
    """A tracker database with Rasa's `events` table (rasa/core/tracker_store.py)."""
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(
            text(
                "CREATE TABLE events (id INTEGER PRIMARY KEY, sender_id VARCHAR(255) NOT NULL, "
                "type_name VARCHAR(255) NOT NULL, timestamp FLOAT, intent_name VARCHAR(255), "
                "action_name VARCHAR(255), data TEXT)"
            )
        )
    monkeypatch.setenv("TRACKER_DATABASE_URL", url)
    get_settings.cache_clear()
    yield engine
    engine.dispose()


def remember(trackers, sender_id: str, said: str, days_ago: float = 0) -> None:
    """An event in Rasa's memory of the conversation."""
    at = (
        utcnow()
        - timedelta(days=days_ago)
        - utcnow().replace(year=1970, month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
    ).total_seconds()
    data = json.dumps({"event": "user", "text": said, "timestamp": at})
    with trackers.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO events (sender_id, type_name, timestamp, data) "
                "VALUES (:s, 'user', :t, :d)"
            ),
            {"s": sender_id, "t": at, "d": data},
        )


def shoppers(store, trackers) -> dict[str, str]:
    """A web shopper who proved order 10423 and changed its address, a WhatsApp shopper and a
    Telegram shopper; their stored conversation ids."""
    web = conversations.start("web", engine=store)
    for said in (f"where is 10423? I'm {ORDER['email']}", ADDRESS, "talk to a person"):
        conversations.add(web.id, "shopper", said, engine=store)
    tickets.hand_off(web.id, "shopper_request", "10423", store)
    order_updates.subscribe(web.id, "10423", ["shipped"], store)
    record_failure(f"conversation:{web.id}", "10423", store)
    remember(trackers, web.id, ORDER["email"])
    whatsapp = conversations.start("whatsapp", "447700900123", engine=store)
    conversations.add(whatsapp.id, "shopper", "hi, my parcel is late", engine=store)
    record_failure("whatsapp:447700900123", "10411", store)
    remember(trackers, whatsapp.id, "hi, my parcel is late")
    telegram = conversations.start("telegram", "6001", engine=store)
    conversations.add(telegram.id, "shopper", "do you ship to Canada?", engine=store)
    return {"web": web.id, "whatsapp": whatsapp.id, "telegram": telegram.id}


def test_an_erased_shopper_is_in_no_table_of_either_database(store, trackers):
    ids = shoppers(store, trackers)
    url = get_settings().tracker_database_url
    counts = privacy.erase(privacy.Subject("email", ORDER["email"].upper()), store, url, "cli")
    assert counts["conversations"] == 1 and counts["tracker_events"] == 1
    assert counts["messages"] == 3 and counts["tickets"] == 1
    assert counts["verification_failures"] == 1 and counts["customers"] == 1
    assert counts["order_subscriptions"] == 1
    kept = everything_in(store) + everything_in(trackers)
    customer = next(c for c in SEED["customers"] if c["email"] == ORDER["email"])
    home = customer["address"]["line1"]  # its postcode is a neighbour's too
    for secret in (ORDER["email"], customer["name"], home, ADDRESS, "Orchard Row", ids["web"]):
        assert secret not in kept, secret
    assert "my parcel is late" in kept  # other shoppers are untouched
    privacy.erase(privacy.Subject("phone", PHONE), store, url, "cli")
    kept = everything_in(store) + everything_in(trackers)
    assert "447700900123" not in kept and "my parcel is late" not in kept
    assert "do you ship to Canada?" in kept
    with session_scope(store) as session:
        audit = session.scalars(select(PrivacyAudit)).all()
        assert [a.action for a in audit] == ["erase", "erase"]
        assert all(a.subject_hash and "@" not in a.subject_hash for a in audit)


def test_an_export_has_every_conversation_ticket_and_memory(store, trackers):
    shoppers(store, trackers)
    url = get_settings().tracker_database_url
    document = privacy.export(privacy.Subject("email", ORDER["email"]), store, url, "cli")
    (conversation,) = document["conversations"]
    assert [m["text"] for m in conversation["messages"]][1] == ADDRESS
    assert conversation["tickets"][0]["order"] == "10423"
    assert "10423" in [o["number"] for o in document["orders"]]
    assert document["assistant_memory"][0]["text"] == ORDER["email"]
    telegram = privacy.export(privacy.Subject("telegram", "6001"), store, url, "cli")
    assert telegram["conversations"][0]["messages"][0]["text"] == "do you ship to Canada?"
    assert telegram["orders"] == [] and telegram["assistant_memory"] == []


def test_a_conversation_is_found_by_the_key_the_shopper_holds(store, trackers):
    conversation, key = conversations.start_with_key("web", engine=store)
    assert conversation.id != key and conversations.by_key(key, store).id == conversation.id
    ids = privacy.conversation_ids(privacy.Subject("conversation", key), store)
    assert ids == [conversation.id]


def test_retention_deletes_what_is_older_in_both_databases(store, trackers):
    ids = shoppers(store, trackers)
    old = utcnow() - timedelta(days=400)
    with session_scope(store) as session:
        session.execute(
            update(Conversation).where(Conversation.id == ids["whatsapp"]).values(updated_at=old)
        )
    remember(trackers, ids["whatsapp"], "an old message", days_ago=400)
    remember(trackers, "a-conversation-rasa-forgot-long-ago", "old", days_ago=500)
    url = get_settings().tracker_database_url
    assert privacy.purge(0, store, url) == {}  # 0: kept
    counts = privacy.purge(365, store, url)
    assert counts["conversations"] == 1 and counts["tracker_events"] == 1
    kept = everything_in(store)
    assert "my parcel is late" not in kept and "do you ship to Canada?" in kept
    remembered = everything_in(trackers)
    assert "a-conversation-rasa-forgot-long-ago" not in remembered
    assert "an old message" in remembered  # Rasa's memory of it is recent: kept whole
    assert privacy.purge(365, store, url)["conversations"] == 0  # idempotent


def test_the_command_line_exports_and_erases(store, trackers, tmp_path, capsys):
    shoppers(store, trackers)
    out = tmp_path / "export.json"
    assert cli.main(["privacy", "export", "--telegram", "6001", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["conversations"]
    assert cli.main(["privacy", "erase", "--email", ORDER["email"], "--yes"]) == 0
    assert json.loads(capsys.readouterr().out)["erased"]["conversations"] == 1
    assert cli.main(["privacy", "erase"]) == 2  # who?
    assert cli.main(["privacy", "purge", "--days", "365"]) == 0


def test_staff_export_and_erase_from_the_console_with_an_audit_line(store, trackers):
    shoppers(store, trackers)
    staff.create_user("alex", PASSWORD, store)
    with TestClient(create_app(engine=store), follow_redirects=False) as client:
        client.post("/console/login", data={"username": "alex", "password": PASSWORD})
        csrf = client.get("/console/session").json()["csrf_token"]
        form = {"csrf_token": csrf, "kind": "phone", "value": PHONE}
        exported = client.post("/console/privacy/export", data=form)
        assert (
            exported.status_code == 200 and "attachment" in exported.headers["content-disposition"]
        )
        assert exported.json()["conversations"][0]["channel"] == "whatsapp"
        unconfirmed = client.post("/console/privacy/erase", data=form)
        assert unconfirmed.status_code == 400
        erased = client.post("/console/privacy/erase", data={**form, "confirm": "yes"})
        assert erased.status_code == 303 and erased.headers["location"].endswith("erased=1")
        page = client.get("/console/privacy")
        assert "staff:alex" in page.text and "erase" in page.text and PHONE not in page.text
        bad = client.post("/console/privacy/export", data={**form, "value": "x"})
        assert bad.status_code == 400
    assert "447700900123" not in everything_in(store)


def test_the_console_shows_the_payload_rasa_acted_on(store):
    conversation = conversations.start("web", engine=store)
    conversations.add(conversation.id, "shopper", "Yes", extra={"payload": "/affirm"}, engine=store)
    ticket = tickets.hand_off(conversation.id, "shopper_request", engine=store)
    staff.create_user("alex", PASSWORD, store)
    with TestClient(create_app(engine=store), follow_redirects=False) as client:
        client.post("/console/login", data={"username": "alex", "password": PASSWORD})
        page = client.get(f"/console/tickets/{ticket}")
        assert "Rasa was sent <code>/affirm</code>" in page.text
        live = client.get(
            f"/console/tickets/{ticket}/messages", headers={"accept": "application/json"}
        )
        assert live.json()["messages"][0]["payload"] == "/affirm"


def test_the_gateway_purges_when_it_starts(store, trackers):
    ids = shoppers(store, trackers)
    with session_scope(store) as session:
        session.execute(
            update(Conversation)
            .where(Conversation.id == ids["telegram"])
            .values(updated_at=utcnow() - timedelta(days=400))
        )
    with TestClient(create_app(engine=store)):
        deadline = time.monotonic() + 30
        while conversations.get(ids["telegram"], store) and time.monotonic() < deadline:
            time.sleep(0.1)
    assert conversations.get(ids["telegram"], store) is None
    assert conversations.get(ids["web"], store) is not None
    with session_scope(store) as session:
        assert session.scalars(select(PrivacyAudit.actor)).all() == ["retention"]


def test_an_email_is_matched_as_written_not_as_a_pattern(store, trackers):
    other = conversations.start("web", engine=store)
    conversations.add(other.id, "shopper", "I'm zoe-x@example.com", engine=store)
    assert privacy.conversation_ids(privacy.Subject("email", "zoe_x@example.com"), store) == []
    assert privacy.conversation_ids(privacy.Subject("email", "zoe-x@example.com"), store) == [
        other.id
    ]

"""Staff alerts (bot/gateway/alerts.py) on a fresh SQLite store: the new-ticket email against a
real SMTP server on loopback (aiosmtpd), its failures, and the live events the relay publishes
when a ticket opens and when a shopper writes on a ticket a person has."""

from __future__ import annotations

import asyncio
import logging
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from bot import contract, conversations, staff, tickets
from bot.contract import Handoff, Reply
from bot.gateway.alerts import Alerts
from bot.gateway.rasa_client import RasaClient
from bot.gateway.relay import Gateway
from bot.settings import get_settings
from bot.stack import free_port
from tests.conftest import PASSWORD

# aiosmtpd's own warning when its tests' server takes a login without TLS (on loopback).
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

SHOPPER_TEXT = "my parcel is wet, I am Ada Lovelace, ada@example.com"
SMTP_PASSWORD = "s3cret-smtp-passw0rd"


class Inbox:
    """An aiosmtpd handler keeping what it was sent, and who logged in."""

    def __init__(self) -> None:
        self.envelopes: list = []
        self.logins: list[tuple[str, str]] = []

    async def handle_DATA(self, server, session, envelope) -> str:
        self.envelopes.append(envelope)
        return "250 OK"

    def authenticate(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
        return AuthResult(success=auth_data.password.decode() == SMTP_PASSWORD)

    def messages(self) -> list:
        return [message_from_bytes(e.content, policy=policy.default) for e in self.envelopes]


@contextmanager
def smtp_server(**options) -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    if options.pop("with_login", False):
        options.update(authenticator=inbox.authenticate, auth_required=True, auth_require_tls=False)
    controller = Controller(inbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def mail_settings(port: int, **changes):
    """Mail to a server on loopback; plain SMTP unless `changes` say otherwise."""
    mail = {
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
        "smtp_starttls": False,
        "alert_email_from": "assistant@shop.example",
        "alert_email_to": ("duty@shop.example", "lead@shop.example"),
    }
    return replace(get_settings(), **{**mail, **changes})


def handed_off(store) -> tuple[int, object]:
    """A web conversation whose shopper asked for a person: (its ticket, the conversation as
    it was before the handoff)."""
    conversation = conversations.start("web", engine=store)
    conversations.add(conversation.id, "shopper", SHOPPER_TEXT, engine=store)
    conversations.set_language(conversation.id, "de", "detected", store)
    before = conversations.get(conversation.id, store)
    return tickets.hand_off(conversation.id, "shopper_request", engine=store), before


def test_a_new_ticket_sends_one_email_to_on_duty_staff_without_the_shoppers_words(store):
    with smtp_server() as (inbox, port):
        ticket, before = handed_off(store)
        sent = Alerts(mail_settings(port), store).ticket_opened(ticket, "shopper_request", before)
        sent.result(timeout=20)
    assert len(inbox.envelopes) == 1
    envelope = inbox.envelopes[0]
    assert envelope.mail_from == "assistant@shop.example"
    assert sorted(envelope.rcpt_tos) == ["duty@shop.example", "lead@shop.example"]
    email = inbox.messages()[0]
    assert email["Subject"] == f"New ticket H-{ticket}: asked for a person"
    body = email.get_content()
    assert f"/console/tickets/{ticket}" in body
    assert "Channel: web" in body and "Language: de" in body
    raw = envelope.content.decode()
    for private in ("parcel", "Ada", "Lovelace", "ada@example.com", before.id):
        assert private not in raw


def test_login_when_a_username_is_set(store):
    with smtp_server(with_login=True) as (inbox, port):
        settings = mail_settings(port, smtp_username="alerts", smtp_password=SMTP_PASSWORD)
        ticket, before = handed_off(store)
        Alerts(settings, store).ticket_opened(ticket, "shopper_request", before).result(20)
    assert inbox.logins == [("alerts", SMTP_PASSWORD)] and len(inbox.envelopes) == 1


@pytest.fixture
def certificate(tmp_path, monkeypatch) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, trusted by this process's TLS clients."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1"]
        + ["-addext", "subjectAltName=IP:127.0.0.1"],
        check=True,
        capture_output=True,
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    return cert, key


def test_starttls_when_the_server_offers_it(store, certificate):
    import ssl

    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(*certificate)
    # The server refuses mail before STARTTLS, and a login without TLS.
    with smtp_server(tls_context=server_tls, require_starttls=True) as (inbox, port):
        settings = mail_settings(port, smtp_starttls=True)
        ticket, before = handed_off(store)
        Alerts(settings, store).ticket_opened(ticket, "shopper_request", before).result(20)
    assert len(inbox.envelopes) == 1


def test_no_password_in_clear_when_starttls_is_wanted_but_not_offered(store, caplog):
    with smtp_server(with_login=True) as (inbox, port):
        settings = mail_settings(
            port, smtp_starttls=True, smtp_username="alerts", smtp_password=SMTP_PASSWORD
        )
        ticket, before = handed_off(store)
        with caplog.at_level(logging.WARNING, logger="bot.gateway.alerts"):
            Alerts(settings, store).ticket_opened(ticket, "shopper_request", before).result(20)
    assert inbox.logins == [] and inbox.envelopes == []
    assert f"alert email for H-{ticket} not sent" in caplog.text
    assert SMTP_PASSWORD not in caplog.text


def test_an_unreachable_smtp_server_is_logged_without_the_password_and_raises_nothing(
    store, caplog
):
    settings = mail_settings(free_port(), smtp_username="alerts", smtp_password=SMTP_PASSWORD)
    ticket, before = handed_off(store)
    with caplog.at_level(logging.WARNING, logger="bot.gateway.alerts"):
        sent = Alerts(settings, store).ticket_opened(ticket, "shopper_request", before)
        assert sent.result(timeout=30) is None  # the worker caught it
    assert f"alert email for H-{ticket} not sent through 127.0.0.1" in caplog.text
    assert SMTP_PASSWORD not in caplog.text


@pytest.mark.parametrize(
    "unset", [{"smtp_host": ""}, {"alert_email_to": ()}], ids=["no SMTP_HOST", "no recipients"]
)
def test_no_email_when_the_settings_are_unset(store, unset):
    with smtp_server() as (inbox, port):
        alerts = Alerts(mail_settings(port, **unset), store)
        ticket, before = handed_off(store)
        assert alerts.ticket_opened(ticket, "shopper_request", before) is None
        # The live event still goes to the consoles.
        assert [a.kind for a in alerts.since(0, 1)[1]] == ["new_ticket"]
    assert inbox.envelopes == []


# --- the events the relay publishes ---------------------------------------------------------
def test_a_handoff_publishes_one_new_ticket_and_asking_again_none(store):
    gateway = Gateway(RasaClient(f"http://127.0.0.1:{free_port()}"), store, get_settings())
    conversation = conversations.start("telegram", "chat-1", engine=store)
    asking = Reply(visible=[], handoff=Handoff(contract.SHOPPER_REQUEST))

    asyncio.run(gateway._say(conversation, asking))
    ticket = tickets.active_ticket(conversation.id, store)
    newest, events = gateway.alerts.since(0, user_id=1)
    assert [(a.kind, a.data["ticket"], a.data["channel"]) for a in events] == [
        ("new_ticket", ticket.id, "telegram")
    ]
    assert events[0].data["reason_label"] == "asked for a person"

    # The conversation is a person's now: asking again keeps the same ticket, and no alert.
    asyncio.run(gateway._say(conversations.get(conversation.id, store), asking))
    assert gateway.alerts.since(newest, user_id=1) == (newest, [])


def test_a_shopper_writing_on_an_assigned_ticket_alerts_only_its_assignee(store):
    gateway = Gateway(RasaClient(f"http://127.0.0.1:{free_port()}"), store, get_settings())
    mine, other = (staff.create_user(n, PASSWORD, store) for n in ("alex", "sam"))
    ticket, _ = handed_off(store)
    conversation = conversations.get(tickets.get_ticket(ticket, store).conversation_id, store)

    # Nobody has it yet: the open queue shows it, nobody is alerted.
    asyncio.run(gateway.receive(conversation, "hello? anyone?"))
    assert gateway.alerts.since(0, mine.id)[1] == []

    tickets.assign(ticket, mine, store)
    assert asyncio.run(gateway.receive(conversation, "still waiting")) == []  # the bot is quiet
    alerts = gateway.alerts.since(0, mine.id)[1]
    assert [(a.kind, a.data) for a in alerts] == [
        ("shopper_wrote", {"ticket": ticket, "assignee": mine.id})
    ]
    assert "still waiting" not in alerts[0].sse(gateway.alerts.boot)  # no shopper text
    assert gateway.alerts.since(0, other.id)[1] == []


def test_a_reconnecting_console_resumes_after_its_last_event():
    alerts = Alerts(get_settings())
    alerts.publish("new_ticket", {"ticket": 1})
    alerts.publish("new_ticket", {"ticket": 2})
    assert alerts.resume_point(None) == 2  # a new stream: from now on
    assert alerts.resume_point(f"{alerts.boot}-1") == 1  # missed ticket 2
    resumed = alerts.since(alerts.resume_point(f"{alerts.boot}-1"), 1)[1]
    assert [a.data["ticket"] for a in resumed] == [2]
    assert alerts.resume_point("0badc0de-7") == 0  # from before a restart: all that is kept
    for junk in ("", "7", f"{alerts.boot}-junk", f"{alerts.boot}-{'9' * 40}", "x" * 9000):
        with pytest.raises(ValueError):
            alerts.resume_point(junk)

"""The gateway and the staff console over real HTTP: the running stack (action server, Rasa,
gateway) and its SQLite store. Every ticket state change, and access without login."""

from __future__ import annotations

import secrets

import httpx
import pytest
from sqlalchemy import func, select

from bot import conversations, staff
from bot.store.db import get_engine, session_scope
from bot.store.models import Conversation, Message
from tests.conftest import PASSWORD, Agent, Shopper, handed_off_shopper, new_agent, ticket_of

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def engine(stack):
    return get_engine(stack.db_url)


@pytest.fixture(scope="module")
def agent_name(engine):
    name = f"agent-{secrets.token_hex(3)}"
    staff.create_user(name, PASSWORD, engine)
    return name


def mode_of(engine, conversation_id: str) -> str:
    with session_scope(engine) as session:
        return session.get(Conversation, conversation_id).mode


def test_handoff_opens_a_ticket_and_the_bot_stays_quiet(stack, engine):
    shopper = handed_off_shopper(stack)
    ticket = ticket_of(engine, shopper.id)
    assert (ticket.reason, ticket.status, ticket.order_number) == (
        "shopper_request",
        "open",
        "10423",
    )
    assert shopper.says("hello? is anyone there?") == ""  # stored for the person, no bot reply
    assert mode_of(engine, shopper.id) == "human"
    texts = [m["text"] for m in shopper.receives(wait=0)]
    # Asked, proof asked for, proved, the status, the offer of updates, a person asked for,
    # the bot's notice, and the new message.
    assert texts[-1] == "hello? is anyone there?" and len(texts) == 8


def test_an_upset_shopper_is_offered_a_person_at_once(stack, engine):
    shopper = Shopper(stack)
    assert "hand you over to a person" in shopper.says("this is ridiculous, worst service ever")
    shopper.says("Yes", payload="/affirm")
    assert ticket_of(engine, shopper.id).reason == "complaint"


def test_two_unknown_questions_in_a_row_hand_off(stack, engine):
    shopper = Shopper(stack)
    assert "don't know that one" in shopper.says("what's the capital of Peru?")
    assert "reference H-" in shopper.says("who won the football yesterday?")
    assert ticket_of(engine, shopper.id).reason == "bot_failed"


def test_the_console_and_its_api_refuse_everyone_without_login(stack):
    shopper = handed_off_shopper(stack)
    ticket_id = ticket_of(get_engine(stack.db_url), shopper.id).id
    anonymous = httpx.Client(base_url=stack.gateway_url, timeout=30)
    page = anonymous.get("/console")
    assert page.status_code == 303 and page.headers["location"].startswith("/console/login")
    for path in (f"/console/tickets/{ticket_id}", f"/console/tickets/{ticket_id}/export"):
        assert anonymous.get(path, headers={"accept": "application/json"}).status_code == 401
    for action in ("assign", "reply", "resolve", "handback"):
        refused = anonymous.post(f"/console/tickets/{ticket_id}/{action}", data={"text": "hi"})
        assert refused.status_code == 401
    wrong = anonymous.post("/console/login", data={"username": "nobody", "password": "guess"})
    assert wrong.status_code == 401 and "sa_staff" not in wrong.cookies
    assert ticket_of(get_engine(stack.db_url), shopper.id).status == "open"


def test_changes_need_the_csrf_token_and_the_same_origin(stack, engine, agent_name):
    shopper = handed_off_shopper(stack)
    ticket_id = ticket_of(engine, shopper.id).id
    agent = Agent(stack, agent_name)
    missing = agent.http.post(f"/console/tickets/{ticket_id}/assign")
    assert missing.status_code == 403
    cross_site = agent.http.post(
        f"/console/tickets/{ticket_id}/assign",
        headers={"x-csrf-token": agent.csrf, "origin": "https://evil.example"},
    )
    assert cross_site.status_code == 403
    assert ticket_of(engine, shopper.id).status == "open"


def test_assign_reply_and_resolve(stack, engine, agent_name):
    shopper = handed_off_shopper(stack)
    ticket_id = ticket_of(engine, shopper.id).id
    agent = Agent(stack, agent_name)
    queue = agent.http.get("/console", params={"queue": "open"}).json()["tickets"]
    assert ticket_id in [t["id"] for t in queue]

    assert agent.post(f"/console/tickets/{ticket_id}/assign").json()["ticket"]["status"] == (
        "assigned"
    )
    mine = agent.http.get("/console", params={"queue": "mine"}).json()["tickets"]
    assert ticket_id in [t["id"] for t in mine]

    shopper.receives(wait=0)
    reply = agent.post(f"/console/tickets/{ticket_id}/reply", text="Hi, I'm Sam. Let me check.")
    assert reply.status_code == 200 and reply.json()["ticket"]["first_reply_at"]
    received = shopper.receives(wait=10)
    assert [(m["sender"], m["text"]) for m in received] == [("agent", "Hi, I'm Sam. Let me check.")]
    assert received[0]["agent"] == agent_name

    assert shopper.says("thanks Sam") == ""  # a person has it: the bot stays quiet
    transcript = agent.ticket(ticket_id)["messages"]
    assert [m["sender"] for m in transcript[-2:]] == ["agent", "shopper"]

    resolved = agent.post(f"/console/tickets/{ticket_id}/resolve").json()["ticket"]
    assert resolved["status"] == "resolved" and resolved["closed_at"]
    assert mode_of(engine, shopper.id) == "bot"
    assert agent.post(f"/console/tickets/{ticket_id}/reply", text="late").status_code == 409
    done = agent.http.get("/console", params={"queue": "resolved"}).json()["tickets"]
    assert ticket_id in [t["id"] for t in done]
    assert "Northwind" in shopper.says("hello")  # the bot answers again


def test_hand_back_to_the_bot_greets_the_shopper(stack, engine, agent_name):
    shopper = handed_off_shopper(stack)
    ticket_id = ticket_of(engine, shopper.id).id
    agent = Agent(stack, agent_name)
    shopper.receives(wait=0)
    handed = agent.post(f"/console/tickets/{ticket_id}/handback").json()["ticket"]
    assert handed["status"] == "returned"
    greeting = shopper.receives(wait=10)
    assert greeting[0]["sender"] == "bot" and "Hi again" in greeting[0]["text"]
    assert mode_of(engine, shopper.id) == "bot"
    # The bot resumes with what it knew: the order is still verified.
    assert "should arrive between" in shopper.says("when will order 10423 arrive?")


def test_search_and_export(stack, engine, agent_name):
    shopper = handed_off_shopper(stack)
    word = f"zebra{secrets.token_hex(2)}"
    shopper.says(f"my parcel has a {word} sticker on it")
    ticket_id = ticket_of(engine, shopper.id).id
    agent = Agent(stack, agent_name)
    found = agent.http.get("/console", params={"queue": "open", "q": word}).json()["tickets"]
    assert [t["id"] for t in found] == [ticket_id]
    none = agent.http.get("/console", params={"queue": "open", "q": "no such words"}).json()
    assert none["tickets"] == []

    exported = agent.http.get(f"/console/tickets/{ticket_id}/export", params={"format": "json"})
    body = exported.json()
    assert body["ticket"]["id"] == ticket_id and body["channel"] == "api"
    assert body["messages"][-1]["text"] == f"my parcel has a {word} sticker on it"
    text = agent.http.get(f"/console/tickets/{ticket_id}/export", params={"format": "text"})
    assert "attachment" in text.headers["content-disposition"]
    assert f"shopper: my parcel has a {word} sticker on it" in text.text


def test_bad_shopper_requests_get_clear_errors(stack):
    http = httpx.Client(base_url=stack.gateway_url, timeout=30)
    shopper = Shopper(stack)
    url = f"/api/conversations/{shopper.key}/messages"
    assert http.post("/api/conversations/unknown/messages", json={"text": "hi"}).status_code == 404
    assert http.post(url, json={"text": "   "}).status_code == 400
    assert http.post(url, json={"text": 42}).status_code == 400
    bad_json = http.post(url, content=b"{not json", headers={"content-type": "application/json"})
    assert bad_json.status_code == 400
    assert http.post(url, content=b"hi", headers={"content-type": "text/plain"}).status_code == 415
    assert http.post(url, json={"text": "x" * 5000}).status_code == 413
    assert shopper.receives(wait=0) == []  # nothing was stored


def test_console_pages_carry_security_headers(stack):
    page = httpx.get(f"{stack.gateway_url}/console/login", timeout=30)
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["x-frame-options"] == "DENY"


def test_explain_needs_a_login_and_touches_no_conversation(stack, engine):
    anonymous = httpx.post(f"{stack.gateway_url}/api/explain", json={"text": "hi"}, timeout=30)
    assert anonymous.status_code == 401
    agent = new_agent(stack)
    with session_scope(engine) as session:
        before = session.scalar(select(func.count(Message.id)))
    answer = agent.post("/api/explain", text="where is my order 10423?").json()
    assert answer["decision"] == "canned_intent"
    assert answer["intent"]["name"] == "order_status"
    assert {"entity": "order_id", "value": "10423"} in answer["entities"]
    assert len(answer["faq"]["top"]) == 5
    store_question = agent.post("/api/explain", text="Do you ship to Canada?").json()
    assert store_question["decision"] == "faq_answer"
    assert store_question["faq"]["top"][0]["id"] == "international-shipping"
    assert agent.post("/api/explain", text="I want to speak to a person").json()["decision"] == (
        "handoff"
    )
    with session_scope(engine) as session:
        assert session.scalar(select(func.count(Message.id))) == before
    assert agent.post("/api/explain", text="   ").status_code == 400


def test_each_shopper_message_keeps_what_rasa_read_and_what_the_bot_did(stack):
    shopper = Shopper(stack)
    assert "We ship to Canada" in shopper.says("do you ship to Canada?")
    shopper.says("Yes", payload="/affirm")  # the "Did that help?" button
    shopper.says("can you rent me a kayak for a day?")
    stored = conversations.messages(shopper.id, engine=get_engine(stack.db_url))
    notes = [m.extra for m in stored if m.sender == "shopper"]
    assert notes[0]["intent"] == "faq" and 0 < notes[0]["confidence"] <= 1
    assert notes[0]["outcome"] == "faq_answer"
    assert notes[0]["faq_id"] == "international-shipping"
    assert notes[1] == notes[1] | {
        "payload": "/affirm",
        "intent": "affirm",
        "feedback": "yes",
        "faq_id": "international-shipping",
    }
    assert notes[2]["outcome"] == "unknown"

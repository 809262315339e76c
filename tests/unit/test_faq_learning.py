"""The FAQ learns from the shop: a question a shopper confirmed an offered entry answered is
proposed, staff approve or reject it, and an approved one (or one staff add from an FAQ gap)
is searched at once, without a retrain."""

from __future__ import annotations

from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from bot import contract, conversations, faq_phrasings, staff
from bot.faq import service
from bot.faq.entries import learned_file, load_faq
from bot.gateway.app import create_app
from bot.settings import get_settings
from bot.stack import free_port
from tests.conftest import PASSWORD

QUESTION = "what about gift stuff"


def confirmed(store, question: str, entry_id: str, picked: str | None = None) -> str:
    """A conversation as the gateway stores it: a question the bot answered with suggestions,
    the shopper's pick (a button: its payload), then "yes" to "Did that help?"."""
    conversation = conversations.start("web", engine=store)
    cid = conversation.id
    outcome = {contract.NOTE_OUTCOME: contract.FAQ_SUGGESTED}
    conversations.add(cid, "shopper", question, extra=outcome, engine=store, language="en")
    conversations.add(cid, "bot", "Did you mean one of these?", engine=store)
    payload = f'/faq_choice{{"faq_id": "{picked or entry_id}"}}'
    answered = {
        "payload": payload,
        contract.NOTE_OUTCOME: contract.FAQ_ANSWER,
        contract.NOTE_FAQ_ID: picked or entry_id,
    }
    conversations.add(cid, "shopper", "Which payment methods?", extra=answered, engine=store)
    conversations.add(cid, "bot", "We accept...", engine=store)
    feedback = {contract.NOTE_FEEDBACK: "yes", contract.NOTE_FAQ_ID: entry_id}
    conversations.add(cid, "shopper", "yes", extra=feedback, engine=store)
    conversations.add(cid, "bot", "Glad that helped!", engine=store)
    return cid


def test_a_confirmed_question_waits_for_review_then_is_answered(store, faq_dir):
    assert service.reply_to(QUESTION).kind == "suggest"
    cid = confirmed(store, QUESTION, "gift-wrapping")
    proposal = faq_phrasings.propose_from_feedback(cid, "gift-wrapping", store)
    assert proposal.text == QUESTION and proposal.language == "en"
    # One shopper confirming again and again changes nothing in the FAQ.
    for _ in range(3):
        faq_phrasings.propose_from_feedback(cid, "gift-wrapping", store)
    assert not learned_file(faq_dir).exists()
    [waiting] = faq_phrasings.pending(store)
    assert waiting.confirmations == 4
    faq_phrasings.review(waiting.id, True, "alex", store)
    assert faq_phrasings.pending(store) == []
    entry = next(e for e in load_faq(faq_dir) if e.id == "gift-wrapping")
    assert QUESTION in entry.learned and QUESTION in entry.phrasings
    reply = service.reply_to(QUESTION)
    assert reply.kind == "answer" and reply.entry_id == "gift-wrapping"
    assert faq_phrasings.review(waiting.id, True, "alex", store) is None  # reviewed once


def test_a_rejected_proposal_is_not_learned(store, faq_dir):
    cid = confirmed(store, "do you take bitcoin or other crypto", "payment-methods")
    proposal = faq_phrasings.propose_from_feedback(cid, "payment-methods", store)
    faq_phrasings.review(proposal.id, False, "alex", store)
    assert not learned_file(faq_dir).exists() and faq_phrasings.pending(store) == []


@pytest.mark.parametrize(
    ("question", "picked"),
    [
        ("my email is ana@example.com, can I pay later", None),  # personal data
        ("order 10423 paid twice?", None),  # an order number
        (QUESTION, "shipping-cost"),  # the "yes" is about another entry than the one picked
    ],
)
def test_what_is_never_proposed(store, faq_dir, question, picked):
    cid = confirmed(store, question, "payment-methods", picked)
    assert faq_phrasings.propose_from_feedback(cid, "payment-methods", store) is None


def test_an_answer_the_shopper_did_not_pick_from_suggestions_teaches_nothing(store, faq_dir):
    cid = conversations.start("web", engine=store).id
    conversations.add(cid, "shopper", "which cards do you take", engine=store)
    feedback = {contract.NOTE_FEEDBACK: "yes", contract.NOTE_FAQ_ID: "payment-methods"}
    conversations.add(cid, "shopper", "yes", extra=feedback, engine=store)
    assert faq_phrasings.propose_from_feedback(cid, "payment-methods", store) is None


@pytest.fixture
def client(store, faq_dir):
    settings = replace(get_settings(), rasa_url=f"http://127.0.0.1:{free_port()}")
    staff.create_user("alex", PASSWORD, store)
    with TestClient(create_app(settings, engine=store), follow_redirects=False) as client:
        assert client.post("/console/login", data={"username": "alex", "password": PASSWORD})
        client.headers["x-csrf-token"] = client.get("/console/session").json()["csrf_token"]
        yield client


def test_staff_review_proposals_and_add_phrasings_on_the_insights_page(client, store, faq_dir):
    cid = confirmed(store, QUESTION, "gift-wrapping")
    proposal = faq_phrasings.propose_from_feedback(cid, "gift-wrapping", store)
    page = client.get("/console/insights").text
    assert QUESTION in page and f"/console/insights/faq/proposals/{proposal.id}" in page
    approved = client.post(
        f"/console/insights/faq/proposals/{proposal.id}", data={"decision": "approve"}
    )
    assert approved.status_code == 303 and "taught=gift-wrapping" in approved.headers["location"]
    missing = client.post(
        "/console/insights/faq/proposals/99999999999999999999", data={"decision": "approve"}
    )
    assert missing.status_code == 404
    # A gap a staff member recognises as another way to ask an existing entry.
    added = client.post(
        "/console/insights/faq/phrasings",
        data={"entry_id": "gift-cards", "phrasings": "can I send credit to a friend\n\n"},
        headers={"accept": "application/json"},
    )
    assert added.status_code == 201 and added.json()["added"] == ["can I send credit to a friend"]
    unknown = client.post(
        "/console/insights/faq/phrasings", data={"entry_id": "no-such-entry", "phrasings": "x y"}
    )
    assert unknown.status_code == 400
    flood = "\n".join(f"question number {n}" for n in range(21))
    too_many = client.post(
        "/console/insights/faq/phrasings", data={"entry_id": "gift-cards", "phrasings": flood}
    )
    assert too_many.status_code == 400
    learned = next(e for e in load_faq(faq_dir) if e.id == "gift-cards").learned
    assert learned == ("can I send credit to a friend",)

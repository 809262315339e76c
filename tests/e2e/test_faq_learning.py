"""End to end, on a stack with its own copy of the FAQ: one round of suggestions, then an
honest "I don't know" with a person offered; and a question a shopper confirmed, approved by a
staff member in the console, answered directly to the next shopper without a retrain."""

from __future__ import annotations

import json
import shutil

import pytest
from sqlalchemy import select

from bot.faq.entries import DEFAULT_FAQ, learned_file
from bot.store.db import get_engine, session_scope
from bot.store.models import FaqPhrasing
from tests.conftest import Shopper, make_stack, new_agent

pytestmark = pytest.mark.e2e

VAGUE = "what about gift stuff"
ENTRY = "gift-wrapping"


@pytest.fixture(scope="module")
def own_faq_stack(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faq-learning")
    faq = tmp / "faq"
    shutil.copytree(
        DEFAULT_FAQ, faq, ignore=shutil.ignore_patterns("learned", "added-by-staff.yml")
    )
    with make_stack(tmp, {"FAQ_PATH": str(faq)}) as running:
        running.faq = faq
        yield running


def buttons(shopper: Shopper) -> list[dict]:
    found = []
    for message in shopper.receives(wait=0):
        found += message.get("buttons") or []
    return found


def test_one_round_of_suggestions_then_a_person_is_offered(own_faq_stack):
    shopper = Shopper(own_faq_stack)
    assert "Did you mean" in shopper.says(VAGUE)
    second = shopper.says("hmm no, is the box the parcel comes in recyclable cardboard")
    assert "Did you mean" not in second and "connect you with a person" in second


def test_a_confirmed_question_is_learned_after_a_staff_member_approves_it(own_faq_stack):
    shopper = Shopper(own_faq_stack)
    assert "Did you mean" in shopper.says(VAGUE)
    offered = [b for b in buttons(shopper) if ENTRY in b["payload"]]
    assert offered, "the right entry is among the suggestions"
    assert "Did that help?" in shopper.says(offered[0]["title"], offered[0]["payload"])
    shopper.says("yes")
    engine = get_engine(own_faq_stack.db_url)
    with session_scope(engine) as session:
        proposal = session.scalars(select(FaqPhrasing)).one()
        assert (proposal.entry_id, proposal.text, proposal.status) == (ENTRY, VAGUE, "pending")
        proposal_id = proposal.id
    assert not learned_file(own_faq_stack.faq).exists()  # nothing learned before the review

    agent = new_agent(own_faq_stack)
    insights = agent.http.get("/console/insights").json()
    assert [p["text"] for p in insights["proposed_phrasings"]] == [VAGUE]
    approved = agent.post(f"/console/insights/faq/proposals/{proposal_id}", decision="approve")
    assert approved.status_code == 200, approved.text
    assert VAGUE in learned_file(own_faq_stack.faq).read_text(encoding="utf-8")

    # The next shopper asking the same gets the answer at once: the action server reloaded
    # the FAQ by itself, Rasa was not retrained.
    next_shopper = Shopper(own_faq_stack)
    reply = next_shopper.says(VAGUE)
    assert "Did you mean" not in reply and "Did that help?" in reply
    notes = json.dumps(agent.http.get("/console/insights").json()["faq_answers"])
    assert ENTRY in notes

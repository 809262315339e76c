"""The satisfaction survey: the store side (asked once per subject, ratings 1-5, the comment
window) and the gateway asking after a resolve and taking the answers, in-process. Rasa is
not running here (RasaClient on a closed port): a message that reaches it gets "temporarily
unavailable", so a survey answer is one that never did."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot import contract, conversations, csat, replies, staff, tickets
from bot.channels.telegram import keyboard
from bot.channels.whatsapp import WhatsAppChannel
from bot.clock import utcnow
from bot.gateway.rasa_client import RasaClient
from bot.gateway.relay import Gateway
from bot.i18n import texts
from bot.store.db import session_scope
from bot.store.models import CsatSurvey

PASSWORD = "correct horse battery staple"
UNAVAILABLE = replies.UNAVAILABLE  # what a message that went to (absent) Rasa gets


def conversation_for(store, channel: str = "telegram", language: str | None = None) -> str:
    conversation = conversations.start(channel, "5551", store)
    if language:
        conversations.set_language(conversation.id, language, "text", store)
    return conversation.id


def ask(store, cid: str, subject: str = csat.BOT) -> csat.Survey | None:
    return csat.ask(cid, subject, None, None, "telegram", "en", store)


def rated_minutes_ago(store, survey_id: int, minutes: float) -> None:
    with session_scope(store) as session:
        session.execute(
            update(CsatSurvey)
            .where(CsatSurvey.id == survey_id)
            .values(rated_at=utcnow() - timedelta(minutes=minutes))
        )


# --- the store ---------------------------------------------------------------------------


def test_a_subject_is_asked_once_per_conversation(store):
    cid, other = conversation_for(store), conversation_for(store)
    first = ask(store, cid)
    assert first is not None and first.status == csat.ASKED and first.rating is None
    assert ask(store, cid) is None  # the unique (conversation, subject) guard
    assert ask(store, cid, csat.ticket_subject(7)) is not None  # another subject
    assert ask(store, other) is not None  # another conversation
    assert [s.subject for s in csat.of_conversation(cid, store)] == ["bot", "ticket:7"]


def test_a_rating_is_1_to_5_and_taken_once(store):
    survey = ask(store, conversation_for(store))
    for wrong in (0, 6, -1):
        with pytest.raises(ValueError):
            csat.rate(survey.id, wrong, store)
    assert csat.rate(survey.id, 4, store)
    assert not csat.rate(survey.id, 2, store)  # the same press arriving twice changes nothing
    rated = csat.get(survey.id, store)
    assert (rated.status, rated.rating) == (csat.RATED, 4) and rated.rated_at is not None


def test_a_comment_follows_a_rating_stripped_and_at_most_2000_characters(store):
    survey = ask(store, conversation_for(store))
    assert not csat.comment(survey.id, "too early", store)  # no rating yet
    csat.rate(survey.id, 2, store)
    with pytest.raises(ValueError):
        csat.comment(survey.id, "   ", store)
    assert csat.comment(survey.id, "  " + "slow " * 500 + "  ", store)
    commented = csat.get(survey.id, store)
    assert commented.status == csat.COMMENTED and commented.commented_at is not None
    assert len(commented.comment) <= csat.MAX_COMMENT and commented.comment.startswith("slow")
    assert not csat.comment(survey.id, "again", store)  # one comment


def test_the_open_survey_is_asked_or_rated_within_the_comment_window(store):
    cid = conversation_for(store)
    assert csat.open_survey(cid, store, 10) is None
    survey = ask(store, cid)
    assert csat.open_survey(cid, store, 10).id == survey.id
    csat.rate(survey.id, 5, store)
    assert csat.open_survey(cid, store, 10).status == csat.RATED
    rated_minutes_ago(store, survey.id, 9)
    assert csat.open_survey(cid, store, 10) is not None
    rated_minutes_ago(store, survey.id, 11)
    assert csat.open_survey(cid, store, 10) is None
    assert csat.open_survey(cid, store, 12) is not None
    assert csat.open_survey(cid, store, 0) is None  # CSAT_COMMENT_MINUTES=0: no comments
    csat.comment(survey.id, "great", store)
    assert csat.open_survey(cid, store, 12) is None


@pytest.mark.parametrize(
    ("text", "rating"),
    [("4", 4), (" 1 ", 1), ("5.", 5), ("٤", 4), ("４", 4), ("0", None), ("6", None)],
)
def test_a_typed_rating_is_just_a_digit_1_to_5_in_any_script(text, rating):
    assert csat.typed_rating(text) == rating


@pytest.mark.parametrize("text", ["45", "4 stars", "four", "", "10423"])
def test_anything_else_typed_is_not_a_rating(text):
    assert csat.typed_rating(text) is None


def test_the_bot_closed_a_conversation_after_an_answer_and_without_a_ticket(store):
    def shopper(cid: str, notes: dict) -> int:
        said = conversations.add(cid, "shopper", "...", engine=store)
        conversations.annotate(said.id, notes, store)
        return said.id

    faq = conversation_for(store)
    shopper(faq, {contract.NOTE_INTENT: "faq", contract.NOTE_OUTCOME: contract.FAQ_ANSWER})
    thanks = shopper(faq, {contract.NOTE_INTENT: "thank"})
    assert csat.bot_closed(faq, thanks, "thank", store)
    assert not csat.bot_closed(faq, thanks, "affirm", store)  # not a thanks or goodbye

    order = conversation_for(store)
    shopper(order, {contract.NOTE_INTENT: "order_status"})
    bye = shopper(order, {contract.NOTE_INTENT: "goodbye"})
    assert csat.bot_closed(order, bye, "goodbye", store)

    unanswered = conversation_for(store)
    shopper(unanswered, {contract.NOTE_INTENT: "greet"})
    shopper(unanswered, {contract.NOTE_OUTCOME: contract.UNKNOWN})
    thanks = shopper(unanswered, {contract.NOTE_INTENT: "thank"})
    assert not csat.bot_closed(unanswered, thanks, "thank", store)

    handed_off = conversation_for(store)
    shopper(handed_off, {contract.NOTE_INTENT: "order_status"})
    ticket = tickets.hand_off(handed_off, contract.SHOPPER_REQUEST, engine=store)
    tickets.close(ticket, "returned", store)
    thanks = shopper(handed_off, {contract.NOTE_INTENT: "thank"})
    assert not csat.bot_closed(handed_off, thanks, "thank", store)  # it had a ticket


# --- the gateway: asked when a ticket is resolved, answers taken before Rasa ----------------


class Desk:
    """A gateway without Rasa, an agent, and a handed-off conversation."""

    def __init__(self, store, language: str | None = None) -> None:
        self.store = store
        self.gateway = Gateway(RasaClient("http://127.0.0.1:9", timeout=2), store)
        name = f"agent-{os.urandom(3).hex()}"
        self.agent = staff.create_user(name, PASSWORD, store)
        self.cid = conversation_for(store, language=language)
        self.ticket = tickets.hand_off(self.cid, contract.SHOPPER_REQUEST, engine=store)

    def run(self, coroutine):
        return asyncio.run(coroutine)

    def resolve(self) -> None:
        self.run(self.gateway.resolve(self.ticket, self.agent))

    def says(self, text: str, payload: str | None = None) -> list[str]:
        conversation = conversations.get(self.cid, self.store)
        return [s.text for s in self.run(self.gateway.receive(conversation, text, payload))]

    def questions(self) -> list[conversations.Said]:
        return [
            m
            for m in conversations.messages(self.cid, engine=self.store)
            if m.sender == "bot" and any(b["payload"] == "/csat_1" for b in m.buttons)
        ]

    def survey(self) -> csat.Survey:
        (survey,) = csat.of_conversation(self.cid, self.store)
        return survey

    def notes(self) -> list[dict]:
        shopper = conversations.messages(self.cid, engine=self.store)
        return [m.extra for m in shopper if m.sender == "shopper"]


def test_a_resolved_ticket_asks_once_and_a_press_then_a_comment_are_kept(store):
    desk = Desk(store)
    tickets.assign(desk.ticket, desk.agent, store)
    desk.resolve()
    (question,) = desk.questions()
    assert question.text == replies.CSAT_QUESTION
    assert [(b["title"], b["payload"]) for b in question.buttons] == [
        (str(n), f"/csat_{n}") for n in range(1, 6)
    ]
    with pytest.raises(tickets.TicketError):  # resolving again cannot ask again
        desk.resolve()
    subject = csat.ticket_subject(desk.ticket)
    assert csat.ask(desk.cid, subject, desk.ticket, None, "telegram", "en", store) is None
    assert len(desk.questions()) == 1

    assert desk.says("4", "/csat_4") == [replies.CSAT_COMMENT_PROMPT]
    prompt = conversations.messages(desk.cid, engine=store)[-1]
    assert prompt.buttons == [{"title": "No thanks", "payload": csat.DONE_PAYLOAD}]
    assert desk.says("  Quick and friendly, thank you!  ") == [replies.CSAT_COMMENT_THANKS]
    assert desk.says("where is my order?") == [UNAVAILABLE]  # the next one is for the bot

    survey = desk.survey()
    assert survey.subject == f"ticket:{desk.ticket}" and survey.ticket_id == desk.ticket
    assert survey.agent_id == desk.agent.id and survey.status == csat.COMMENTED
    assert (survey.rating, survey.comment) == (4, "Quick and friendly, thank you!")
    assert (survey.channel, survey.language) == ("telegram", "en")
    assert [n.get(csat.NOTE) for n in desk.notes()] == [4, csat.COMMENT, None]


def test_the_agent_is_the_assignee_or_else_whoever_resolved(store):
    assigned = Desk(store)
    colleague = staff.create_user("colleague-of-desk", PASSWORD, store)
    tickets.assign(assigned.ticket, colleague, store)
    assigned.resolve()  # resolved by desk.agent, but the ticket was the colleague's
    assert assigned.survey().agent_id == colleague.id
    unassigned = Desk(store)
    unassigned.resolve()
    assert unassigned.survey().agent_id == unassigned.agent.id


def test_a_typed_digit_rates_and_no_thanks_closes_without_a_comment(store):
    desk = Desk(store)
    desk.resolve()
    assert desk.says(" 5 ") == [replies.CSAT_COMMENT_PROMPT]
    assert desk.says("No thanks", csat.DONE_PAYLOAD) == [replies.CSAT_DONE]
    assert desk.says("do you ship to Canada?") == [UNAVAILABLE]  # not a comment
    survey = desk.survey()
    assert (survey.status, survey.rating, survey.comment) == (csat.RATED, 5, None)
    assert [n.get(csat.NOTE) for n in desk.notes()] == [5, csat.NO_COMMENT, None]


def test_a_shopper_who_ignores_the_question_is_answered_by_the_bot_and_not_asked_again(store):
    desk = Desk(store)
    desk.resolve()
    assert desk.says("do you ship to Canada?") == [UNAVAILABLE]
    assert desk.says("3") == [UNAVAILABLE]  # a digit now is not the rating any more
    assert desk.survey().status == csat.ASKED
    assert len(desk.questions()) == 1


def test_the_comment_window_closes_after_csat_comment_minutes(store):
    desk = Desk(store)
    desk.resolve()
    desk.says("2", "/csat_2")
    rated_minutes_ago(store, desk.survey().id, desk.gateway.settings.csat_comment_minutes + 1)
    assert desk.says("it took too long") == [UNAVAILABLE]
    assert desk.survey().comment is None


def test_a_rating_button_pressed_again_is_thanked_and_changes_nothing(store):
    desk = Desk(store)
    desk.resolve()
    desk.says("1", "/csat_1")
    assert desk.says("5", "/csat_5") == [replies.CSAT_DONE]
    assert desk.survey().rating == 1
    assert desk.notes()[-1][csat.NOTE] == csat.AGAIN


def test_the_question_is_in_the_conversations_language(store):
    desk = Desk(store, language="tr")
    desk.resolve()
    (question,) = desk.questions()
    _ = texts("tr")
    assert question.text == _(replies.CSAT_QUESTION) != replies.CSAT_QUESTION
    assert question.language == "tr" and desk.survey().language == "tr"
    desk.says("4", "/csat_4")
    prompt = conversations.messages(desk.cid, engine=store)[-1]
    assert prompt.text == _(replies.CSAT_COMMENT_PROMPT)
    assert prompt.buttons[0]["title"] == _(replies.CSAT_NO_THANKS) == "Hayır, teşekkürler"


def test_every_language_has_the_survey_and_a_no_thanks_that_fits_whatsapp():
    for code in ("ar", "de", "es", "fr", "he", "it", "ko", "pt", "ru", "tr"):
        _ = texts(code)
        for text in (replies.CSAT_QUESTION, replies.CSAT_COMMENT_PROMPT, replies.CSAT_DONE):
            assert _(text) != text, (code, text)
        assert 0 < len(_(replies.CSAT_NO_THANKS)) <= 20, code  # a reply button's title


# --- the question on the channels ---------------------------------------------------------


def test_telegram_shows_the_five_numbers_in_one_row_and_long_titles_one_per_row():
    (row,) = keyboard(42, csat.rating_buttons()).inline_keyboard
    assert [key.text for key in row] == ["1", "2", "3", "4", "5"]
    assert [key.callback_data for key in row] == [f"b42.{n}" for n in range(5)]
    rows = keyboard(43, [{"title": "Yes", "payload": "/a"}, {"title": "No", "payload": "/b"}])
    assert [[key.text for key in row] for row in rows.inline_keyboard] == [["Yes"], ["No"]]


def test_whatsapp_shows_the_five_numbers_as_a_reply_list():
    said = conversations.Said(
        42, "bot", replies.CSAT_QUESTION, utcnow(), csat.rating_buttons(), {}, None, "en"
    )
    (body,) = WhatsAppChannel.bodies("447700900000", said, said.text, texts("en"))
    interactive = body["interactive"]
    assert interactive["type"] == "list" and interactive["body"]["text"] == said.text
    rows = interactive["action"]["sections"][0]["rows"]
    assert [(r["id"], r["title"]) for r in rows] == [(f"b42.{n}", str(n + 1)) for n in range(5)]

"""The satisfaction survey end to end, on the running stack (Rasa, actions, store): after an
agent resolves a ticket, and after a conversation the bot closed on its own, the shopper is
asked once "How did we do?" as an inline keyboard (Telegram, the real python-telegram-bot
client against a fake Bot API), a reply list (WhatsApp, a fake Graph API) or buttons (the
shopper API the widget uses), in their language, then for an optional comment."""

from __future__ import annotations

import itertools
import os
import time
import uuid

import httpx
import pytest
from sqlalchemy import select

from bot import csat, replies, staff
from bot.i18n import texts
from bot.store.db import get_engine, session_scope
from bot.store.models import Conversation, Ticket
from tests.conftest import PASSWORD, Agent, Shopper
from tests.e2e.test_whatsapp import post as post_whatsapp
from tests.e2e.test_whatsapp import text_message, webhook
from tests.e2e.two_channels import (
    Channels,
    telegram_messages,
    two_channels,
    whatsapp_messages,
    whatsapp_text,
)

pytestmark = pytest.mark.e2e

BOT_TOKEN = "246810:CSAT-token"
chats = itertools.count(9301)
numbers = (f"4477229{n:05d}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def channels(stack):
    with two_channels(stack, BOT_TOKEN) as both:
        yield both


class Staffer(Agent):
    """A logged-in agent who knows their own account."""

    def __init__(self, stack, gateway) -> None:
        name = f"agent-{os.urandom(3).hex()}"
        self.user = staff.create_user(name, PASSWORD, get_engine(stack.db_url))
        super().__init__(gateway, name)

    def resolve(self, ticket_id: int) -> httpx.Response:
        return self.post(f"/console/tickets/{ticket_id}/resolve")


def conversation_of(stack, channel_user_id: str) -> str:
    with session_scope(get_engine(stack.db_url)) as session:
        return session.scalars(
            select(Conversation.id).where(Conversation.channel_user_id == channel_user_id)
        ).one()


def ticket_of(stack, conversation_id: str) -> int:
    with session_scope(get_engine(stack.db_url)) as session:
        return session.scalars(
            select(Ticket.id).where(Ticket.conversation_id == conversation_id)
        ).one()


def survey_of(stack, conversation_id: str) -> csat.Survey:
    (survey,) = csat.of_conversation(conversation_id, get_engine(stack.db_url))
    return survey


def is_question(buttons: list[dict]) -> bool:
    return [b.get("payload") for b in buttons] == [f"/csat_{n}" for n in range(1, 6)]


# --- Telegram: an inline keyboard of five numbers --------------------------------------------


def test_telegram_a_resolved_ticket_is_rated_4_with_a_comment_and_asked_once(channels, stack):
    chat = next(chats)
    fake = channels.telegram
    fake.user_says(chat, "I want to talk to a human")
    assert "reference H-" in telegram_messages(channels, chat, 1)[0]["text"]
    cid = conversation_of(stack, str(chat))
    ticket = ticket_of(stack, cid)
    agent = Staffer(stack, channels.gateway)
    assert agent.post(f"/console/tickets/{ticket}/reply", text="Hi, Sam here.").status_code == 200
    assert agent.resolve(ticket).json()["ticket"]["status"] == "resolved"

    question = telegram_messages(channels, chat, 3)[2]
    assert question["text"] == replies.CSAT_QUESTION
    (row,) = question["reply_markup"]["inline_keyboard"]  # one row of five
    assert [key["text"] for key in row] == ["1", "2", "3", "4", "5"]
    fake.user_presses(chat, question, row[3]["callback_data"])
    prompt = telegram_messages(channels, chat, 4)[3]
    assert prompt["text"] == replies.CSAT_COMMENT_PROMPT
    keyboard = prompt["reply_markup"]["inline_keyboard"]
    assert [[key["text"] for key in row] for row in keyboard] == [["No thanks"]]
    fake.user_says(chat, "Sam sorted it out in two minutes. Lovely!")
    assert telegram_messages(channels, chat, 5)[4]["text"] == replies.CSAT_COMMENT_THANKS

    survey = survey_of(stack, cid)
    assert (survey.rating, survey.comment) == (4, "Sam sorted it out in two minutes. Lovely!")
    assert (survey.agent_id, survey.ticket_id) == (agent.user.id, ticket)
    assert (survey.subject, survey.channel, survey.language) == (
        f"ticket:{ticket}",
        "telegram",
        "en",
    )
    assert survey.status == csat.COMMENTED

    # A second resolve is refused, and the same subject cannot be asked again by any path.
    assert agent.resolve(ticket).status_code == 409
    engine = get_engine(stack.db_url)
    assert csat.ask(cid, f"ticket:{ticket}", ticket, None, "telegram", "en", engine) is None
    fake.user_says(chat, "thanks again")
    telegram_messages(channels, chat, 6)
    time.sleep(1)  # room for a question that should not come
    sent = fake.sent(chat)
    asked = [m for m in sent if m["text"] == replies.CSAT_QUESTION]
    assert len(asked) == 1


# --- WhatsApp: a reply list of five rows ------------------------------------------------------


def chosen(wa_id: str, kind: str, reply: dict) -> dict:
    """The shopper picks a row of a list (`list_reply`) or presses a button (`button_reply`)."""
    return {
        "from": wa_id,
        "id": f"wamid.in.{uuid.uuid4().hex}",
        "timestamp": "1700000000",
        "type": "interactive",
        "interactive": {"type": kind, kind: reply},
    }


def whatsapp_resolved(channels: Channels, stack) -> tuple[str, str, int, Staffer]:
    """A WhatsApp shopper handed off and resolved: (wa_id, conversation, ticket, agent)."""
    wa_id = next(numbers)
    post_whatsapp(channels.whatsapp, webhook([text_message(wa_id, "Can I talk to a person?")]))
    assert "reference H-" in whatsapp_text(whatsapp_messages(channels, wa_id, 1)[0])
    cid = conversation_of(stack, wa_id)
    ticket = ticket_of(stack, cid)
    agent = Staffer(stack, channels.gateway)
    assert agent.resolve(ticket).status_code == 200
    return wa_id, cid, ticket, agent


def test_whatsapp_the_question_is_a_list_and_its_fifth_row_rates_5(channels, stack):
    wa_id, cid, ticket, agent = whatsapp_resolved(channels, stack)
    question = whatsapp_messages(channels, wa_id, 2)[1]
    assert question["type"] == "interactive"
    interactive = question["interactive"]
    assert interactive["type"] == "list" and interactive["body"]["text"] == replies.CSAT_QUESTION
    rows = interactive["action"]["sections"][0]["rows"]
    assert [row["title"] for row in rows] == ["1", "2", "3", "4", "5"]

    post_whatsapp(channels.whatsapp, webhook([chosen(wa_id, "list_reply", rows[4])]))
    prompt = whatsapp_messages(channels, wa_id, 3)[2]
    assert whatsapp_text(prompt) == replies.CSAT_COMMENT_PROMPT
    (no_thanks,) = prompt["interactive"]["action"]["buttons"]
    assert no_thanks["reply"]["title"] == "No thanks"
    post_whatsapp(channels.whatsapp, webhook([chosen(wa_id, "button_reply", no_thanks["reply"])]))
    assert whatsapp_text(whatsapp_messages(channels, wa_id, 4)[3]) == replies.CSAT_DONE

    survey = survey_of(stack, cid)
    assert (survey.rating, survey.comment, survey.status) == (5, None, csat.RATED)
    assert (survey.agent_id, survey.ticket_id, survey.channel) == (
        agent.user.id,
        ticket,
        "whatsapp",
    )


def test_whatsapp_a_shopper_who_ignores_the_question_gets_answers_and_is_not_asked_again(
    channels, stack
):
    wa_id, cid, _ticket, _agent = whatsapp_resolved(channels, stack)
    whatsapp_messages(channels, wa_id, 2)  # the question
    post_whatsapp(channels.whatsapp, webhook([text_message(wa_id, "do you ship to Canada?")]))
    answer = whatsapp_messages(channels, wa_id, 3)[2]
    assert "We ship to Canada" in whatsapp_text(answer)
    before = len(whatsapp_messages(channels, wa_id, 4))  # "Did that help?"
    post_whatsapp(channels.whatsapp, webhook([text_message(wa_id, "thanks")]))
    whatsapp_messages(channels, wa_id, before + 1)
    time.sleep(1)  # room for a question that should not come
    sent = channels.whatsapp.sent_to(wa_id)
    asked = [m for m in sent if m["type"] == "interactive" and m["interactive"]["type"] == "list"]
    assert len(asked) == 1
    assert survey_of(stack, cid).status == csat.ASKED  # unanswered, and left alone


# --- the shopper API (the widget): a conversation the bot closed on its own -------------------


def say(shopper: Shopper, text: str, payload: str | None = None) -> list[dict]:
    body = {"text": text, **({"payload": payload} if payload else {})}
    response = shopper.http.post(f"/api/conversations/{shopper.key}/messages", json=body)
    response.raise_for_status()
    return response.json()["messages"]


def test_a_conversation_the_bot_closed_is_asked_once_after_its_thanks(stack):
    shopper = Shopper(stack)
    answer = say(shopper, "Do you ship to Canada?")
    assert "We ship to Canada" in answer[0]["text"]
    assert not any(is_question(m.get("buttons", [])) for m in answer)
    closing = say(shopper, "thanks")
    assert closing[-1]["text"] == replies.CSAT_QUESTION and is_question(closing[-1]["buttons"])
    assert len(closing) >= 2  # the bot's own reply first
    again = say(shopper, "thanks")
    assert again and not any(is_question(m.get("buttons", [])) for m in again)

    prompt = say(shopper, "5", "/csat_5")
    assert [m["text"] for m in prompt] == [replies.CSAT_COMMENT_PROMPT]
    survey = survey_of(stack, shopper.id)
    assert (survey.subject, survey.rating, survey.ticket_id, survey.agent_id) == (
        "bot",
        5,
        None,
        None,
    )
    assert (survey.channel, survey.language) == ("api", "en")


def test_no_survey_after_a_thanks_that_closes_nothing_answered(stack):
    shopper = Shopper(stack)
    say(shopper, "hello")
    assert not any(is_question(m.get("buttons", [])) for m in say(shopper, "thanks"))
    assert csat.of_conversation(shopper.id, get_engine(stack.db_url)) == []


# --- the shopper's language --------------------------------------------------------------------


def test_a_turkish_conversation_is_asked_in_turkish(stack):
    shopper = Shopper(stack)
    assert "H-" in " ".join(
        m["text"] for m in say(shopper, "Merhaba, bir yetkiliyle görüşmek istiyorum lütfen")
    )
    ticket = ticket_of(stack, shopper.id)
    agent = Staffer(stack, stack)
    shopper.receives(wait=0)
    assert agent.resolve(ticket).status_code == 200
    (question,) = shopper.receives(wait=10)
    _ = texts("tr")
    assert question["text"] == _(replies.CSAT_QUESTION) != replies.CSAT_QUESTION
    assert question["language"] == "tr" and is_question(question["buttons"])
    assert [m["text"] for m in say(shopper, "4")] == [_(replies.CSAT_COMMENT_PROMPT)]
    assert [m["text"] for m in say(shopper, "Çok hızlıydı, teşekkürler")] == [
        _(replies.CSAT_COMMENT_THANKS)
    ]
    survey = survey_of(stack, shopper.id)
    assert (survey.language, survey.rating, survey.comment) == (
        "tr",
        4,
        "Çok hızlıydı, teşekkürler",
    )

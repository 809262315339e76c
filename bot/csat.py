"""The satisfaction survey ("How did we do?"), in the store database.

A shopper is asked once per subject: a resolved ticket ("ticket:<id>") or a conversation the
bot closed on its own ("bot"). The unique (conversation, subject) pair is the guard, so two
gateways, or a resolve clicked twice, cannot ask twice. The answer is a rating (a 1-5 button,
or a typed digit as the shopper's first message after the question), then optionally a
comment: the shopper's next typed message within CSAT_COMMENT_MINUTES. A shopper who writes
something else has ignored the survey: it stays unanswered and is not asked again. Asking and
answering in the conversation is bot/gateway/relay.py's.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from bot import contract
from bot.clock import utcnow
from bot.intents import ORDER_TOPICS
from bot.settings import get_settings
from bot.store.db import get_engine, session_scope
from bot.store.models import CsatSurvey, Message, Ticket

ASKED, RATED, COMMENTED = "asked", "rated", "commented"
BOT = "bot"  # the subject of a conversation the bot closed on its own
RATINGS = range(1, 6)
MAX_COMMENT = 2000
# The question's buttons are /csat_1 ... /csat_5; the comment prompt's is "No thanks".
RATE_PAYLOAD = "/csat_{rating}"
DONE_PAYLOAD = "/csat_done"
_RATE = re.compile(r"/csat_([1-5])")
# A shopper's message note (conversations.annotate): what the message was to the survey.
NOTE = "csat"
NO_COMMENT = "no_comment"  # "No thanks"
COMMENT = "comment"
AGAIN = "again"  # a rating button of a survey already answered: thanked, nothing changed
# What the shopper said that closes a conversation the bot answered.
CLOSING_INTENTS = frozenset({"thank", "goodbye"})


@dataclass(frozen=True)
class Survey:
    id: int
    conversation_id: str
    subject: str
    ticket_id: int | None
    agent_id: int | None
    channel: str
    language: str | None
    status: str
    asked_at: datetime
    rating: int | None = None
    rated_at: datetime | None = None
    comment: str | None = None
    commented_at: datetime | None = None


@dataclass(frozen=True)
class Answer:
    """A shopper's message taken as an answer to the survey: `note` is what it was (a rating,
    COMMENT, NO_COMMENT or AGAIN), kept on the message."""

    survey_id: int | None
    note: int | str

    @property
    def rated(self) -> bool:
        return isinstance(self.note, int)


def ticket_subject(ticket_id: int) -> str:
    return f"ticket:{ticket_id}"


def rating_buttons() -> list[dict[str, str]]:
    """The question's buttons: the numbers themselves, the same in every language."""
    return [{"title": str(n), "payload": RATE_PAYLOAD.format(rating=n)} for n in RATINGS]


def _survey(row: CsatSurvey) -> Survey:
    return Survey(
        row.id,
        row.conversation_id,
        row.subject,
        row.ticket_id,
        row.agent_id,
        row.channel,
        row.language,
        row.status,
        row.asked_at,
        row.rating,
        row.rated_at,
        row.comment,
        row.commented_at,
    )


def ask(
    conversation_id: str,
    subject: str,
    ticket_id: int | None,
    agent_id: int | None,
    channel: str,
    language: str | None,
    engine: Engine | None = None,
) -> Survey | None:
    """Record that the shopper is asked about `subject` now; None if they were asked about it
    before (then nothing is asked)."""
    row = CsatSurvey(
        conversation_id=conversation_id,
        subject=subject,
        ticket_id=ticket_id,
        agent_id=agent_id,
        channel=channel,
        language=language,
        status=ASKED,
        asked_at=utcnow(),
    )
    try:
        with session_scope(engine or get_engine()) as session:
            session.add(row)
            session.flush()
            return _survey(row)
    except IntegrityError:
        return None


def get(survey_id: int, engine: Engine | None = None) -> Survey | None:
    with session_scope(engine or get_engine()) as session:
        row = session.get(CsatSurvey, survey_id)
        return _survey(row) if row else None


def of_conversation(conversation_id: str, engine: Engine | None = None) -> list[Survey]:
    """The conversation's surveys, oldest first."""
    with session_scope(engine or get_engine()) as session:
        rows = session.scalars(
            select(CsatSurvey)
            .where(CsatSurvey.conversation_id == conversation_id)
            .order_by(CsatSurvey.id)
        ).all()
        return [_survey(row) for row in rows]


def open_survey(
    conversation_id: str,
    engine: Engine | None = None,
    comment_minutes: float | None = None,
    now: datetime | None = None,
) -> Survey | None:
    """The conversation's survey that can still be answered: its latest one if it is asked,
    or rated less than `comment_minutes` (CSAT_COMMENT_MINUTES) ago without a comment."""
    if comment_minutes is None:
        comment_minutes = get_settings().csat_comment_minutes
    with session_scope(engine or get_engine()) as session:
        row = session.scalars(
            select(CsatSurvey)
            .where(CsatSurvey.conversation_id == conversation_id)
            .order_by(CsatSurvey.id.desc())
            .limit(1)
        ).first()
    if row is None or row.status == COMMENTED:
        return None
    if row.status == RATED:
        since = (now or utcnow()) - timedelta(minutes=comment_minutes)
        if row.rated_at is None or row.rated_at < since or comment_minutes <= 0:
            return None
    return _survey(row)


def rate(survey_id: int, rating: int, engine: Engine | None = None) -> bool:
    """The shopper's rating (1-5). False if the survey is not waiting for one (rated
    already, perhaps by the same press arriving twice)."""
    if rating not in RATINGS:
        raise ValueError(f"a rating is 1-5, not {rating!r}")
    with session_scope(engine or get_engine()) as session:
        done = session.execute(
            update(CsatSurvey)
            .where(CsatSurvey.id == survey_id, CsatSurvey.status == ASKED)
            .values(status=RATED, rating=rating, rated_at=utcnow())
        )
        return done.rowcount == 1


def comment(survey_id: int, text: str, engine: Engine | None = None) -> bool:
    """The shopper's comment after their rating (stripped, at most MAX_COMMENT characters).
    False if the survey is not rated-and-waiting (no rating yet, or commented already)."""
    text = text.strip()[:MAX_COMMENT].strip()
    if not text:
        raise ValueError("an empty comment")
    with session_scope(engine or get_engine()) as session:
        done = session.execute(
            update(CsatSurvey)
            .where(CsatSurvey.id == survey_id, CsatSurvey.status == RATED)
            .values(status=COMMENTED, comment=text, commented_at=utcnow())
        )
        return done.rowcount == 1


# --- reading a shopper's message as an answer ----------------------------------------------


def pressed_rating(payload: str | None) -> int | None:
    match = _RATE.fullmatch(payload or "")
    return int(match[1]) if match else None


def typed_rating(text: str) -> int | None:
    """A message that is just a digit 1-5 ("4", "4.", and in any script: "٤", "４")."""
    text = text.strip().rstrip(".!")
    if len(text) == 1 and text.isdecimal() and int(text) in RATINGS:
        return int(text)
    return None


def answer(
    conversation_id: str,
    message_id: int,
    text: str,
    payload: str | None,
    engine: Engine | None = None,
    comment_minutes: float | None = None,
) -> Answer | None:
    """Take the shopper's message `message_id` (stored already) as an answer to the survey:
    a pressed rating or "No thanks"; a typed digit as the first message after the question;
    a typed message right after the rating, within the comment window, as the comment. None
    when it is not an answer: it is for the bot."""
    engine = engine or get_engine()
    if payload == DONE_PAYLOAD:
        return Answer(None, NO_COMMENT)
    pressed = pressed_rating(payload)
    if payload and pressed is None:
        return None  # another button
    survey = open_survey(conversation_id, engine, comment_minutes)
    if pressed is not None:
        if survey is not None and survey.status == ASKED and rate(survey.id, pressed, engine):
            return Answer(survey.id, pressed)
        return Answer(survey.id if survey else None, AGAIN)
    if survey is None:
        return None
    if survey.status == ASKED:
        rating = typed_rating(text)
        taken = (
            rating is not None
            and _first_since_question(conversation_id, message_id, engine)
            and rate(survey.id, rating, engine)
        )
        return Answer(survey.id, rating) if taken else None
    taken = (
        bool(text.strip())
        and _previous_was_rating(conversation_id, message_id, engine)
        and comment(survey.id, text, engine)
    )
    return Answer(survey.id, COMMENT) if taken else None


def _first_since_question(conversation_id: str, message_id: int, engine: Engine) -> bool:
    """The shopper has not written since the question (the latest bot message with rating
    buttons) before this message: a digit now answers it."""
    mark = '%"' + RATE_PAYLOAD.format(rating=1).replace("_", "\\_") + '"%'
    with session_scope(engine) as session:
        question = session.scalar(
            select(Message.id)
            .where(
                Message.conversation_id == conversation_id,
                Message.sender == "bot",
                Message.id < message_id,
                Message.extra.like(mark, escape="\\"),
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
        if question is None:
            return False
        written = session.scalar(
            select(Message.id)
            .where(
                Message.conversation_id == conversation_id,
                Message.sender == "shopper",
                Message.id > question,
                Message.id < message_id,
            )
            .limit(1)
        )
    return written is None


def _previous_was_rating(conversation_id: str, message_id: int, engine: Engine) -> bool:
    """The shopper's message before this one was their rating: this one is "the next"."""
    with session_scope(engine) as session:
        extra = session.scalar(
            select(Message.extra)
            .where(
                Message.conversation_id == conversation_id,
                Message.sender == "shopper",
                Message.id < message_id,
            )
            .order_by(Message.id.desc())
            .limit(1)
        )
    note = json.loads(extra).get(NOTE) if extra else None
    return isinstance(note, int) and not isinstance(note, bool)


# --- when the bot closed a conversation on its own ------------------------------------------


def bot_closed(
    conversation_id: str, message_id: int, intent: str | None, engine: Engine | None = None
) -> bool:
    """The shopper's message `message_id` (read as `intent`) closes a conversation the bot
    handled alone: a thanks or goodbye, no ticket ever, and an answered turn before it (an
    order topic, or an FAQ answer)."""
    if intent not in CLOSING_INTENTS:
        return False
    with session_scope(engine or get_engine()) as session:
        ticket = session.scalar(
            select(Ticket.id).where(Ticket.conversation_id == conversation_id).limit(1)
        )
        if ticket is not None:
            return False
        extras = session.scalars(
            select(Message.extra).where(
                Message.conversation_id == conversation_id,
                Message.sender == "shopper",
                Message.id < message_id,
                Message.extra.is_not(None),
            )
        ).all()
    return any(_answered(json.loads(extra)) for extra in extras)


def _answered(notes: dict) -> bool:
    return (
        notes.get(contract.NOTE_INTENT) in ORDER_TOPICS
        or notes.get(contract.NOTE_OUTCOME) == contract.FAQ_ANSWER
    )

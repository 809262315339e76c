"""Shoppers teaching the FAQ, with staff in between. When a shopper picks one of the offered
entries and then says "Did that help? yes", the question they first typed is proposed as
another phrasing of that entry. Proposals wait for a staff member's approval on the Insights
page, so one shopper cannot teach the FAQ anything by themselves; approved ones are written to
the FAQ folder (bot/faq/learned.py) and searched at once."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from bot import contract, conversations
from bot.clock import utcnow
from bot.store.db import get_engine, session_scope
from bot.store.models import FaqPhrasing

PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
MIN_LENGTH, MAX_LENGTH = 4, 300
# A question with an email or a long number in it names a person or an order: not a phrasing.
PERSONAL = re.compile(r"\S+@\S+|\d{4,}")


@dataclass(frozen=True)
class Proposal:
    id: int
    entry_id: str
    text: str
    language: str | None
    confirmations: int
    created_at: datetime

    def as_json(self) -> dict:
        return {**asdict(self), "created_at": self.created_at.isoformat() + "Z"}


def question_behind(said: list[conversations.Said], faq_id: str) -> conversations.Said | None:
    """The shopper's own question that led, through one round of suggestions, to the entry
    they just confirmed: [question: suggested] [picked faq_id] [yes: feedback on faq_id]."""
    shoppers = [m for m in said if m.sender == "shopper"]
    confirmed = [
        i
        for i, m in enumerate(shoppers)
        if m.extra.get(contract.NOTE_FEEDBACK) == "yes"
        and m.extra.get(contract.NOTE_FAQ_ID) == faq_id
    ]
    if not confirmed or confirmed[-1] < 2:
        return None
    question, picked = shoppers[confirmed[-1] - 2], shoppers[confirmed[-1] - 1]
    payload = str(picked.extra.get("payload") or "")
    if not (payload.startswith("/faq_choice") and f'"{faq_id}"' in payload):
        return None
    if question.extra.get(contract.NOTE_OUTCOME) != contract.FAQ_SUGGESTED:
        return None
    return None if question.extra.get("payload") else question


def propose_from_feedback(
    conversation_id: str, faq_id: str, engine: Engine | None = None
) -> Proposal | None:
    """Called when a shopper said an answer helped; proposes their question if it qualifies."""
    engine = engine or get_engine()
    question = question_behind(conversations.messages(conversation_id, engine=engine), faq_id)
    if question is None:
        return None
    text = " ".join(question.text.split())
    if not MIN_LENGTH <= len(text) <= MAX_LENGTH or PERSONAL.search(text):
        return None
    with session_scope(engine) as session:
        found = session.execute(
            select(FaqPhrasing).where(FaqPhrasing.entry_id == faq_id, FaqPhrasing.text == text)
        ).scalar_one_or_none()
        if found is not None:
            if found.status == PENDING:
                found.confirmations += 1
            return _proposal(found)
        proposal = FaqPhrasing(
            entry_id=faq_id,
            text=text,
            language=question.language,
            confirmations=1,
            status=PENDING,
            created_at=utcnow(),
        )
        session.add(proposal)
        try:
            session.flush()
        except IntegrityError:  # the same proposal, at the same moment, from another shopper
            return None
        return _proposal(proposal)


def pending(engine: Engine | None = None, limit: int = 100) -> list[Proposal]:
    """Most confirmed first."""
    with session_scope(engine or get_engine()) as session:
        rows = session.execute(
            select(FaqPhrasing)
            .where(FaqPhrasing.status == PENDING)
            .order_by(FaqPhrasing.confirmations.desc(), FaqPhrasing.id)
            .limit(limit)
        ).scalars()
        return [_proposal(row) for row in rows]


def review(
    proposal_id: int, approve: bool, reviewer: str, engine: Engine | None = None
) -> Proposal | None:
    """Approve (written to the FAQ, searched at once) or reject; None if not pending."""
    from bot.faq.learned import add_phrasings

    with session_scope(engine or get_engine()) as session:
        row = session.get(FaqPhrasing, proposal_id)
        if row is None or row.status != PENDING:
            return None
        if approve:
            add_phrasings(row.entry_id, [row.text])  # raises if the entry is gone
        row.status = APPROVED if approve else REJECTED
        row.reviewed_by, row.reviewed_at = reviewer, utcnow()
        return _proposal(row)


def _proposal(row: FaqPhrasing) -> Proposal:
    return Proposal(row.id, row.entry_id, row.text, row.language, row.confirmations, row.created_at)

"""A store with known conversations for the insights report: bot-only ones, a handoff of
each reason, FAQ answers with feedback both ways, "don't know"s, other channels and days."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from bot.store.db import session_scope
from bot.store.models import Conversation, Message, Ticket

NOW = datetime(2026, 11, 20, 12, 0, 0)

# (channel, days ago, [(shopper text, notes)], handoff ticket or None)
# A ticket: (reason, minutes to first agent reply or None, minutes to close or None, status).
CONVERSATIONS = [
    ("web", 2, [("where is my order?", {"intent": "order_status"})], None),
    (
        "web",
        2,
        [
            (
                "do you ship to Canada?",
                {"intent": "faq", "outcome": "faq_answer", "faq_id": "international-shipping"},
            ),
            ("Yes", {"intent": "affirm", "feedback": "yes", "faq_id": "international-shipping"}),
        ],
        None,
    ),
    (
        "telegram",
        2,
        [
            (
                "how long do refunds take?",
                {"intent": "faq", "outcome": "faq_answer", "faq_id": "refund-times"},
            ),
            ("No", {"intent": "deny", "feedback": "no", "faq_id": "refund-times"}),
            ("talk to a person", {"intent": "human_handoff", "handoff": "shopper_request"}),
        ],
        ("shopper_request", 4, 10, "resolved"),
    ),
    (
        "web",
        0,
        [
            ("can you repair my torn jacket?", {"intent": "out_of_scope", "outcome": "unknown"}),
            (
                "do you fix broken zippers on coats?",
                {"intent": "faq", "outcome": "unknown", "handoff": "bot_failed"},
            ),
        ],
        ("bot_failed", 8, 20, "returned"),
    ),
    (
        "whatsapp",
        0,
        [
            ("this is ridiculous, my parcel is a week late", {"intent": "complaint"}),
            ("yes", {"intent": "affirm", "handoff": "complaint"}),
        ],
        ("complaint", None, None, "open"),
    ),
    (
        "web",
        0,
        [
            ("can I rent a tent for the weekend?", {"intent": "faq", "outcome": "faq_suggested"}),
            (
                "I want to talk to a human",
                {"intent": "human_handoff", "handoff": "shopper_request"},
            ),
        ],
        ("shopper_request", 2, None, "assigned"),
    ),
    (
        "web",
        0,
        [("do you hire out camping gear?", {"intent": "out_of_scope", "outcome": "unknown"})],
        None,
    ),
    ("api", 0, [], None),  # opened, nothing said: not counted
    ("web", 10, [("hello", {"intent": "greet"})], None),  # before the period
]


def seed_report_store(engine, now: datetime = NOW) -> None:
    """The conversations above, their days counted back from `now`."""
    with session_scope(engine) as session:
        for number, (channel, days_ago, said, handoff) in enumerate(CONVERSATIONS, 1):
            cid = f"report-conversation-{number:02d}"
            start = now - timedelta(days=days_ago, hours=1)
            session.add(
                Conversation(
                    id=cid, channel=channel, mode="bot", created_at=start, updated_at=start
                )
            )
            at = start
            for text, notes in said:
                at += timedelta(seconds=30)
                session.add(
                    Message(
                        conversation_id=cid,
                        sender="shopper",
                        text=text,
                        extra=json.dumps(notes),
                        created_at=at,
                    )
                )
                session.add(
                    Message(conversation_id=cid, sender="bot", text="(reply)", created_at=at)
                )
            if handoff is None:
                continue
            reason, reply_after, close_after, status = handoff
            minutes = timedelta(minutes=1)
            session.add(
                Ticket(
                    conversation_id=cid,
                    reason=reason,
                    status=status,
                    created_at=at,
                    first_reply_at=at + reply_after * minutes if reply_after else None,
                    closed_at=at + close_after * minutes if close_after else None,
                )
            )
            if reply_after:
                session.add(
                    Message(
                        conversation_id=cid,
                        sender="agent",
                        text="Hi, I can help.",
                        created_at=at + reply_after * minutes,
                    )
                )

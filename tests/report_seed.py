"""A store with known conversations for the insights report: bot-only ones, a handoff of
each reason, FAQ answers with feedback both ways, "don't know"s, other channels and days; and
"How did we do?" surveys (CSAT) on them and on handoffs begun before the period."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlalchemy import func, select

from bot.store.db import session_scope
from bot.store.models import Conversation, CsatSurvey, Message, StaffUser, Ticket

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


# Staff who answered handoffs (no usable password: they never log in).
AGENTS = ("ana", "ben")

# Handoffs from conversations begun 8 days back, before the period (so none of the figures of
# the conversations above change), whose tickets were opened and resolved within it:
# (channel, language, days ago the ticket opened, reason, agent, what the shopper said).
EARLIER_HANDOFFS = [
    ("whatsapp", "tr", 6, "shopper_request", "ben", "bir temsilciyle görüşmek istiyorum"),
    ("web", "es", 6, "complaint", "ben", "mi pedido llegó roto, quiero hablar con alguien"),
    ("telegram", "tr", 5, "verification_failed", "ana", "siparişimi doğrulayamıyorum"),
]

# "How did we do?": (conversation, subject "bot" or the conversation's ticket, its agent,
# language, rating or None (never answered), comment or None). Asked a minute after the
# conversation's last message or its ticket's close, rated a minute later, commented a minute
# after that.
SURVEYS = [
    ("report-conversation-01", "bot", None, "en", 5, "Quick and clear, thanks!"),
    ("report-conversation-02", "bot", None, "en", 4, None),
    ("report-conversation-03", "ticket", "ana", "en", 2, "Took too long to get an answer."),
    ("report-conversation-04", "bot", None, "en", None, None),  # after the hand-back; ignored
    ("report-earlier-1", "ticket", "ben", "tr", 5, "Çok hızlı yardım ettiniz, teşekkürler!"),
    ("report-earlier-2", "ticket", "ben", "es", 4, None),
    ("report-earlier-3", "ticket", "ana", "tr", 3, None),
    ("report-conversation-09", "bot", None, "en", 1, "Useless."),  # before the period
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
        session.flush()
        _seed_csat(session, now)


def _seed_csat(session, now: datetime) -> None:
    """The earlier handoffs, their agents, and the surveys."""
    agents = {name: StaffUser(username=name, password_hash="!", created_at=now) for name in AGENTS}
    session.add_all(agents.values())
    session.flush()
    minute = timedelta(minutes=1)
    for number, (channel, language, days_ago, reason, agent, text) in enumerate(
        EARLIER_HANDOFFS, 1
    ):
        cid = f"report-earlier-{number}"
        start = now - timedelta(days=8, hours=1)
        session.add(
            Conversation(
                id=cid,
                channel=channel,
                mode="bot",
                created_at=start,
                updated_at=start,
                language=language,
            )
        )
        session.flush()
        at = now - timedelta(days=days_ago, hours=1)
        session.add(
            Message(
                conversation_id=cid,
                sender="shopper",
                text=text,
                extra=json.dumps({"intent": "human_handoff", "handoff": reason}),
                created_at=at,
                language=language,
            )
        )
        session.add(Message(conversation_id=cid, sender="bot", text="(reply)", created_at=at))
        session.add(
            Ticket(
                conversation_id=cid,
                reason=reason,
                status="resolved",
                assignee_id=agents[agent].id,
                created_at=at,
                assigned_at=at + minute,
                first_reply_at=at + 3 * minute,
                closed_at=at + 15 * minute,
            )
        )
        session.add(
            Message(
                conversation_id=cid,
                sender="agent",
                text="Hi, I can help.",
                agent_id=agents[agent].id,
                created_at=at + 3 * minute,
            )
        )
    session.flush()
    for cid, subject, agent, language, rating, comment in SURVEYS:
        conversation = session.get(Conversation, cid)
        ticket = session.scalars(select(Ticket).where(Ticket.conversation_id == cid)).first()
        last = session.scalar(
            select(func.max(Message.created_at)).where(Message.conversation_id == cid)
        )
        closed = ticket.closed_at if ticket and ticket.closed_at else last
        asked = max(last, closed) + minute
        session.add(
            CsatSurvey(
                conversation_id=cid,
                subject=f"ticket:{ticket.id}" if subject == "ticket" else "bot",
                ticket_id=ticket.id if subject == "ticket" else None,
                agent_id=agents[agent].id if agent else None,
                channel=conversation.channel,
                language=language,
                status="commented" if comment else "rated" if rating else "asked",
                asked_at=asked,
                rating=rating,
                rated_at=asked + minute if rating else None,
                comment=comment,
                commented_at=asked + 2 * minute if comment else None,
            )
        )

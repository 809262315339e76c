"""The insights report: what the assistant solved, where it handed off, what shoppers thought
of its answers, and what it could not answer. Read from the transcript and ticket tables for
the conversations started in a period (UTC), optionally on one channel.

A conversation counts once a shopper has said something in it; it is contained when it never
got a handoff ticket. Intents, FAQ answers, "don't know"s and feedback are the notes the
gateway keeps on each shopper message (`bot.contract.read_reply`).

Two sections are read by their own dates instead: CSAT from the surveys *asked* in the period
(a ticket opened last week and resolved in this one is rated in this one), and the ticket
trends from the tickets *opened* in the period, per ISO week (the team's workload).
"""

from __future__ import annotations

import json
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from bot import contract, csat
from bot.clock import utcnow
from bot.contract import NOTE_FAQ_ID, NOTE_FEEDBACK, NOTE_HANDOFF, NOTE_INTENT, NOTE_OUTCOME
from bot.faq.gaps import MAX_GROUPED, group_gaps_by_language
from bot.faq.service import search as faq_search
from bot.intents import ORDER_TOPICS, SMALL_TALK
from bot.store.db import get_engine, session_scope
from bot.store.models import (
    Conversation,
    CsatSurvey,
    Message,
    OrderSubscription,
    OrderUpdate,
    StaffUser,
    Ticket,
)

# Messages that steer the conversation rather than ask something an FAQ entry could answer.
NOT_QUESTIONS = SMALL_TALK | {"human_handoff", "inform", "faq_choice"}
SINCE_RE = re.compile(r"^(\d+)([hdw])$")
# "Where is my order?": asked again after an update, the update did not do its job.
WHERE_IS_MY_ORDER = {"order_status", "shipping_eta"}
# A conversation from before the language was stored (migration 0002).
UNKNOWN_LANGUAGE = "unknown"
# A CSAT rating of 4 or 5 is a satisfied shopper (the usual CSAT score).
SATISFIED_FROM = 4
# A handoff survey whose ticket no staff member answered (resolved without a reply).
NO_AGENT = "(no agent)"


@dataclass(frozen=True)
class Period:
    since: datetime
    until: datetime
    channel: str | None = None


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """ "7d", "24h", "2w" back from now, or a date ("2026-11-01")."""
    now = now or utcnow()
    if match := SINCE_RE.match(text.strip()):
        amount, unit = int(match.group(1)), match.group(2)
        return now - timedelta(**{{"h": "hours", "d": "days", "w": "weeks"}[unit]: amount})
    try:
        return datetime.fromisoformat(text.strip()).replace(tzinfo=None)
    except ValueError:
        raise ValueError(
            f"--since takes 7d, 24h, 2w or a date like 2026-11-01, not {text!r}"
        ) from None


def _minutes(deltas: list[timedelta]) -> dict[str, Any]:
    values = [d.total_seconds() / 60 for d in deltas]
    return {
        "median_minutes": round(statistics.median(values), 1) if values else None,
        "tickets": len(values),
    }


def _load(period: Period, engine: Engine):
    with session_scope(engine) as session:
        query = select(Conversation).where(
            Conversation.created_at >= period.since, Conversation.created_at < period.until
        )
        if period.channel:
            query = query.where(Conversation.channel == period.channel)
        found = {c.id: c for c in session.scalars(query)}
        messages: dict[str, list[Message]] = defaultdict(list)
        tickets: dict[str, list[Ticket]] = defaultdict(list)
        ids = list(found)
        for start in range(0, len(ids), 500):  # keep IN lists short for SQLite
            chunk = ids[start : start + 500]
            for message in session.scalars(
                select(Message).where(Message.conversation_id.in_(chunk)).order_by(Message.id)
            ):
                messages[message.conversation_id].append(message)
            for ticket in session.scalars(
                select(Ticket).where(Ticket.conversation_id.in_(chunk)).order_by(Ticket.id)
            ):
                tickets[ticket.conversation_id].append(ticket)
    return found, messages, tickets


def notes_of(message: Message) -> dict[str, Any]:
    return json.loads(message.extra) if message.extra else {}


def unanswered(notes: dict[str, Any]) -> bool:
    """A question the bot had no answer for: not an order topic (answered from the order),
    not an FAQ answer, not a yes/no/hello/"a person please"."""
    intent = notes.get(NOTE_INTENT)
    return (
        notes.get(NOTE_OUTCOME) != contract.FAQ_ANSWER
        and intent not in NOT_QUESTIONS
        and intent not in ORDER_TOPICS
    )


def days_between(since: datetime, until: datetime) -> list[str]:
    """Every day of the period, so quiet days show as zero rather than vanish from a chart."""
    first, last = since.date(), (until - timedelta(microseconds=1)).date()
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


def answered_now_by(question: str) -> str | None:
    """The FAQ entry that would answer the question today (an entry added since), if any."""
    decision = faq_search(question)
    return decision.best.entry.id if decision.kind == "answer" else None


def build_report(period: Period, engine: Engine | None = None, gaps: bool = True) -> dict:
    engine = engine or get_engine()
    found, messages, tickets = _load(period, engine)
    talked = [cid for cid in found if any(m.sender == "shopper" for m in messages[cid])]
    all_tickets = [t for cid in talked for t in tickets[cid]]
    contained = [cid for cid in talked if not tickets[cid]]
    senders = Counter(m.sender for cid in talked for m in messages[cid])

    intents: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    feedback: dict[str, Counter[str]] = defaultdict(Counter)
    feedback_by_intent: dict[str, Counter[str]] = defaultdict(Counter)
    unknown = 0
    unknown_by_language: Counter[str] = Counter()
    gap_texts: list[tuple[str, str]] = []  # (message, its language)
    for cid in talked:
        language = found[cid].language or UNKNOWN_LANGUAGE
        asked_by_faq: dict[str, str] = {}  # faq_id -> intent of the question it answered
        pending: tuple[str, str] | None = None  # unanswered, should the bot give up later
        for message in messages[cid]:
            if message.sender != "shopper":
                continue
            notes = notes_of(message)
            if csat.NOTE in notes:  # a rating or its comment (bot/csat.py): not a question
                continue
            intent = notes.get(NOTE_INTENT)
            if intent and not contract.is_internal_intent(intent):
                intents[intent] += 1
            if notes.get(NOTE_OUTCOME) == contract.FAQ_ANSWER:
                answered[notes[NOTE_FAQ_ID]] += 1
                asked_by_faq[notes[NOTE_FAQ_ID]] = intent or "unknown"
            if notes.get(NOTE_FEEDBACK) in contract.FEEDBACK:
                faq_id = notes.get(NOTE_FAQ_ID) or "?"
                feedback[faq_id][notes[NOTE_FEEDBACK]] += 1
                feedback_by_intent[asked_by_faq.get(faq_id, "unknown")][notes[NOTE_FEEDBACK]] += 1
            unknown += notes.get(NOTE_OUTCOME) == contract.UNKNOWN
            unknown_by_language[language] += notes.get(NOTE_OUTCOME) == contract.UNKNOWN
            if notes.get(NOTE_OUTCOME) == contract.UNKNOWN or notes.get(NOTE_HANDOFF):
                # What the shopper wanted when the bot did not know or gave up: this message,
                # or the question before "talk to a person".
                gap = (message.text, message.language or language) if unanswered(notes) else pending
                if gap:
                    gap_texts.append(gap)
                pending = None
            elif unanswered(notes):
                pending = (message.text, message.language or language)

    waits = [t.first_reply_at - t.created_at for t in all_tickets if t.first_reply_at]
    closed = [t.closed_at - t.created_at for t in all_tickets if t.closed_at]
    by_language: dict[str, Counter[str]] = defaultdict(Counter)
    for cid in talked:
        counts = by_language[found[cid].language or UNKNOWN_LANGUAGE]
        counts["conversations"] += 1
        counts["handed_off" if tickets[cid] else "contained"] += 1
    daily: dict[str, Counter[str]] = defaultdict(Counter)
    for cid in talked:
        day = found[cid].created_at.date().isoformat()
        daily[day]["conversations"] += 1
        daily[day]["handed_off" if tickets[cid] else "contained"] += 1

    return {
        "period": {
            "since": period.since.isoformat(timespec="seconds") + "Z",
            "until": period.until.isoformat(timespec="seconds") + "Z",
            "channel": period.channel or "all",
        },
        "conversations": len(talked),
        "messages": {s: senders[s] for s in ("shopper", "bot", "agent")},
        "contained": len(contained),
        "containment_rate": round(len(contained) / len(talked), 3) if talked else None,
        "handoffs": {
            "total": len(all_tickets),
            "by_reason": dict(Counter(t.reason for t in all_tickets).most_common()),
        },
        "first_reply_wait": _minutes(waits),
        "resolution_time": _minutes(closed),
        "intents": dict(intents.most_common()),
        "faq_answers": [
            {
                "faq_id": faq_id,
                "answered": answered[faq_id],
                "helped": feedback[faq_id]["yes"],
                "did_not_help": feedback[faq_id]["no"],
            }
            for faq_id in sorted(set(answered) | set(feedback), key=lambda f: (-answered[f], f))
        ],
        "feedback_by_intent": {
            intent: {"helped": c["yes"], "did_not_help": c["no"]}
            for intent, c in sorted(feedback_by_intent.items())
        },
        "dont_know_answers": unknown,
        "languages": [
            {
                "language": code,
                "conversations": c["conversations"],
                "contained": c["contained"],
                "containment_rate": round(c["contained"] / c["conversations"], 3),
                "dont_know_answers": unknown_by_language[code],
            }
            for code, c in sorted(by_language.items(), key=lambda i: (-i[1]["conversations"], i[0]))
        ],
        "daily": [
            {"date": day, "conversations": 0, "contained": 0, "handed_off": 0, **daily[day]}
            for day in days_between(period.since, period.until)
        ],
        "faq_gaps": [
            {
                "size": g.size,
                "language": g.language,
                "question": g.question,
                "examples": list(g.examples),
                "answered_now_by": answered_now_by(g.question),
            }
            for g in (group_gaps_by_language(gap_texts) if gaps else [])
        ],
        "gap_messages": len(gap_texts),
        "gap_messages_grouped": min(len(gap_texts), MAX_GROUPED) if gaps else 0,
        "order_updates": order_update_figures(period, engine),
        "csat": csat_report(period, engine),
        "ticket_trends": ticket_trends(period, engine),
    }


def order_update_figures(period: Period, engine: Engine) -> dict[str, Any]:
    """Proactive order updates that became due in the period: sent by kind and channel (and
    how: free text, or a WhatsApp template), failed deliveries, still waiting; and how many
    shoppers who got one still asked "where is my order?" afterwards."""
    with session_scope(engine) as session:
        query = (
            select(
                OrderUpdate.kind,
                OrderUpdate.channel,
                OrderUpdate.status,
                OrderUpdate.via,
                OrderUpdate.sent_at,
                OrderSubscription.conversation_id,
            )
            .join(OrderSubscription, OrderSubscription.id == OrderUpdate.subscription_id)
            .where(
                OrderUpdate.created_at >= period.since,
                OrderUpdate.created_at < period.until,
                OrderUpdate.status.in_(("due", "sending", "sent", "failed")),
            )
        )
        if period.channel:
            query = query.where(OrderUpdate.channel == period.channel)
        rows = session.execute(query).all()
        first_update: dict[str, datetime] = {}
        for row in rows:
            if row.status == "sent" and row.sent_at is not None:
                seen = first_update.get(row.conversation_id)
                first_update[row.conversation_id] = min(seen or row.sent_at, row.sent_at)
        asked_again = set()
        for cid, sent_at in first_update.items():
            for message in session.scalars(
                select(Message).where(
                    Message.conversation_id == cid,
                    Message.sender == "shopper",
                    Message.created_at >= sent_at,
                )
            ):
                if notes_of(message).get(NOTE_INTENT) in WHERE_IS_MY_ORDER:
                    asked_again.add(cid)
                    break
    sent: dict[str, Counter[str]] = defaultdict(Counter)
    failed: Counter[str] = Counter()
    via: Counter[str] = Counter()
    waiting = 0
    for row in rows:
        if row.status == "sent":
            sent[row.kind][row.channel] += 1
            via[row.via or "text"] += 1
        elif row.status == "failed":
            failed[row.channel] += 1
        else:
            waiting += 1
    told = len(first_update)
    return {
        "sent": sum(via.values()),
        "sent_by_kind": {kind: dict(sorted(c.items())) for kind, c in sorted(sent.items())},
        "sent_as": dict(sorted(via.items())),
        "failed": sum(failed.values()),
        "failed_by_channel": dict(sorted(failed.items())),
        "waiting": waiting,
        "shoppers_updated": told,
        "asked_where_after": len(asked_again),
        "asked_where_after_rate": round(len(asked_again) / told, 3) if told else None,
    }


def csat_figures(ratings: list[int | None]) -> dict[str, Any]:
    """Surveys asked, how many were rated, and of those the share of 4-5 and the average.
    `ratings` has one entry per survey asked: its rating, or None if never answered."""
    rated = [r for r in ratings if r is not None]
    satisfied = sum(r >= SATISFIED_FROM for r in rated)
    return {
        "asked": len(ratings),
        "rated": len(rated),
        "response_rate": round(len(rated) / len(ratings), 3) if ratings else None,
        "satisfied": satisfied,
        "satisfied_rate": round(satisfied / len(rated), 3) if rated else None,
        "average_rating": round(sum(rated) / len(rated), 3) if rated else None,
    }


def _grouped(pairs: list[tuple[str, int | None]], name: str) -> list[dict[str, Any]]:
    """CSAT figures per agent, channel or language (`pairs`: that value and a survey's rating),
    most surveys first."""
    groups: dict[str, list[int | None]] = defaultdict(list)
    for value, rating in pairs:
        groups[value].append(rating)
    ordered = sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))
    return [{name: value, **csat_figures(ratings)} for value, ratings in ordered]


@dataclass(frozen=True)
class _Survey:
    conversation_id: str
    subject: str
    ticket_id: int | None
    agent: str | None
    channel: str
    language: str
    asked_at: datetime
    rating: int | None
    comment: str | None
    answered_at: datetime | None


def csat_report(period: Period, engine: Engine) -> dict[str, Any]:
    """ "How did we do?" for the surveys asked in the period: overall, the bot alone ("bot")
    and handoffs ("ticket:<id>"), per agent, channel, language and day, and the comments."""
    with session_scope(engine) as session:
        query = (
            select(CsatSurvey, StaffUser.username)
            .outerjoin(StaffUser, StaffUser.id == CsatSurvey.agent_id)
            .where(CsatSurvey.asked_at >= period.since, CsatSurvey.asked_at < period.until)
            .order_by(CsatSurvey.id)
        )
        if period.channel:
            query = query.where(CsatSurvey.channel == period.channel)
        surveys = [
            _Survey(
                conversation_id=s.conversation_id,
                subject=s.subject,
                ticket_id=s.ticket_id,
                agent=username,
                channel=s.channel,
                language=s.language or UNKNOWN_LANGUAGE,
                asked_at=s.asked_at,
                rating=s.rating,
                comment=(s.comment or "").strip() or None,
                answered_at=s.commented_at or s.rated_at,
            )
            for s, username in session.execute(query)
        ]
    bot = [s for s in surveys if s.subject == "bot"]
    handoffs = [s for s in surveys if s.subject != "bot"]
    by_day: dict[str, list[int | None]] = defaultdict(list)
    for survey in surveys:
        by_day[survey.asked_at.date().isoformat()].append(survey.rating)
    commented = sorted(
        (s for s in surveys if s.comment),
        key=lambda s: (s.answered_at or s.asked_at, s.conversation_id),
        reverse=True,
    )
    return {
        "overall": csat_figures([s.rating for s in surveys]),
        "bot": csat_figures([s.rating for s in bot]),
        "handoffs": csat_figures([s.rating for s in handoffs]),
        "by_agent": _grouped([(s.agent or NO_AGENT, s.rating) for s in handoffs], "agent"),
        "by_channel": _grouped([(s.channel, s.rating) for s in surveys], "channel"),
        "by_language": _grouped([(s.language, s.rating) for s in surveys], "language"),
        "daily": [
            {"date": day, **csat_figures(by_day[day])}
            for day in days_between(period.since, period.until)
        ],
        "comments": [
            {
                "rating": s.rating,
                "comment": s.comment,
                "channel": s.channel,
                "language": s.language,
                "agent": s.agent,
                "at": (s.answered_at or s.asked_at).isoformat(timespec="seconds") + "Z",
                "conversation_id": s.conversation_id,
                "ticket_id": s.ticket_id,
            }
            for s in commented
        ],
    }


def weeks_between(since: datetime, until: datetime) -> list[date]:
    """The Monday of every ISO week the period touches, so a quiet week shows as zero."""
    first = since.date() - timedelta(days=since.weekday())
    last = (until - timedelta(microseconds=1)).date()
    return [first + timedelta(weeks=n) for n in range((last - first).days // 7 + 1)]


def iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def ticket_trends(period: Period, engine: Engine) -> dict[str, Any]:
    """Tickets opened in the period per reason per ISO week ("2026-W47"), every week of the
    period and every reason seen in it filled in; reasons with the most tickets first."""
    with session_scope(engine) as session:
        query = select(Ticket.reason, Ticket.created_at).where(
            Ticket.created_at >= period.since, Ticket.created_at < period.until
        )
        if period.channel:  # a ticket's channel is its conversation's
            query = query.join(Conversation, Conversation.id == Ticket.conversation_id).where(
                Conversation.channel == period.channel
            )
        rows = session.execute(query).all()
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    totals: Counter[str] = Counter()
    for reason, created_at in rows:
        counts[iso_week(created_at.date())][reason] += 1
        totals[reason] += 1
    reasons = sorted(totals, key=lambda r: (-totals[r], r))
    weeks = []
    for monday in weeks_between(period.since, period.until):
        week = iso_week(monday)
        weeks.append(
            {
                "week": week,
                "starts": monday.isoformat(),
                "tickets": sum(counts[week].values()),
                "by_reason": {reason: counts[week][reason] for reason in reasons},
            }
        )
    return {"reasons": reasons, "weeks": weeks}

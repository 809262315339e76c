"""A shopper's data, on request and on a schedule: find everything about a shopper by email,
phone number, Telegram chat or conversation; export it or erase it; and purge whatever is older
than `RETENTION_DAYS`. Both databases are covered: the store (conversations, messages,
tickets, verification rows; and the bundled shop's customers and orders) and Rasa's tracker
store (every event of those conversations, proof emails and new addresses included).

Each export, erasure and purge leaves one audit row naming the shopper only by a hash.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Engine,
    bindparam,
    create_engine,
    delete,
    func,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session

from bot import conversations
from bot.clock import utcnow
from bot.settings import get_settings
from bot.store.db import get_engine, session_scope
from bot.store.models import (
    ChannelReceipt,
    Conversation,
    CsatSurvey,
    Customer,
    Message,
    Order,
    OrderSubscription,
    OrderUpdate,
    PrivacyAudit,
    StaffSession,
    Ticket,
    TicketEvent,
    TicketNote,
    VerificationFailure,
)
from bot.verify_attempts import hashed_sender, lock_window

KINDS = ("email", "phone", "telegram", "conversation")
ERASED = "[erased]"
CHUNK = 500  # ids per statement: bounded transactions, and under every database's limits


class PrivacyError(ValueError):
    """A request that cannot be carried out as asked (an unknown kind, an empty value)."""


@dataclass(frozen=True)
class Subject:
    """Who a request is about: `kind` is one of KINDS."""

    kind: str
    value: str

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise PrivacyError(f"find a shopper by {', '.join(KINDS)}")
        if not self.normalised:
            raise PrivacyError(f"that is not a {self.kind}")

    @property
    def normalised(self) -> str:
        value = self.value.strip()
        if self.kind == "email":
            return value.lower() if re.fullmatch(r"[^@\s]+@[^@\s]+", value) else ""
        if self.kind == "phone":  # WhatsApp names a number by its digits: "+44 7700 900123"
            digits = re.sub(r"\D", "", value)
            return digits if len(digits) >= 6 else ""
        return value

    @property
    def hashed(self) -> str:
        return hashlib.sha256(f"{self.kind}:{self.normalised}".encode()).hexdigest()


# --- finding ---------------------------------------------------------------------------------


def conversation_ids(subject: Subject, engine: Engine) -> list[str]:
    """The stored ids of every conversation about the subject. A conversation on a channel
    with users (Telegram, WhatsApp) brings along that user's other conversations."""
    value = subject.normalised
    with session_scope(engine) as session:
        if subject.kind == "conversation":  # a shopper's key, or the stored id staff see
            found = [
                cid
                for cid in (conversations.stored_id(value), value)
                if session.get(Conversation, cid) is not None
            ]
        elif subject.kind in ("phone", "telegram"):
            channel = "whatsapp" if subject.kind == "phone" else "telegram"
            found = session.scalars(
                select(Conversation.id).where(
                    Conversation.channel == channel, Conversation.channel_user_id == value
                )
            ).all()
        else:
            found = _conversations_mentioning(session, value)
        users = session.execute(
            select(Conversation.channel, Conversation.channel_user_id).where(
                Conversation.id.in_(found), Conversation.channel_user_id.is_not(None)
            )
        ).all()
        for channel, user in set(users):
            found += session.scalars(
                select(Conversation.id).where(
                    Conversation.channel == channel, Conversation.channel_user_id == user
                )
            ).all()
    return sorted(set(found))


def _conversations_mentioning(session: Session, email: str) -> list[str]:
    """Where the shopper wrote the email, or a ticket is about one of its orders."""
    written = session.scalars(
        select(Message.conversation_id)
        .where(func.lower(Message.text).contains(email, autoescape=True))
        .distinct()
    ).all()
    ticketed = session.scalars(
        select(Ticket.conversation_id)
        .join(Order, Order.number == Ticket.order_number)
        .join(Customer, Customer.id == Order.customer_id)
        .where(func.lower(Customer.email) == email)
    ).all()
    return list({*written, *ticketed})


def _sender_keys(session: Session, ids: Iterable[str]) -> set[str]:
    """The verification-failure keys these conversations' senders were counted under."""
    keys = set()
    for cid, channel, user in session.execute(
        select(Conversation.id, Conversation.channel, Conversation.channel_user_id).where(
            Conversation.id.in_(list(ids))
        )
    ):
        keys.add(hashed_sender(f"{channel}:{user}" if user else f"conversation:{cid}"))
    return keys


# --- export ------------------------------------------------------------------------------------


def export(subject: Subject, engine: Engine, tracker_url: str, actor: str) -> dict[str, Any]:
    """Everything kept about the subject, as one JSON-ready document."""
    ids = conversation_ids(subject, engine)
    with session_scope(engine) as session:
        rows = session.scalars(
            select(Conversation).where(Conversation.id.in_(ids)).order_by(Conversation.created_at)
        ).all()
        found = []
        for conversation in rows:
            found.append(
                {
                    "channel": conversation.channel,
                    "started": _time(conversation.created_at),
                    "language": conversation.language,
                    "messages": [
                        {"time": _time(m.created_at), "from": m.sender, "text": m.text}
                        for m in conversation.messages
                    ],
                    "tickets": [
                        {
                            "reason": t.reason,
                            "order": t.order_number,
                            "status": t.status,
                            "opened": _time(t.created_at),
                            "closed": _time(t.closed_at),
                        }
                        for t in session.scalars(
                            select(Ticket).where(Ticket.conversation_id == conversation.id)
                        )
                    ],
                    "order_updates": [
                        {
                            "order": s.order_number,
                            "since": _time(s.created_at),
                            "stopped": _time(s.stopped_at),
                        }
                        for s in session.scalars(
                            select(OrderSubscription).where(
                                OrderSubscription.conversation_id == conversation.id
                            )
                        )
                    ],
                }
            )
        orders = _orders_of(session, subject)
        document = {
            "about": {"kind": subject.kind, "value": subject.value},
            "exported": _time(utcnow()),
            "conversations": found,
            "orders": [
                {"number": o.number, "status": o.status, "placed": _time(o.placed_at)}
                for o in orders
            ],
            "assistant_memory": _tracker_events(tracker_url, ids),
        }
        _audit(session, actor, "export", subject, {"conversations": len(found)})
    return document


def _orders_of(session: Session, subject: Subject) -> list[Order]:
    if subject.kind != "email":
        return []
    return list(
        session.scalars(
            select(Order)
            .join(Customer, Customer.id == Order.customer_id)
            .where(func.lower(Customer.email) == subject.normalised)
        )
    )


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() + "Z" if moment else None


# --- erase -------------------------------------------------------------------------------------


def erase(subject: Subject, engine: Engine, tracker_url: str, actor: str) -> dict[str, int]:
    """Delete the subject's conversations with every message, ticket and verification row, and
    their events in Rasa's tracker store; for an email, the bundled shop's customer record and
    delivery addresses are anonymised too (a shop on another platform erases there)."""
    ids = conversation_ids(subject, engine)
    counts = {"tracker_events": _delete_tracker_events(tracker_url, ids)}
    with session_scope(engine) as session:
        keys = _sender_keys(session, ids)
        counts.update(_delete_conversations(session, ids))
        counts["verification_failures"] = 0
        for chunk in _chunks(sorted(keys)):
            counts["verification_failures"] += session.execute(
                delete(VerificationFailure).where(VerificationFailure.sender_key.in_(chunk))
            ).rowcount
        counts["customers"] = 0
        if subject.kind == "email":
            counts["customers"] = _anonymise_customer(session, subject.normalised)
        _audit(session, actor, "erase", subject, counts)
    return counts


def _delete_conversations(session: Session, ids: list[str]) -> dict[str, int]:
    counts = {"conversations": 0, "messages": 0, "tickets": 0, "order_subscriptions": 0}
    for chunk in _chunks(ids):
        subscriptions = select(OrderSubscription.id).where(
            OrderSubscription.conversation_id.in_(chunk)
        )
        session.execute(delete(OrderUpdate).where(OrderUpdate.subscription_id.in_(subscriptions)))
        counts["order_subscriptions"] += session.execute(
            delete(OrderSubscription).where(OrderSubscription.conversation_id.in_(chunk))
        ).rowcount
        session.execute(delete(CsatSurvey).where(CsatSurvey.conversation_id.in_(chunk)))
        _delete_ticket_notes(session, select(Ticket.id).where(Ticket.conversation_id.in_(chunk)))
        counts["messages"] += session.execute(
            delete(Message).where(Message.conversation_id.in_(chunk))
        ).rowcount
        counts["tickets"] += session.execute(
            delete(Ticket).where(Ticket.conversation_id.in_(chunk))
        ).rowcount
        counts["conversations"] += session.execute(
            delete(Conversation).where(Conversation.id.in_(chunk))
        ).rowcount
    return counts


def _delete_ticket_notes(session: Session, ticket_ids) -> None:
    """Staff's notes and history on these tickets (a select of their ids), before them."""
    session.execute(delete(CsatSurvey).where(CsatSurvey.ticket_id.in_(ticket_ids)))
    session.execute(delete(TicketNote).where(TicketNote.ticket_id.in_(ticket_ids)))
    session.execute(delete(TicketEvent).where(TicketEvent.ticket_id.in_(ticket_ids)))


def _anonymise_customer(session: Session, email: str) -> int:
    customers = session.scalars(select(Customer).where(func.lower(Customer.email) == email)).all()
    for customer in customers:
        customer.name = ERASED
        customer.email = f"erased-{customer.id}@invalid"
        session.execute(
            update(Order)
            .where(Order.customer_id == customer.id)
            .values(ship_name=ERASED, ship_line1=ERASED, ship_city=ERASED, ship_postcode=ERASED)
        )
    return len(customers)


# --- retention ---------------------------------------------------------------------------------


def purge(
    days: int, engine: Engine, tracker_url: str, now: datetime | None = None
) -> dict[str, int]:
    """Delete what is older than `days` (last activity, for a conversation) from both
    databases, and the verification rows and sessions that no longer count. 0 days: keep."""
    if days <= 0:
        return {}
    now = now or utcnow()
    cutoff = now - timedelta(days=days)
    counts = {"tracker_events": _purge_tracker(tracker_url, cutoff)}
    with session_scope(engine) as session:
        old = session.scalars(select(Conversation.id).where(Conversation.updated_at < cutoff)).all()
        counts.update(_delete_conversations(session, list(old)))
        # Tickets of conversations that never came through the gateway (`make shell`).
        old_ticket = func.coalesce(Ticket.closed_at, Ticket.created_at) < cutoff
        _delete_ticket_notes(session, select(Ticket.id).where(old_ticket))
        counts["tickets"] += session.execute(delete(Ticket).where(old_ticket)).rowcount
        counts["verification_failures"] = session.execute(
            delete(VerificationFailure).where(VerificationFailure.failed_at < now - lock_window())
        ).rowcount
        counts["channel_receipts"] = session.execute(
            delete(ChannelReceipt).where(ChannelReceipt.received_at < cutoff)
        ).rowcount
        counts["staff_sessions"] = session.execute(
            delete(StaffSession).where(StaffSession.expires_at < now)
        ).rowcount
        if any(counts.values()):
            _audit(session, "retention", "purge", None, counts)
    return counts


# --- Rasa's tracker store -------------------------------------------------------------------


def _tracker_engine(tracker_url: str) -> Engine | None:
    """Rasa's tracker database, if Rasa has created its table yet."""
    if not tracker_url:
        return None
    if tracker_url.startswith("sqlite:///"):  # Rasa's file: no pragmas of ours, just patience
        if not Path(tracker_url.removeprefix("sqlite:///")).exists():
            return None
        busy = get_settings().store_db_busy_seconds
        engine = create_engine(tracker_url, connect_args={"timeout": busy})
    else:  # Rasa's environment opens PostgreSQL with psycopg2, ours with psycopg
        scheme, sep, rest = tracker_url.partition("://")
        if scheme.startswith("postgresql"):
            tracker_url = f"postgresql+psycopg{sep}{rest}"
        engine = create_engine(tracker_url, pool_pre_ping=True)
    if not inspect(engine).has_table("events"):
        engine.dispose()
        return None
    return engine


def _tracker_events(tracker_url: str, ids: list[str]) -> list[dict[str, Any]]:
    engine = _tracker_engine(tracker_url)
    if engine is None or not ids:
        return []
    events = []
    try:
        with engine.connect() as connection:
            for chunk in _chunks(ids):
                query = text(
                    "SELECT data FROM events WHERE sender_id IN :ids ORDER BY timestamp, id"
                ).bindparams(bindparam("ids", expanding=True))
                events += [json.loads(row[0]) for row in connection.execute(query, {"ids": chunk})]
    finally:
        engine.dispose()
    return events


def _delete_tracker_events(tracker_url: str, ids: list[str]) -> int:
    engine = _tracker_engine(tracker_url)
    if engine is None or not ids:
        return 0
    deleted = 0
    try:
        with engine.begin() as connection:
            for chunk in _chunks(ids):
                query = text("DELETE FROM events WHERE sender_id IN :ids").bindparams(
                    bindparam("ids", expanding=True)
                )
                deleted += connection.execute(query, {"ids": chunk}).rowcount
    finally:
        engine.dispose()
    return deleted


def _purge_tracker(tracker_url: str, cutoff: datetime) -> int:
    """Every event of a conversation whose last event is older than the cutoff (a partial
    tracker would leave Rasa with slots set by events that are gone)."""
    engine = _tracker_engine(tracker_url)
    if engine is None:
        return 0
    seconds = (cutoff - datetime(1970, 1, 1)).total_seconds()
    try:
        with engine.begin() as connection:
            return connection.execute(
                text(
                    "DELETE FROM events WHERE sender_id IN (SELECT sender_id FROM events "
                    "GROUP BY sender_id HAVING MAX(timestamp) < :cutoff)"
                ),
                {"cutoff": seconds},
            ).rowcount
    finally:
        engine.dispose()


# --- shared --------------------------------------------------------------------------------------


def _chunks(values: list[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]


def _audit(
    session: Session, actor: str, action: str, subject: Subject | None, summary: dict
) -> None:
    session.add(
        PrivacyAudit(
            done_at=utcnow(),
            actor=actor,
            action=action,
            subject_kind=subject.kind if subject else "retention",
            subject_hash=subject.hashed if subject else None,
            summary=json.dumps(summary, sort_keys=True),
        )
    )


def audit_log(engine: Engine | None = None, limit: int = 50) -> list[PrivacyAudit]:
    """The latest exports, erasures and purges, newest first."""
    with session_scope(engine or get_engine()) as session:
        return list(
            session.scalars(select(PrivacyAudit).order_by(PrivacyAudit.id.desc()).limit(limit))
        )

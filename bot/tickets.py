"""Handoff tickets: opened when the bot hands a conversation to a person, then assigned,
answered, resolved or handed back to the bot from the staff console."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, or_, select

from bot import contract
from bot.clock import utcnow
from bot.store.db import get_engine, session_scope
from bot.store.models import Conversation, Message, StaffUser, Ticket

REASONS = {
    contract.SHOPPER_REQUEST: "asked for a person",
    contract.COMPLAINT: "upset",
    contract.BOT_FAILED: "repeated fallback",
    contract.VERIFICATION_FAILED: "verification failed",
    contract.ACTION_ERROR: "action error",
    contract.PRIVACY_REQUEST: "their personal data",
    contract.ORDER_SYSTEM_DOWN: "order system down",
}
ACTIVE = ("open", "assigned")
QUEUES = ("open", "mine", "resolved")


class TicketError(Exception):
    """A state change that does not apply to the ticket as it is now."""


def hand_off(
    conversation_id: str,
    reason: str,
    order_number: str | None = None,
    engine: Engine | None = None,
) -> int:
    """A person takes over the conversation: open its ticket and switch it to human mode, in
    one transaction, and return the ticket's id. One active ticket per conversation: asking
    again returns the active one (keeping its reason, adding an order if it had none)."""
    if reason not in REASONS:
        raise ValueError(f"unknown handoff reason {reason!r}")
    with session_scope(engine or get_engine()) as session:
        conversation = session.get(Conversation, conversation_id)
        if conversation is None:
            raise TicketError("no such conversation")
        conversation.mode = "human"
        conversation.updated_at = utcnow()
        ticket = session.scalars(
            select(Ticket).where(
                Ticket.conversation_id == conversation_id, Ticket.status.in_(ACTIVE)
            )
        ).first()
        if ticket is None:
            ticket = Ticket(
                conversation_id=conversation_id,
                reason=reason,
                status="open",
                created_at=utcnow(),
            )
            session.add(ticket)
        ticket.order_number = ticket.order_number or order_number
        session.flush()
        return ticket.id


def get_ticket(ticket_id: int, engine: Engine | None = None) -> Ticket | None:
    with session_scope(engine or get_engine()) as session:
        ticket = session.get(Ticket, ticket_id)
        if ticket is not None and ticket.assignee is not None:
            _ = ticket.assignee.username  # loaded while the session is open
        return ticket


def active_ticket(conversation_id: str, engine: Engine | None = None) -> Ticket | None:
    with session_scope(engine or get_engine()) as session:
        return session.scalars(
            select(Ticket).where(
                Ticket.conversation_id == conversation_id, Ticket.status.in_(ACTIVE)
            )
        ).first()


@dataclass(frozen=True)
class QueueRow:
    ticket: Ticket
    assignee: str | None
    last_message: str
    channel: str | None
    language: str | None = None  # the conversation's (bot.language)


def queue(
    which: str = "open",
    user_id: int | None = None,
    search: str = "",
    engine: Engine | None = None,
    limit: int = 200,
) -> list[QueueRow]:
    """open: waiting or assigned, oldest first. mine: assigned to `user_id`. resolved:
    resolved or handed back, newest first. `search` matches any message of the transcript."""
    if which not in QUEUES:
        raise ValueError(f"unknown queue {which!r}")
    query = select(Ticket)
    if which == "open":
        query = query.where(Ticket.status.in_(ACTIVE)).order_by(Ticket.created_at, Ticket.id)
    elif which == "mine":
        query = query.where(Ticket.status == "assigned", Ticket.assignee_id == user_id).order_by(
            Ticket.created_at, Ticket.id
        )
    else:
        query = query.where(Ticket.status.in_(("resolved", "returned"))).order_by(
            Ticket.closed_at.desc(), Ticket.id.desc()
        )
    if search.strip():
        pattern = f"%{_escape_like(search.strip())}%"
        matching = select(Message.conversation_id).where(Message.text.ilike(pattern, escape="\\"))
        query = query.where(
            or_(Ticket.conversation_id.in_(matching), Ticket.order_number == search.strip())
        )
    with session_scope(engine or get_engine()) as session:
        rows = []
        for ticket in session.scalars(query.limit(limit)):
            last = session.scalars(
                select(Message.text)
                .where(Message.conversation_id == ticket.conversation_id)
                .order_by(Message.id.desc())
                .limit(1)
            ).first()
            name = ticket.assignee.username if ticket.assignee else None
            conversation = session.get(Conversation, ticket.conversation_id)
            channel = conversation.channel if conversation else None
            language = conversation.language if conversation else None
            rows.append(QueueRow(ticket, name, last or "", channel, language))
        return rows


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def assign(ticket_id: int, user: StaffUser, engine: Engine | None = None) -> Ticket:
    """Take the ticket (or take it over from a colleague)."""
    with session_scope(engine or get_engine()) as session:
        ticket = _active(session, ticket_id)
        ticket.status = "assigned"
        ticket.assignee_id = user.id
        ticket.assigned_at = utcnow()
        return ticket


def note_agent_reply(ticket_id: int, user: StaffUser, engine: Engine | None = None) -> Ticket:
    """An agent answered: the first reply is timed, and an unassigned ticket becomes theirs."""
    with session_scope(engine or get_engine()) as session:
        ticket = _active(session, ticket_id)
        now = utcnow()
        if ticket.first_reply_at is None:
            ticket.first_reply_at = now
        if ticket.status == "open":
            ticket.status, ticket.assignee_id, ticket.assigned_at = "assigned", user.id, now
        return ticket


def close(ticket_id: int, status: str, engine: Engine | None = None) -> Ticket:
    """Resolve the ticket ("resolved") or give the conversation back to the bot ("returned")."""
    if status not in ("resolved", "returned"):
        raise ValueError(f"cannot close a ticket as {status!r}")
    with session_scope(engine or get_engine()) as session:
        ticket = _active(session, ticket_id)
        ticket.status = status
        ticket.closed_at = utcnow()
        return ticket


def _active(session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketError("no such ticket")
    if ticket.status not in ACTIVE:
        raise TicketError(f"the ticket is already {ticket.status}")
    return ticket

"""Handoff tickets: opened when the bot hands a conversation to a person, then assigned,
answered, resolved or handed back to the bot from the staff console."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, or_, select

from bot import contract
from bot.clock import utcnow
from bot.store.db import get_engine, session_scope
from bot.store.models import Conversation, Message, StaffUser, Ticket, TicketEvent, TicketNote

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
QUEUES = ("open", "mine", "unassigned", "resolved")
MAX_NOTE_CHARS = 4000


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
            session.flush()
            _record(session, ticket.id, None, "opened", reason)
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
    """open: waiting or assigned, oldest first. mine: assigned to `user_id`. unassigned: waiting
    for anyone, oldest first. resolved: resolved or handed back, newest first. `search` matches
    any message of the transcript."""
    if which not in QUEUES:
        raise ValueError(f"unknown queue {which!r}")
    query = select(Ticket)
    if which == "open":
        query = query.where(Ticket.status.in_(ACTIVE)).order_by(Ticket.created_at, Ticket.id)
    elif which == "mine":
        query = query.where(Ticket.status == "assigned", Ticket.assignee_id == user_id).order_by(
            Ticket.created_at, Ticket.id
        )
    elif which == "unassigned":
        query = query.where(Ticket.status == "open", Ticket.assignee_id.is_(None)).order_by(
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
        _take(session, ticket, user.id, "taken")
        return ticket


def assign_to(ticket_id: int, username: str, by: StaffUser, engine: Engine | None = None) -> Ticket:
    """Give the ticket to a named colleague (to oneself is taking it)."""
    with session_scope(engine or get_engine()) as session:
        ticket = _active(session, ticket_id)
        colleague = session.scalars(
            select(StaffUser).where(StaffUser.username == username.strip())
        ).first()
        if colleague is None:
            raise TicketError(f"there is no colleague called {username.strip()[:80]!r}")
        if colleague.id == by.id:
            _take(session, ticket, by.id, "taken")
        else:
            _take(session, ticket, colleague.id, "assigned", by.id, colleague.username)
        return ticket


def unassign(ticket_id: int, by: StaffUser, engine: Engine | None = None) -> Ticket:
    """Nobody's again: back to the open queue, for anyone to take."""
    with session_scope(engine or get_engine()) as session:
        ticket = _active(session, ticket_id)
        if ticket.assignee_id is None:
            raise TicketError("the ticket is not assigned to anyone")
        ticket.status, ticket.assignee_id, ticket.assigned_at = "open", None, None
        _record(session, ticket.id, by.id, "unassigned")
        return ticket


def _take(
    session,
    ticket: Ticket,
    assignee_id: int,
    action: str,
    actor_id: int | None = None,
    detail: str | None = None,
) -> None:
    """The ticket becomes `assignee_id`'s; recorded unless it already was theirs."""
    if ticket.status == "assigned" and ticket.assignee_id == assignee_id:
        return
    ticket.status, ticket.assignee_id, ticket.assigned_at = "assigned", assignee_id, utcnow()
    _record(session, ticket.id, actor_id or assignee_id, action, detail)


def note_agent_reply(ticket_id: int, user: StaffUser, engine: Engine | None = None) -> Ticket:
    """An agent answered: the first reply is timed, and an unassigned ticket becomes theirs."""
    with session_scope(engine or get_engine()) as session:
        ticket = _active(session, ticket_id)
        if ticket.first_reply_at is None:
            ticket.first_reply_at = utcnow()
        if ticket.status == "open":
            _take(session, ticket, user.id, "taken", detail="by replying")
        return ticket


def close(
    ticket_id: int, status: str, engine: Engine | None = None, by: StaffUser | None = None
) -> Ticket:
    """Resolve the ticket ("resolved") or give the conversation back to the bot ("returned");
    `by`: the staff member who did, for the ticket's history."""
    if status not in ("resolved", "returned"):
        raise ValueError(f"cannot close a ticket as {status!r}")
    with session_scope(engine or get_engine()) as session:
        ticket = _active(session, ticket_id)
        ticket.status = status
        ticket.closed_at = utcnow()
        _record(session, ticket.id, by.id if by else None, status)
        return ticket


def _active(session, ticket_id: int) -> Ticket:
    ticket = session.get(Ticket, ticket_id)
    if ticket is None:
        raise TicketError("no such ticket")
    if ticket.status not in ACTIVE:
        raise TicketError(f"the ticket is already {ticket.status}")
    return ticket


def _record(
    session, ticket_id: int, actor_id: int | None, action: str, detail: str | None = None
) -> None:
    session.add(
        TicketEvent(
            ticket_id=ticket_id, at=utcnow(), actor_id=actor_id, action=action, detail=detail
        )
    )


# --- the ticket's history and staff's internal notes ---------------------------------------


@dataclass(frozen=True)
class HistoryEntry:
    at: datetime
    actor: str | None  # None: the assistant (a handoff) or a change made outside the console
    action: str  # opened, taken, assigned, unassigned, resolved, returned
    detail: str | None

    def as_json(self) -> dict:
        return {
            "actor": self.actor,
            "action": self.action,
            "detail": self.detail,
            "time": self.at.isoformat() + "Z",
        }


@dataclass(frozen=True)
class Note:
    id: int
    author: str
    text: str
    created_at: datetime

    def as_json(self) -> dict:
        return {
            "id": self.id,
            "author": self.author,
            "text": self.text,
            "time": self.created_at.isoformat() + "Z",
        }


def history(ticket_id: int, engine: Engine | None = None) -> list[HistoryEntry]:
    """Who did what to the ticket, oldest first."""
    query = (
        select(TicketEvent, StaffUser.username)
        .outerjoin(StaffUser, StaffUser.id == TicketEvent.actor_id)
        .where(TicketEvent.ticket_id == ticket_id)
        .order_by(TicketEvent.at, TicketEvent.id)
    )
    with session_scope(engine or get_engine()) as session:
        return [
            HistoryEntry(event.at, name, event.action, event.detail)
            for event, name in session.execute(query)
        ]


def add_note(ticket_id: int, author: StaffUser, text: str, engine: Engine | None = None) -> Note:
    """An internal note for colleagues: its own table, never a message, so nothing that
    serves the shopper can send it. Closed tickets take notes too (a follow-up)."""
    text = "".join(ch for ch in str(text) if ch in "\n\t" or ch.isprintable()).strip()
    if not text:
        raise ValueError("the note is empty")
    if len(text) > MAX_NOTE_CHARS:
        raise ValueError(f"the note is longer than {MAX_NOTE_CHARS} characters")
    with session_scope(engine or get_engine()) as session:
        if session.get(Ticket, ticket_id) is None:
            raise TicketError("no such ticket")
        note = TicketNote(ticket_id=ticket_id, author_id=author.id, text=text, created_at=utcnow())
        session.add(note)
        session.flush()
        return Note(note.id, author.username, note.text, note.created_at)


def notes(ticket_id: int, engine: Engine | None = None) -> list[Note]:
    """The ticket's internal notes, oldest first."""
    query = (
        select(TicketNote, StaffUser.username)
        .join(StaffUser, StaffUser.id == TicketNote.author_id)
        .where(TicketNote.ticket_id == ticket_id)
        .order_by(TicketNote.created_at, TicketNote.id)
    )
    with session_scope(engine or get_engine()) as session:
        return [
            Note(note.id, name, note.text, note.created_at) for note, name in session.execute(query)
        ]

"""A ticket's history (who did what), assignment to a named colleague, staff's internal notes
and the queue views, on a real SQLite store."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from bot import conversations, privacy, staff, tickets
from bot.store.db import session_scope
from bot.store.models import TicketEvent, TicketNote
from tests.conftest import PASSWORD


def handed_off(store, text: str = "my parcel is wet") -> int:
    conversation = conversations.start("api", engine=store)
    conversations.add(conversation.id, "shopper", text, engine=store)
    return tickets.hand_off(conversation.id, "shopper_request", engine=store)


@pytest.fixture
def team(store):
    return staff.create_user("alex", PASSWORD, store), staff.create_user("sam", PASSWORD, store)


def steps(store, ticket_id: int) -> list[tuple[str | None, str, str | None]]:
    return [(e.actor, e.action, e.detail) for e in tickets.history(ticket_id, store)]


def test_every_change_is_in_the_history_with_who_made_it(store, team):
    alex, sam = team
    ticket = handed_off(store)
    assert steps(store, ticket) == [(None, "opened", "shopper_request")]
    tickets.assign(ticket, alex, store)
    tickets.assign(ticket, alex, store)  # already theirs: nothing happened
    tickets.assign_to(ticket, "sam", alex, store)
    assert tickets.get_ticket(ticket, store).assignee.username == "sam"
    tickets.unassign(ticket, sam, store)
    after_unassign = tickets.get_ticket(ticket, store)
    assert (after_unassign.status, after_unassign.assignee_id) == ("open", None)
    tickets.note_agent_reply(ticket, sam, store)  # answering an open ticket takes it
    tickets.close(ticket, "resolved", store, by=alex)
    assert steps(store, ticket) == [
        (None, "opened", "shopper_request"),
        ("alex", "taken", None),
        ("alex", "assigned", "sam"),
        ("sam", "unassigned", None),
        ("sam", "taken", "by replying"),
        ("alex", "resolved", None),
    ]
    other = handed_off(store, "where is my refund?")
    tickets.close(other, "returned", store, by=sam)
    assert steps(store, other)[-1] == ("sam", "returned", None)
    assert [e.action for e in tickets.history(ticket, store)][0] == "opened"  # own history only


def test_a_second_handoff_of_the_same_conversation_opens_nothing_new(store):
    ticket = handed_off(store)
    conversation_id = tickets.get_ticket(ticket, store).conversation_id
    assert tickets.hand_off(conversation_id, "complaint", engine=store) == ticket
    assert steps(store, ticket) == [(None, "opened", "shopper_request")]


def test_assigning_to_someone_who_is_not_staff_is_refused(store, team):
    alex, _ = team
    ticket = handed_off(store)
    with pytest.raises(tickets.TicketError, match="no colleague called 'nobody'"):
        tickets.assign_to(ticket, "nobody", alex, store)
    assert tickets.get_ticket(ticket, store).status == "open"
    assert [e.action for e in tickets.history(ticket, store)] == ["opened"]
    tickets.assign_to(ticket, "alex", alex, store)  # to oneself: taking it
    assert steps(store, ticket)[-1] == ("alex", "taken", None)


def test_only_an_active_assigned_ticket_can_be_unassigned(store, team):
    alex, _ = team
    ticket = handed_off(store)
    with pytest.raises(tickets.TicketError, match="not assigned"):
        tickets.unassign(ticket, alex, store)
    tickets.assign(ticket, alex, store)
    tickets.close(ticket, "resolved", store, by=alex)
    with pytest.raises(tickets.TicketError, match="already resolved"):
        tickets.unassign(ticket, alex, store)
    with pytest.raises(tickets.TicketError, match="already resolved"):
        tickets.assign_to(ticket, "sam", alex, store)


def test_notes_are_stored_for_staff_and_are_never_messages(store, team):
    alex, sam = team
    ticket = handed_off(store)
    conversation_id = tickets.get_ticket(ticket, store).conversation_id
    before = conversations.messages(conversation_id, engine=store)
    first = tickets.add_note(ticket, alex, "  Shopper is a wholesale client, be generous.\n", store)
    assert first.text == "Shopper is a wholesale client, be generous." and first.author == "alex"
    tickets.add_note(ticket, sam, "x" * tickets.MAX_NOTE_CHARS, store)
    with pytest.raises(ValueError, match="empty"):
        tickets.add_note(ticket, sam, " \n\t ", store)
    with pytest.raises(ValueError, match="longer than 4000"):
        tickets.add_note(ticket, sam, "x" * (tickets.MAX_NOTE_CHARS + 1), store)
    with pytest.raises(tickets.TicketError):
        tickets.add_note(ticket + 1000, sam, "lost", store)
    assert [(n.author, n.text[:8]) for n in tickets.notes(ticket, store)] == [
        ("alex", "Shopper "),
        ("sam", "xxxxxxxx"),
    ]
    assert conversations.messages(conversation_id, engine=store) == before
    tickets.close(ticket, "resolved", store, by=alex)
    tickets.add_note(ticket, alex, "Refund confirmed afterwards.", store)  # a follow-up
    assert len(tickets.notes(ticket, store)) == 3


def test_an_erased_conversation_leaves_no_note_or_history(store, team):
    alex, _ = team
    conversation, key = conversations.start_with_key("web", engine=store)
    conversations.add(conversation.id, "shopper", "a person please", engine=store)
    ticket = tickets.hand_off(conversation.id, "shopper_request", engine=store)
    tickets.assign_to(ticket, "sam", alex, store)
    tickets.add_note(ticket, alex, "Called her back on the phone.", store)
    privacy.erase(privacy.Subject("conversation", key), store, "", "test")
    with session_scope(store) as session:
        for table in (TicketNote, TicketEvent):
            count = select(func.count()).select_from(table).where(table.ticket_id == ticket)
            assert session.scalar(count) == 0


def test_the_queue_views(store, team):
    alex, sam = team
    waiting, mine, theirs, done = (handed_off(store, f"question {n}") for n in range(4))
    tickets.assign(mine, alex, store)
    tickets.assign_to(theirs, "sam", alex, store)
    tickets.close(done, "resolved", store, by=alex)

    def ids(which: str, user=None) -> list[int]:
        return [row.ticket.id for row in tickets.queue(which, user.id if user else None, "", store)]

    assert ids("open") == [waiting, mine, theirs]
    assert ids("unassigned") == [waiting]
    assert ids("mine", alex) == [mine] and ids("mine", sam) == [theirs]
    assert ids("resolved") == [done]
    tickets.unassign(theirs, sam, store)
    assert ids("unassigned") == [waiting, theirs] and ids("mine", sam) == []
    found = tickets.queue("unassigned", search="question 0", engine=store)
    assert [row.ticket.id for row in found] == [waiting]

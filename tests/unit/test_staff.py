"""Staff accounts, sessions and the ticket queue, on a fresh SQLite store."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from sqlalchemy import update

from bot import cli, conversations, staff, tickets
from bot.clock import utcnow
from bot.store.db import session_scope
from bot.store.models import StaffSession

PASSWORD = "a long enough password"


def test_passwords_are_stored_as_salted_scrypt_hashes(store):
    user = staff.create_user("alex", PASSWORD, store)
    assert user.password_hash.startswith("scrypt$16384$8$1$") and PASSWORD not in user.password_hash
    assert staff.hash_password(PASSWORD) != staff.hash_password(PASSWORD)  # salted
    assert staff.authenticate("alex", PASSWORD, store).id == user.id
    assert staff.authenticate("alex", PASSWORD + "!", store) is None
    assert staff.authenticate("nobody", PASSWORD, store) is None


def test_accounts_refuse_short_passwords_and_duplicate_names(store):
    with pytest.raises(staff.AccountError, match="at least 10"):
        staff.create_user("sam", "short", store)
    staff.create_user("sam", PASSWORD, store)
    with pytest.raises(staff.AccountError, match="already"):
        staff.create_user("sam", PASSWORD, store)


def test_sessions_expire_and_end_with_a_new_password(store):
    user = staff.create_user("kim", PASSWORD, store)
    token, csrf = staff.start_session(user, store)
    found = staff.find_session(token, store)
    assert found.user.username == "kim" and found.csrf_token == csrf
    assert staff.find_session("forged-token", store) is None
    with session_scope(store) as session:  # the database has only a hash of the token
        assert session.get(StaffSession, token) is None
        session.execute(update(StaffSession).values(expires_at=utcnow() - timedelta(seconds=1)))
    assert staff.find_session(token, store) is None
    token, _ = staff.start_session(user, store)
    staff.set_password("kim", "another long password", store)
    assert staff.find_session(token, store) is None


def test_bot_staff_add_from_a_script(store, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO(PASSWORD + "\n"))
    assert cli.main(["staff", "add", "robin", "--password-stdin"]) == 0
    assert staff.authenticate("robin", PASSWORD, store) is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert cli.main(["staff", "add", "robin2", "--password-stdin"]) == 2
    assert "at least 10" in capsys.readouterr().err


def test_queue_oldest_first_mine_resolved_and_search(store):
    alex = staff.create_user("alex", PASSWORD, store)
    ids = []
    for text in ("my parcel is wet", "100% cotton_tee question", "refund please"):
        conversation = conversations.start("api", engine=store)
        conversations.add(conversation.id, "shopper", text, engine=store)
        ids.append(tickets.hand_off(conversation.id, "shopper_request", engine=store))
    assert [row.ticket.id for row in tickets.queue("open", engine=store)] == ids
    tickets.assign(ids[1], alex, store)
    assert [row.ticket.id for row in tickets.queue("mine", alex.id, engine=store)] == [ids[1]]
    tickets.close(ids[0], "resolved", store)
    assert [row.ticket.id for row in tickets.queue("resolved", engine=store)] == [ids[0]]
    with pytest.raises(tickets.TicketError, match="already resolved"):
        tickets.close(ids[0], "returned", store)
    # LIKE wildcards in a search are literal characters.
    assert [r.ticket.id for r in tickets.queue("open", search="100%", engine=store)] == [ids[1]]
    assert [r.ticket.id for r in tickets.queue("open", search="d_p", engine=store)] == []
    assert [r.ticket.id for r in tickets.queue("open", search="REFUND", engine=store)] == [ids[2]]


def test_one_active_ticket_per_conversation(store):
    conversation = conversations.start("api", engine=store)
    first = tickets.hand_off(conversation.id, "complaint", engine=store)
    assert conversations.get(conversation.id, store).mode == "human"  # in the same transaction
    assert tickets.hand_off(conversation.id, "shopper_request", "10423", store) == first
    ticket = tickets.get_ticket(first, store)
    assert ticket.reason == "complaint" and ticket.order_number == "10423"
    tickets.close(first, "resolved", store)
    assert tickets.hand_off(conversation.id, "bot_failed", engine=store) != first

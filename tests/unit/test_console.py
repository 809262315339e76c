"""The staff console in-process (Starlette's test client, a fresh SQLite store): login, the
CSRF and same-origin checks, and every ticket change. Rasa is on a port nobody listens on."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from bot import conversations, staff, tickets
from bot.gateway.app import create_app
from bot.settings import get_settings
from bot.stack import free_port
from tests.conftest import PASSWORD

JSON = {"accept": "application/json"}


@pytest.fixture
def client(store):
    settings = replace(get_settings(), rasa_url=f"http://127.0.0.1:{free_port()}")
    staff.create_user("alex", PASSWORD, store)
    with TestClient(create_app(settings, engine=store), follow_redirects=False) as client:
        yield client


def handed_off(store, text: str = "my parcel is wet") -> int:
    """A conversation a shopper started and the bot handed to a person; its ticket's id."""
    conversation = conversations.start("api", engine=store)
    conversations.add(conversation.id, "shopper", text, engine=store)
    return tickets.hand_off(conversation.id, "shopper_request", engine=store)


def log_in(client: TestClient) -> str:
    """Log in as alex; the CSRF token for changes."""
    assert client.post("/console/login", data={"username": "alex", "password": PASSWORD})
    return client.get("/console/session").json()["csrf_token"]


def test_login_sets_a_strict_http_only_cookie_and_goes_only_to_this_site(client):
    wrong = client.post("/console/login", data={"username": "alex", "password": "guess"})
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    assert "sa_staff" not in client.cookies
    right = client.post(
        "/console/login",
        data={"username": "alex", "password": PASSWORD, "next": "//evil.example/steal"},
    )
    assert right.status_code == 303 and right.headers["location"] == "/console"
    cookie = right.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert client.get("/console/session").json()["username"] == "alex"


def test_a_cross_site_login_is_refused(client):
    response = client.post(
        "/console/login",
        data={"username": "alex", "password": PASSWORD},
        headers={"origin": "https://evil.example"},
    )
    assert response.status_code == 403 and "sa_staff" not in client.cookies


@pytest.mark.parametrize(
    "path",
    [
        "/console",
        "/console/try",
        "/console/insights",
        "/console/tickets/1",
        "/console/tickets/1/messages",
        "/console/tickets/1/export",
        "/console/session",
    ],
)
def test_every_console_page_needs_a_login(client, store, path):
    handed_off(store)
    page = client.get(path)
    assert page.status_code == 303 and page.headers["location"].startswith("/console/login")
    assert client.get(path, headers=JSON).status_code == 401


def test_changes_need_the_session_token_from_this_site(client, store):
    ticket = handed_off(store)
    assert client.post(f"/console/tickets/{ticket}/assign").status_code == 401  # no login
    token = log_in(client)
    path = f"/console/tickets/{ticket}/assign"
    assert client.post(path, headers=JSON).status_code == 403
    assert client.post(path, headers={**JSON, "x-csrf-token": "forged"}).status_code == 403
    cross_site = {**JSON, "x-csrf-token": token, "origin": "https://evil.example"}
    assert client.post(path, headers=cross_site).status_code == 403
    assert tickets.get_ticket(ticket, store).status == "open"  # none of those changed it
    assert client.post(path, headers={**JSON, "x-csrf-token": token}).status_code == 200
    assert tickets.get_ticket(ticket, store).status == "assigned"


def test_reply_resolve_and_hand_back(client, store):
    ticket, other = handed_off(store), handed_off(store, "where is my refund?")
    headers = {**JSON, "x-csrf-token": log_in(client)}
    replied = client.post(
        f"/console/tickets/{ticket}/reply",
        json={"text": "Sorry! A new one is on its way."},
        headers=headers,
    )
    assert replied.status_code == 200 and replied.json()["ticket"]["status"] == "assigned"
    cid = tickets.get_ticket(ticket, store).conversation_id
    assert [(s.sender, s.agent) for s in conversations.messages(cid, engine=store)][-1] == (
        "agent",
        "alex",
    )
    resolved = client.post(f"/console/tickets/{ticket}/resolve", headers=headers)
    assert resolved.json()["ticket"]["status"] == "resolved"
    assert conversations.get(cid, store).mode == "bot"
    # (then the shopper may be asked for a rating: bot/csat.py)
    said = conversations.messages(cid, engine=store)
    assert [s.text for s in said if s.sender == "system"][-1] == "Resolved by alex."
    again = client.post(f"/console/tickets/{ticket}/resolve", headers=headers)
    assert again.status_code == 409 and "already resolved" in again.json()["error"]
    assert client.post("/console/tickets/999/resolve", headers=headers).status_code == 404
    # Handing back asks Rasa to greet the shopper; Rasa is down, so the bot says nothing yet,
    # but the conversation is the bot's again.
    back = client.post(f"/console/tickets/{other}/handback", headers=headers)
    assert back.status_code == 200 and back.json()["ticket"]["status"] == "returned"
    other_cid = tickets.get_ticket(other, store).conversation_id
    assert conversations.get(other_cid, store).mode == "bot"
    assert conversations.messages(other_cid, engine=store)[-1].sender == "system"


def test_an_empty_reply_is_refused(client, store):
    ticket = handed_off(store)
    headers = {**JSON, "x-csrf-token": log_in(client)}
    response = client.post(f"/console/tickets/{ticket}/reply", json={"text": " "}, headers=headers)
    assert response.status_code == 400 and "empty" in response.json()["error"]


def test_notes_stay_with_staff_the_transcript_and_the_exports(client, store):
    conversation, key = conversations.start_with_key("api", engine=store)
    conversations.add(conversation.id, "shopper", "my parcel is wet", engine=store)
    ticket = tickets.hand_off(conversation.id, "shopper_request", engine=store)
    headers = {**JSON, "x-csrf-token": log_in(client)}
    note = "Wholesale client: replace without asking for photos."
    forged = client.post(f"/console/tickets/{ticket}/note", json={"text": note}, headers=JSON)
    assert forged.status_code == 403 and tickets.notes(ticket, store) == []
    added = client.post(
        f"/console/tickets/{ticket}/note", json={"text": f" {note} "}, headers=headers
    )
    assert added.status_code == 201 and added.json()["note"]["author"] == "alex"
    assert added.json()["note"]["text"] == note
    empty = client.post(f"/console/tickets/{ticket}/note", json={"text": "  "}, headers=headers)
    assert empty.status_code == 400 and "empty" in empty.json()["error"]
    assert (
        client.post("/console/tickets/999/note", json={"text": "x"}, headers=headers).status_code
        == 404
    )
    form = client.post(
        f"/console/tickets/{ticket}/note",
        data={"text": "Second note, from the page.", "csrf_token": headers["x-csrf-token"]},
    )
    assert form.status_code == 303 and form.headers["location"].startswith(
        f"/console/tickets/{ticket}"
    )

    shown = client.get(f"/console/tickets/{ticket}", headers=JSON).json()
    assert [(n["author"], n["text"]) for n in shown["notes"]] == [
        ("alex", note),
        ("alex", "Second note, from the page."),
    ]
    assert note not in str(shown["messages"])
    page = client.get(f"/console/tickets/{ticket}").text
    assert note in page and "Internal note" in page
    assert page.index("my parcel is wet") < page.index(note)  # in the transcript, by time
    text = client.get(f"/console/tickets/{ticket}/export?format=text").text
    assert f"[note] alex: {note}" in text
    exported = client.get(f"/console/tickets/{ticket}/export").json()
    assert exported["notes"][0]["type"] == "note" and exported["notes"][0]["text"] == note
    assert note not in str(exported["messages"])
    # The shopper's side: the messages of their conversation, with no note among them.
    mine = client.get(f"/api/conversations/{key}/messages").json()["messages"]
    assert [m["text"] for m in mine] == ["my parcel is wet"]
    assert note not in str(client.get(f"/console/tickets/{ticket}/messages", headers=JSON).json())


def test_assign_to_a_colleague_unassign_and_the_history(client, store):
    sam = staff.create_user("sam", PASSWORD, store)
    ticket = handed_off(store)
    headers = {**JSON, "x-csrf-token": log_in(client)}
    path = f"/console/tickets/{ticket}"
    assert client.post(f"{path}/unassign", headers=JSON).status_code == 403  # no CSRF token
    unknown = client.post(f"{path}/assign", json={"username": "nobody"}, headers=headers)
    assert unknown.status_code == 409 and "no colleague" in unknown.json()["error"]
    assert client.get(path, headers=JSON).json()["staff"] == ["alex", "sam"]
    queue = client.get("/console?queue=unassigned", headers=JSON).json()["tickets"]
    assert [t["id"] for t in queue] == [ticket]

    to_sam = client.post(f"{path}/assign", json={"username": "sam"}, headers=headers)
    assert to_sam.status_code == 200 and to_sam.json()["ticket"]["status"] == "assigned"
    assert to_sam.json()["ticket"]["assignee_id"] == sam.id
    assert client.get("/console?queue=unassigned", headers=JSON).json()["tickets"] == []
    assert client.get("/console?queue=mine", headers=JSON).json()["tickets"] == []  # sam's

    back = client.post(f"{path}/unassign", headers=headers)
    assert (
        back.json()["ticket"]["status"] == "open" and back.json()["ticket"]["assignee_id"] is None
    )
    again = client.post(f"{path}/unassign", headers=headers)
    assert again.status_code == 409
    taken = client.post(f"{path}/assign", data={"csrf_token": headers["x-csrf-token"]})
    assert taken.status_code == 303  # the page's "Take this ticket": no username
    assert [t["id"] for t in client.get("/console?queue=mine", headers=JSON).json()["tickets"]] == [
        ticket
    ]
    client.post(f"{path}/resolve", headers=headers)
    history = client.get(path, headers=JSON).json()["history"]
    assert [(h["actor"], h["action"], h["detail"]) for h in history] == [
        (None, "opened", "shopper_request"),
        ("alex", "assigned", "sam"),
        ("alex", "unassigned", None),
        ("alex", "taken", None),
        ("alex", "resolved", None),
    ]
    page = client.get(path).text
    assert "assigned to sam by alex" in page and "resolved by alex" in page
    tabs = client.get("/console?queue=unassigned").text
    assert re.search(r'queue=unassigned"\s+aria-current="page" class="current">Unassigned<', tabs)

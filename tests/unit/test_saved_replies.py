"""Saved replies: placeholders filled from a ticket's verified order (and left visible when
there is nothing to fill them with), editing and deleting versions and whole replies, and the
console's routes for them, in-process on a fresh seeded SQLite store."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

import pytest
from starlette.testclient import TestClient

from bot import conversations, saved_replies, staff, tickets
from bot.gateway.app import create_app
from bot.orders import OrderInfo, ShipmentInfo, get_order_source
from bot.settings import get_settings
from bot.stack import free_port
from tests.conftest import PASSWORD

JSON = {"accept": "application/json"}
FEDEX_LINK = "https://www.fedex.com/fedextrack/?trknbr=714004536591271"  # order 10424's
TEMPLATE = "Hi {first_name}, order #{order_number} is on its way: {tracking_link} ({size} M)"


def order_without_link() -> OrderInfo:
    """An order whose carrier has no tracking page: the number stands in for the link."""
    shipped = datetime(2024, 5, 2)
    return OrderInfo(
        number="20001",
        status="shipped",
        placed_at=datetime(2024, 5, 1),
        currency="EUR",
        email="a@example.com",
        postcode="1011",
        ship_to="Damrak 1, Amsterdam, 1011",
        lines=(),
        shipment=ShipmentInfo(
            "Local courier", "LC-778", shipped, date(2024, 5, 4), date(2024, 5, 6)
        ),
    )


def test_placeholders_are_filled_from_the_verified_order(store):
    order = get_order_source().get_order("10424")  # FedEx, with a tracking page
    filled = saved_replies.fill(TEMPLATE, saved_replies.placeholder_values(order))
    link = "https://www.fedex.com/fedextrack/?trknbr=714004536591271"
    # The first name is the delivery address's; {size} is the agent's own text.
    assert filled == f"Hi Ethan, order #10424 is on its way: {link} ({{size}} M)"
    assert saved_replies.unfilled(filled) == []
    number = saved_replies.fill(
        "{tracking_link}", saved_replies.placeholder_values(order_without_link())
    )
    assert number == "LC-778"


def test_without_an_order_the_placeholders_stay_visible_and_unknown_braces_are_kept(store):
    assert saved_replies.fill(TEMPLATE, saved_replies.placeholder_values(None)) == TEMPLATE
    unshipped = get_order_source().get_order("10423")  # paid, no shipment: no tracking link
    values = saved_replies.placeholder_values(unshipped)
    assert values == {"order_number": "10423", "first_name": "Zoe"}
    assert (
        saved_replies.fill("{tracking_link} {order_number} {Order_Number} {order_number", values)
        == "{tracking_link} 10423 {Order_Number} {order_number"
    )
    # A value holding braces is not filled again.
    sneaky = replace(order_without_link(), number="{tracking_link}")
    assert saved_replies.fill("{order_number}", saved_replies.placeholder_values(sneaky)) == (
        "{tracking_link}"
    )


def test_a_version_is_edited_and_deleted_and_a_whole_reply_deleted(store):
    english = saved_replies.save("Shipping delay", "en", "Order {order_number} is late.", store)
    turkish = saved_replies.save("Shipping delay", "tr", "{order_number} gecikti.", store)
    other = saved_replies.save("Thanks", "en", "Thanks!", store)
    edited = saved_replies.edit(english.id, "  Order #{order_number} is late, sorry.  ", store)
    assert edited == replace(english, text="Order #{order_number} is late, sorry.")
    assert saved_replies.every_version(store)[0].text == edited.text
    with pytest.raises(ValueError):
        saved_replies.edit(english.id, "   ", store)
    assert saved_replies.delete_version(turkish.id, store).language == "tr"
    assert [(v.name, v.language) for v in saved_replies.every_version(store)] == [
        ("Shipping delay", "en"),
        ("Thanks", "en"),
    ]
    saved_replies.save("Shipping delay", "de", "{order_number} verspätet sich.", store)
    assert saved_replies.delete_reply(english.id, store) == "Shipping delay"
    assert saved_replies.every_version(store) == [other]
    for change in (saved_replies.delete_version, saved_replies.delete_reply):
        with pytest.raises(LookupError):
            change(english.id, store)
    with pytest.raises(LookupError):
        saved_replies.edit(english.id, "text", store)


# --- the console's routes ----------------------------------------------------------------


@pytest.fixture
def client(store):
    settings = replace(get_settings(), rasa_url=f"http://127.0.0.1:{free_port()}")
    staff.create_user("alex", PASSWORD, store)
    with TestClient(create_app(settings, engine=store), follow_redirects=False) as client:
        yield client


def log_in(client: TestClient) -> str:
    assert client.post("/console/login", data={"username": "alex", "password": PASSWORD})
    return client.get("/console/session").json()["csrf_token"]


def test_staff_edit_and_delete_saved_replies_with_the_session_token(client, store):
    csrf = log_in(client)
    token = {**JSON, "x-csrf-token": csrf}
    made = client.post(
        "/console/replies", json={"name": "Late", "language": "en", "text": "Late."}, headers=token
    ).json()["saved_reply"]
    path = f"/console/replies/{made['id']}"
    # Without the token, or from another site, nothing changes.
    assert client.post(path, json={"text": "Hacked"}, headers=JSON).status_code == 403
    cross = {**token, "origin": "https://evil.example"}
    assert client.post(f"{path}/delete", headers=cross).status_code == 403
    edited = client.post(path, json={"text": "Late, sorry."}, headers=token)
    assert edited.status_code == 200 and edited.json()["saved_reply"]["text"] == "Late, sorry."
    assert client.post(path, json={"text": ""}, headers=token).status_code == 400
    assert client.post("/console/replies/999999/delete", headers=token).status_code == 404
    assert client.post("/console/replies/99999999999999999999", headers=token).status_code == 404
    # The page's forms: edit, delete a version, delete the whole reply; each back to the page.
    page = client.get("/console/replies").text
    assert f'action="/console/replies/{made["id"]}/delete-reply"' in page and "Late, sorry." in page
    form = client.post(path, data={"csrf_token": csrf, "text": "Late again."})
    assert form.status_code == 303 and form.headers["location"] == "/console/replies"
    assert saved_replies.every_version(store)[0].text == "Late again."
    turkish = saved_replies.save("Late", "tr", "Gecikti.", store)
    gone = client.post(f"/console/replies/{turkish.id}/delete", data={"csrf_token": csrf})
    assert gone.status_code == 303 and [v.language for v in saved_replies.every_version(store)] == [
        "en"
    ]
    whole = client.post(f"{path}/delete-reply", headers=token)
    assert whole.json() == {"deleted_reply": "Late"} and saved_replies.every_version(store) == []


def test_a_ticket_offers_its_saved_replies_filled_in_the_shoppers_language(client, store):
    conversation = conversations.start("api", engine=store)
    conversations.add(conversation.id, "shopper", "siparişim nerede", engine=store)
    conversations.set_language(conversation.id, "tr", "detected", store)
    with_order = tickets.hand_off(conversation.id, "shopper_request", "10424", engine=store)
    bare = conversations.start("api", engine=store)
    conversations.add(bare.id, "shopper", "hello", engine=store)
    without_order = tickets.hand_off(bare.id, "shopper_request", engine=store)
    saved_replies.save("Shipping delay", "en", "Order {order_number}: {tracking_link}", store)
    saved_replies.save("Shipping delay", "tr", "{order_number} numaralı sipariş: {x}", store)
    saved_replies.save("Thanks", "en", "Thanks, {first_name}! {tracking_link}", store)
    path = f"/console/tickets/{with_order}/saved-replies"
    assert client.get(path, headers=JSON).status_code == 401
    log_in(client)
    offered = client.get(path, headers=JSON).json()
    assert offered["language"] == "tr" and offered["order_number"] == "10424"
    assert [
        (r["name"], r["language"], r["text"], r["unfilled"]) for r in offered["saved_replies"]
    ] == [
        ("Shipping delay", "tr", "10424 numaralı sipariş: {x}", []),
        (
            "Thanks",
            "en",
            "Thanks, Ethan! https://www.fedex.com/fedextrack/?trknbr=714004536591271",
            [],
        ),
    ]
    bare_offer = client.get(f"/console/tickets/{without_order}/saved-replies", headers=JSON).json()
    assert bare_offer["order_number"] is None
    assert bare_offer["saved_replies"][0]["text"] == "Order {order_number}: {tracking_link}"
    assert client.get("/console/tickets/999999/saved-replies", headers=JSON).status_code == 404
    # The page has the "/" list and its script (a file: the CSP allows no inline script).
    page = client.get(f"/console/tickets/{with_order}").text
    assert 'data-saved-replies="/console/tickets/' in page and 'role="listbox"' in page
    assert '<script src="/console/static/saved-replies.js"></script>' in page
    assert client.get("/console/static/saved-replies.js").status_code == 200

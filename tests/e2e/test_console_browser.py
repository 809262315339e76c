"""The staff console in a real browser (Debian's chromium, headless, driven by Playwright):
log in, open the ticket a shopper's handoff created, reply, and the shopper receives it; an
internal note that never reaches the shopper; assigning a ticket to a colleague."""

from __future__ import annotations

import secrets

import httpx
import pytest

from bot import conversations, staff
from bot.store.db import get_engine
from tests.conftest import PASSWORD, handed_off_shopper, screenshot, seed_order, ticket_of

pytestmark = pytest.mark.e2e


def test_agent_logs_in_opens_the_ticket_and_the_reply_reaches_the_shopper(stack, browser):
    engine = get_engine(stack.db_url)
    username = f"browser-{secrets.token_hex(3)}"
    staff.create_user(username, PASSWORD, engine)
    shopper = handed_off_shopper(stack)
    shopper.says("It was a birthday present, it has to arrive by Friday")
    ticket_id = ticket_of(engine, shopper.id).id
    shopper.receives(wait=0)

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{stack.gateway_url}/console")
    assert "/console/login" in page.url  # nothing without login
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("wrong password!")
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("alert").wait_for()
    assert "Wrong username or password" in page.get_by_role("alert").inner_text()

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("link", name=f"H-{ticket_id}", exact=True).click()
    transcript = page.locator("#transcript")
    transcript.get_by_text("It was a birthday present").wait_for()
    assert "#10423" in page.locator(".order").inner_text()  # the verified order beside it
    assert "asked for a person" in page.locator("h1").inner_text()

    page.get_by_label("Reply to the shopper").fill("Hi! I'm on it: it will be there Thursday.")
    page.get_by_role("button", name="Send").click()
    transcript.get_by_text("I'm on it: it will be there Thursday").wait_for()

    received = shopper.receives(wait=10)
    assert [(m["sender"], m["text"]) for m in received] == [
        ("agent", "Hi! I'm on it: it will be there Thursday.")
    ]
    # The shopper writes back; the open ticket page shows it without a reload.
    shopper.says("Thank you so much!")
    transcript.get_by_text("Thank you so much!").wait_for(timeout=10_000)
    screenshot(page, "console-ticket")
    page.close()


def log_in(page, gateway_url: str, username: str) -> None:
    page.goto(f"{gateway_url}/console/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{gateway_url}/console")


def test_a_note_stays_with_staff_and_assigning_moves_the_ticket_to_the_colleague(stack, browser):
    """A shopper in the widget asks for a person. An agent writes an internal note: the
    console shows it, marked as a note; the widget and the shopper API never get it (the
    colleague's reply, sent after it, arrives; the note does not). Assigning the ticket to a
    colleague takes it out of "Unassigned" into the colleague's "Mine", and the history says
    who did it."""
    engine = get_engine(stack.db_url)
    lead, colleague = (f"{who}-{secrets.token_hex(3)}" for who in ("lead", "colleague"))
    for name in (lead, colleague):
        staff.create_user(name, PASSWORD, engine)
    order = seed_order("10423")

    widget = browser.new_context(viewport={"width": 1200, "height": 850})
    shop = widget.new_page()
    shop.goto(f"{stack.gateway_url}/demo")
    shop.get_by_role("button", name="Chat with us").click()
    log = shop.locator("ol.log")
    for text, answer in [
        ("where is my order 10423?", "what's the email address or the delivery postcode"),
        (order["email"], "Order #10423 is"),
        ("I want to talk to a person", "reference H-"),
    ]:
        shop.get_by_label("Your message").fill(text)
        shop.get_by_label("Your message").press("Enter")
        log.get_by_text(answer).first.wait_for()
    key = shop.evaluate(
        "Object.entries(localStorage).find(([k]) => k.startsWith('storefront-assist:'))[1]"
    )
    ticket_id = ticket_of(engine, conversations.stored_id(key)).id
    link = f"H-{ticket_id}"

    console = browser.new_context(viewport={"width": 1280, "height": 900})
    page = console.new_page()
    log_in(page, stack.gateway_url, lead)
    page.get_by_role("link", name="Unassigned", exact=True).click()
    page.get_by_role("link", name=link, exact=True).click()
    note = f"Internal {secrets.token_hex(3)}: loyal customer, offer free express shipping."
    page.get_by_label("Internal note").fill(note)
    page.get_by_role("button", name="Add note").click()
    shown = page.locator("#transcript li.note").filter(has_text=note)
    shown.wait_for()
    assert "Internal note" in shown.inner_text() and lead in shown.inner_text()
    assert page.locator("#transcript li.shopper").filter(has_text=note).count() == 0

    page.get_by_label("Colleague").select_option(label=colleague)
    page.get_by_role("button", name="Assign to colleague").click()
    page.locator("#history").get_by_text(f"assigned to {colleague} by {lead}").wait_for()
    screenshot(page, "console-ticket-note-history")
    page.goto(f"{stack.gateway_url}/console?queue=unassigned")
    assert page.get_by_role("link", name=link, exact=True).count() == 0
    page.get_by_role("link", name="Mine", exact=True).click()
    assert page.get_by_role("link", name=link, exact=True).count() == 0  # the lead's: not it

    # The colleague, in a browser of their own, finds it in their "Mine" and answers.
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    theirs = other.new_page()
    log_in(theirs, stack.gateway_url, colleague)
    theirs.get_by_role("link", name="Mine", exact=True).click()
    theirs.get_by_role("link", name=link, exact=True).click()
    theirs.locator("#transcript li.note").filter(has_text=note).wait_for()  # staff see notes
    theirs.get_by_label("Reply to the shopper").fill("Hello! Express shipping is on us.")
    theirs.get_by_role("button", name="Send").click()

    # The shopper: the reply written after the note arrives live; the note never does.
    log.get_by_text("Express shipping is on us").wait_for(timeout=10_000)
    assert note not in log.inner_text()
    api = httpx.get(f"{stack.gateway_url}/api/conversations/{key}/messages", timeout=30)
    said = [m["text"] for m in api.json()["messages"]]
    assert "Hello! Express shipping is on us." in said and note not in str(said)
    history = theirs.locator("#history")
    theirs.reload()
    assert f"assigned to {colleague} by {lead}" in history.inner_text()
    for context in (widget, console, other):
        context.close()

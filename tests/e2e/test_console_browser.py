"""The staff console in a real browser (Debian's chromium, headless, driven by Playwright):
log in, open the ticket a shopper's handoff created, reply, and the shopper receives it."""

from __future__ import annotations

import secrets

import pytest

from bot import staff
from bot.store.db import get_engine
from tests.conftest import PASSWORD, handed_off_shopper, screenshot, ticket_of

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

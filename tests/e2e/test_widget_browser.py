"""The on-site chat widget in a real browser (Debian's chromium, headless, Playwright) on the
gateway's demo shop page: an order question, a quick reply, a reload that keeps the history,
and an agent's reply after a handoff arriving live."""

from __future__ import annotations

import pytest

from bot import conversations, demo_shop
from bot.store.db import get_engine
from tests.conftest import new_agent, screenshot, seed_order, ticket_of

pytestmark = pytest.mark.e2e


def chat_log(page):
    return page.locator("ol.log")


def say(page, text: str) -> None:
    page.get_by_label("Your message").fill(text)
    page.get_by_label("Your message").press("Enter")


def test_widget_conversation_quick_reply_reload_and_agent_reply(stack, browser):
    order = seed_order("10423")
    context = browser.new_context(viewport={"width": 1200, "height": 850})
    page = context.new_page()
    page.goto(f"{stack.gateway_url}/demo")
    launcher = page.get_by_role("button", name="Chat with us")
    launcher.focus()
    page.keyboard.press("Enter")  # keyboard works: the launcher is a real button
    log = chat_log(page)

    say(page, "where is my order 10423?")
    log.get_by_text("what's the email address or the delivery postcode").wait_for()
    say(page, order["email"])
    log.get_by_text("Order #10423 is paid").wait_for()

    say(page, "Do you ship to Canada?")
    log.get_by_text("We ship to Canada").wait_for()
    # A quick reply (the last Yes: the offer of order updates before it no longer counts).
    page.get_by_role("button", name="Yes").last.click()
    log.get_by_text("Glad I could help!").wait_for()
    assert log.locator("li.shopper").last.inner_text() == "Yes"

    page.reload()  # the same conversation and its history come back
    chat_log(page).get_by_text("Glad I could help!").wait_for()
    assert chat_log(page).get_by_text("Order #10423 is paid").count() == 1
    key = page.evaluate(
        "Object.entries(localStorage).find(([k]) => k.startsWith('storefront-assist:'))[1]"
    )
    cid = conversations.stored_id(key)  # the widget holds the key; the store, its hash

    say(page, "I want to talk to a person")
    chat_log(page).get_by_text("reference H-").wait_for()
    ticket = ticket_of(get_engine(stack.db_url), cid)
    agent = new_agent(stack)
    page_detail = agent.ticket(ticket.id)
    assert page_detail["ticket"]["order_number"] == "10423"
    reply = (
        "Hi, it's Sam from the shop: your order ships tomorrow. Tracking: https://example.com/t/1"
    )
    assert agent.post(f"/console/tickets/{ticket.id}/reply", text=reply).status_code == 200
    arrived = chat_log(page).locator("li.agent")
    arrived.wait_for(timeout=10_000)  # live, without a reload
    assert "your order ships tomorrow" in arrived.inner_text()
    assert arrived.get_by_role("link").get_attribute("href") == "https://example.com/t/1"
    screenshot(page, "widget-desktop")

    page.set_viewport_size({"width": 375, "height": 740})  # a phone
    box = page.get_by_role("dialog", name="Chat with the shop").bounding_box()
    assert box["width"] == 375
    screenshot(page, "widget-phone")
    page.keyboard.press("Escape")
    assert page.get_by_role("dialog", name="Chat with the shop").is_hidden()
    context.close()


def test_a_refused_stream_comes_back_when_the_shopper_writes_and_misses_nothing(stack, browser):
    """The live stream is refused once (a 429, as past the per-conversation cap): the browser
    gives up on it. The shopper's next message starts it again at once, and the message itself
    (which only the stream brings) appears, though the reply the POST returned is newer."""
    context = browser.new_context(viewport={"width": 1200, "height": 850})
    page = context.new_page()
    refused = []

    def refuse_once(route):
        if refused:
            route.continue_()
            return
        refused.append(route.request.url)
        route.fulfill(status=429, content_type="application/json", body='{"error": "busy"}')

    page.route("**/events*", refuse_once)
    page.goto(f"{stack.gateway_url}/demo")
    page.get_by_role("button", name="Chat with us").click()
    for _ in range(200):  # the widget asked for its stream, and was refused
        if refused:
            break
        page.wait_for_timeout(50)
    log = chat_log(page)
    say(page, "hello there")
    log.locator("li.bot").first.wait_for()
    log.locator("li.shopper").filter(has_text="hello there").wait_for(timeout=5000)
    assert refused and log.locator("li.shopper").count() == 1
    context.close()


def test_an_order_update_arrives_live_in_the_open_widget(stack, browser):
    """Yes to updates in the widget; the shop ships the order (`bot shop advance`'s signed
    webhook); the update appears without a reload, and its button stops further updates."""
    number = "10432"  # pending, used by no other test
    context = browser.new_context(viewport={"width": 1200, "height": 850})
    page = context.new_page()
    page.goto(f"{stack.gateway_url}/demo")
    page.get_by_role("button", name="Chat with us").click()
    log = chat_log(page)
    say(page, f"where is my order {number}?")
    log.get_by_text("what's the email address or the delivery postcode").wait_for()
    say(page, seed_order(number)["email"])
    log.get_by_text("Shall I message you here when it ships?").wait_for()
    page.get_by_role("button", name="Yes").last.click()
    log.get_by_text(f"I'll message you here when order #{number} moves on").wait_for()

    demo_shop.advance(number, "ship", engine=get_engine(stack.db_url))
    assert demo_shop.notify_gateway(stack.gateway_url, number, "ship")["accepted"]
    log.get_by_text(f"order #{number} has shipped with UPS").wait_for(timeout=15000)
    screenshot(page, "widget-order-update")
    page.get_by_role("button", name="Stop updates").click()
    log.get_by_text("won't send you any more order updates").wait_for()
    context.close()

"""Korean, Hebrew and Arabic in a real browser (Debian's chromium, Playwright): the widget's own
words in the conversation's language, right-to-left for Hebrew and Arabic, each message in its
own direction; the console and Insights showing Hebrew the right way round. Screenshots in
var/test-artifacts/ (widget-ko, widget-he, widget-ar, console-ticket-he, insights-he)."""

from __future__ import annotations

import pytest

from bot import conversations
from bot.store.db import get_engine
from tests.conftest import PASSWORD, new_agent, screenshot, seed_order, ticket_of

pytestmark = pytest.mark.e2e


def open_widget(browser, stack):
    context = browser.new_context(viewport={"width": 1200, "height": 850})
    page = context.new_page()
    page.goto(f"{stack.gateway_url}/demo")
    page.get_by_role("button", name="Chat with us").click()
    return context, page


def say(page, text: str) -> None:
    box = page.locator("#storefront-assist input[name=text]")
    box.fill(text)
    box.press("Enter")


def direction(locator) -> str:
    return locator.evaluate("element => getComputedStyle(element).direction")


def conversation_id(page) -> str:
    """The stored id of the widget's conversation (the widget keeps its key)."""
    key = page.evaluate(
        "Object.entries(localStorage).find(([k]) => k.startsWith('storefront-assist:'))[1]"
    )
    return conversations.stored_id(key)


def test_korean_in_the_widget(stack, browser):
    order = seed_order("10423")
    context, page = open_widget(browser, stack)
    say(page, "제 주문 어디쯤 왔나요? 주문번호 #10423입니다.")
    log = page.locator("ol.log")
    log.locator("li.bot").filter(has_text="#10423").first.wait_for()
    say(page, order["email"])
    log.locator("li.bot").filter(has_text="10423").nth(1).wait_for()
    # The widget's own words follow the conversation into Korean.
    page.wait_for_function(
        "() => document.querySelector('#storefront-assist').shadowRoot"
        ".querySelector('.panel').lang === 'ko'"
    )
    assert page.locator("#storefront-assist button.send").inner_text() not in ("", "Send")
    assert direction(log.locator("li.bot").last) == "ltr"
    screenshot(page, "widget-ko")
    context.close()


def test_hebrew_chosen_in_the_menu_turns_the_widget_right_to_left(stack, browser):
    context, page = open_widget(browser, stack)
    page.get_by_role("combobox").select_option("he")
    log = page.locator("ol.log")
    log.locator("li.bot").first.wait_for()
    panel = page.get_by_role("dialog")
    panel.wait_for()
    page.wait_for_function(
        "() => document.querySelector('#storefront-assist').shadowRoot"
        ".querySelector('.panel').dir === 'rtl'"
    )
    say(page, "כמה עולה משלוח?")
    log.locator("li.bot").nth(1).wait_for()
    shopper = log.locator("li.shopper").last
    assert shopper.get_attribute("dir") == "auto" and direction(shopper) == "rtl"
    assert direction(log.locator("li.bot").last) == "rtl"
    placeholder = page.locator("#storefront-assist input[name=text]").get_attribute("placeholder")
    assert placeholder and placeholder != "Type your message…"
    screenshot(page, "widget-he")
    context.close()


def test_arabic_typed_turns_the_widget_right_to_left(stack, browser):
    context, page = open_widget(browser, stack)
    say(page, "مرحبا، أين طلبي؟ أريد أن أعرف متى يصل")
    log = page.locator("ol.log")
    log.locator("li.bot").first.wait_for()
    page.wait_for_function(
        "() => document.querySelector('#storefront-assist').shadowRoot"
        ".querySelector('.panel').dir === 'rtl'"
    )
    assert direction(log.locator("li.bot").first) == "rtl"
    screenshot(page, "widget-ar")
    context.close()


def test_hebrew_in_the_console_and_insights(stack, browser):
    context, page = open_widget(browser, stack)
    say(page, "מה מזג האוויר מחר בתל אביב?")  # off-topic: "I don't know", a gap
    page.locator("ol.log li.bot").first.wait_for()
    say(page, "אני רוצה לדבר עם נציג בבקשה")
    page.locator("ol.log li.bot").filter(has_text="H-").wait_for()
    ticket = ticket_of(get_engine(stack.db_url), conversation_id(page))
    context.close()

    agent = new_agent(stack)
    username = agent.http.get("/console/session").json()["username"]
    hebrew = "שלום, אני מהצוות ואשמח לעזור."
    agent.post("/console/replies", name="hello from staff", language="en", text="Hi, I'm here.")
    agent.post("/console/replies", name="hello from staff", language="he", text=hebrew)
    console = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    console.goto(f"{stack.gateway_url}/console/login")
    console.get_by_label("Username").fill(username)
    console.get_by_label("Password").fill(PASSWORD)
    console.get_by_role("button", name="Log in").click()
    console.goto(f"{stack.gateway_url}/console/tickets/{ticket.id}")
    message = console.locator("#transcript li.shopper p").first
    assert message.get_attribute("dir") == "auto" and direction(message) == "rtl"
    assert "עברית (he)" in console.locator("p.meta").inner_text()
    # The saved reply's Hebrew version goes into the reply box, right-to-left.
    console.locator("#saved-reply").select_option(label="hello from staff (he)")
    box = console.locator("#reply-text")
    assert box.input_value() == hebrew and direction(box) == "rtl"
    screenshot(console, "console-ticket-he")

    console.goto(f"{stack.gateway_url}/console/insights?since=1d")
    gap = console.locator("#gaps bdi").filter(has_text="מזג האוויר")
    gap.first.wait_for()
    assert direction(gap.first) == "rtl"
    assert console.locator("#languages").get_by_text("עברית (he)").count() == 1
    screenshot(console, "insights-he")

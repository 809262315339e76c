"""Saved replies in a real browser (Debian's chromium, headless, driven by Playwright): a
Turkish shopper verifies an order and asks for a person; the agent types "/" in the reply box,
narrows the list by name, picks the reply with the keyboard, and the box holds its Turkish
version with the order number filled in; sent, the shopper receives exactly that text.
Screenshot in var/test-artifacts/ (console-saved-reply)."""

from __future__ import annotations

import secrets

import pytest

from bot.store.db import get_engine
from tests.conftest import PASSWORD, Shopper, new_agent, screenshot, seed_order, ticket_of

pytestmark = pytest.mark.e2e


def test_a_saved_reply_goes_in_turkish_with_the_order_number_and_reaches_the_shopper(
    stack, browser
):
    engine = get_engine(stack.db_url)
    order = seed_order("10423")
    shopper = Shopper(stack)
    assert "#10423" in shopper.says("Merhaba, 10423 numaralı siparişim ne durumda acaba?")
    assert "numaralı sipariş" in shopper.says(f"E-posta adresim {order['email']}")
    assert "H-" in shopper.says("Bir yetkiliyle görüşmek istiyorum lütfen")
    assert shopper.mode == "human"
    ticket = ticket_of(engine, shopper.id)
    assert ticket.order_number == "10423"
    shopper.receives(wait=0)

    agent = new_agent(stack)
    tag = secrets.token_hex(3)  # the stack's store is shared: names of this test only
    delay, thanks = f"Shipping delay {tag}", f"Thanks for waiting {tag}"
    turkish = "#{order_number} numaralı siparişiniz kargoda gecikti; yarın elinizde olacak."
    for name, language, text in [
        (delay, "en", "Your order #{order_number} is delayed; it will arrive tomorrow."),
        (delay, "tr", turkish),
        (thanks, "en", "Thanks for waiting, {first_name}! {tracking_link}"),  # English only
    ]:
        assert agent.post("/console/replies", name=name, language=language, text=text).is_success
    username = agent.http.get("/console/session").json()["username"]

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{stack.gateway_url}/console/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{stack.gateway_url}/console")
    page.goto(f"{stack.gateway_url}/console/tickets/{ticket.id}")
    box = page.get_by_label("Reply to the shopper")
    saved = page.get_by_role("listbox", name="Saved replies")

    # "/" opens the list; Escape closes it and leaves the box as typed.
    box.press_sequentially("/")
    saved.get_by_role("option").filter(has_text=delay).wait_for()
    assert saved.get_by_role("option").filter(has_text=thanks).count() == 1
    assert box.get_attribute("aria-expanded") == "true"
    box.press("Escape")
    saved.wait_for(state="hidden")
    assert box.input_value() == "/"

    # A click inserts too; a placeholder the order cannot fill stays, selected for the agent.
    box.fill("")
    box.press_sequentially(f"/than {tag}")
    saved.get_by_role("option").filter(has_text=thanks).click()
    # (10423 has not shipped: no tracking link yet.)
    assert box.input_value() == "Thanks for waiting, Zoe! {tracking_link}"
    selected = box.evaluate("b => b.value.slice(b.selectionStart, b.selectionEnd)")
    assert selected == "{tracking_link}"

    # "/ship" narrows the list to the names holding it; arrows and Enter pick ours.
    box.fill("")
    box.press_sequentially("/ship")
    ours = saved.get_by_role("option").filter(has_text=delay)
    ours.wait_for()
    assert saved.get_by_role("option").filter(has_text=thanks).count() == 0
    names = saved.get_by_role("option").all_inner_texts()
    assert names and all("ship" in name.lower() for name in names)
    assert "tr" in ours.inner_text()  # the shopper's language, shown in the list
    for _ in range(len(names)):
        if ours.get_attribute("aria-selected") == "true":
            break
        box.press("ArrowDown")
    assert ours.get_attribute("aria-selected") == "true"
    screenshot(page, "console-saved-reply")
    box.press("Enter")
    expected = "#10423 numaralı siparişiniz kargoda gecikti; yarın elinizde olacak."
    assert box.input_value() == expected
    assert saved.is_hidden()

    page.get_by_role("button", name="Send").click()
    page.locator("#transcript li.agent").filter(has_text=expected).wait_for()
    received = shopper.receives(wait=10)
    assert [(m["sender"], m["text"]) for m in received] == [("agent", expected)]
    page.close()

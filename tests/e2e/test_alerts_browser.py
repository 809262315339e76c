"""Staff alerts on the running stack: a console open in a real browser (Debian's chromium,
headless, driven by Playwright) shows a new ticket at once, without a reload, with a browser
notification, a banner and a beep; a shopper writing on my ticket does the same; the sound
switch turned off is remembered and then nothing beeps. The event stream itself needs a login
and ends with the session; a gateway with SMTP settings emails on a handoff (aiosmtpd on
loopback). Screenshot in var/test-artifacts/ (console-alert)."""

from __future__ import annotations

import httpx
import pytest

from bot.store.db import get_engine
from tests.conftest import PASSWORD, Shopper, gateway_with, new_agent, screenshot, ticket_of
from tests.fakes.server import wait_for
from tests.unit.test_alerts import smtp_server

pytestmark = pytest.mark.e2e

# Runs before the page's own scripts: records the notifications the page raises, its use of
# WebAudio (every beep makes an oscillator), and when its event stream is open.
RECORDER = """
window.__notes = [];
window.__audio = { contexts: 0, beeps: 0 };
window.__streamOpen = false;
(() => {
  const RealNotification = window.Notification;
  window.Notification = class extends RealNotification {
    constructor(title, options) {
      super(title, options);
      window.__notes.push({ title: title, body: (options || {}).body || "" });
    }
  };
  const RealAudioContext = window.AudioContext;
  window.AudioContext = class extends RealAudioContext {
    constructor(...args) {
      super(...args);
      window.__audio.contexts += 1;
    }
    createOscillator() {
      window.__audio.beeps += 1;
      return super.createOscillator();
    }
  };
  const RealEventSource = window.EventSource;
  window.EventSource = class extends RealEventSource {
    constructor(...args) {
      super(...args);
      this.addEventListener("open", () => { window.__streamOpen = true; });
    }
  };
})();
"""


def hands_off(stack, engine, text: str = "I want to talk to a person") -> tuple[int, Shopper]:
    """A new shopper asks for a person through the API; the ticket's id."""
    shopper = Shopper(stack)
    assert "H-" in shopper.says(text)
    return ticket_of(engine, shopper.id).id, shopper


def notes(page) -> list[dict]:
    return page.evaluate("window.__notes")


def test_a_new_ticket_and_my_shoppers_message_raise_alerts_in_an_open_console(stack, browser):
    engine = get_engine(stack.db_url)
    agent = new_agent(stack)
    username = agent.http.get("/console/session").json()["username"]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.grant_permissions(["notifications"], origin=stack.gateway_url)
    context.add_init_script(RECORDER)
    page = context.new_page()
    page.goto(f"{stack.gateway_url}/console/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(f"{stack.gateway_url}/console")
    page.wait_for_function("window.__streamOpen")
    sound = page.get_by_label("Alert sound")
    assert sound.is_checked()  # on unless turned off
    # Someone typing a search: the queue's periodic reload waits, so what appears came live.
    page.get_by_role("searchbox").focus()
    page.evaluate("window.__stayed = true")

    ticket, shopper = hands_off(stack, engine)
    row = page.locator("#queue tr").filter(
        has=page.get_by_role("link", name=f"H-{ticket}", exact=True)
    )
    row.wait_for(timeout=10_000)
    assert page.evaluate("window.__stayed") is True  # no reload
    assert "alert-new" in row.get_attribute("class")  # marked as new
    title = f"New ticket H-{ticket}: asked for a person"
    page.wait_for_function("window.__notes.length > 0")
    assert [n["title"] for n in notes(page)] == [title]
    assert page.locator("#alert-banner").get_by_role("link", name=title).is_visible()
    assert page.evaluate("window.__audio.beeps") == 1
    screenshot(page, "console-alert")

    # The ticket is mine: the shopper writing on it alerts me too.
    assert agent.post(f"/console/tickets/{ticket}/assign").status_code == 200
    assert shopper.says("Are you still there?") == ""  # a person has it: the bot is quiet
    wrote = f"H-{ticket}: the shopper wrote"
    page.wait_for_function(f"window.__notes.some(n => n.title === {wrote!r})")
    assert page.locator("#alert-banner").get_by_role("link", name=wrote).is_visible()

    # Sound off: remembered after a reload, and the next ticket makes no beep at all.
    sound.uncheck()
    page.reload()
    page.wait_for_function("window.__streamOpen")
    assert not page.get_by_label("Alert sound").is_checked()
    second, _ = hands_off(stack, engine)
    page.locator("#queue").get_by_role("link", name=f"H-{second}", exact=True).wait_for(
        timeout=10_000
    )
    page.wait_for_function("window.__notes.length > 0")
    assert [n["title"] for n in notes(page)] == [f"New ticket H-{second}: asked for a person"]
    assert page.evaluate("window.__audio") == {"contexts": 0, "beeps": 0}
    context.close()


def test_the_event_stream_needs_a_login_and_ends_with_the_session(stack):
    engine = get_engine(stack.db_url)
    anonymous = httpx.get(f"{stack.gateway_url}/console/events", timeout=10)
    assert anonymous.status_code == 401
    agent = new_agent(stack)
    with agent.http.stream(
        "GET",
        "/console/events",
        headers={"accept": "text/event-stream"},
        timeout=httpx.Timeout(10, read=45),
    ) as stream:
        assert stream.status_code == 200
        assert stream.headers["content-type"].startswith("text/event-stream")
        lines = stream.iter_lines()
        assert next(lines).startswith("retry:")
        ticket, _ = hands_off(stack, engine)
        data = next(line for line in lines if line.startswith("data:"))
        assert '"type": "new_ticket"' in data and f'"ticket": {ticket}' in data
        # Logged out (in another tab, say): the stream says so and ends.
        assert agent.post("/console/logout").status_code == 303
        assert "event: logout" in list(lines)


def test_a_gateway_with_smtp_settings_emails_staff_on_a_handoff(stack):
    engine = get_engine(stack.db_url)
    with smtp_server() as (inbox, port):
        settings = {
            "SMTP_HOST": "127.0.0.1",
            "SMTP_PORT": str(port),
            "ALERT_EMAIL_TO": "duty@shop.example,lead@shop.example",
        }
        with gateway_with(stack, settings) as gateway:
            ticket, _ = hands_off(gateway, engine)
            wait_for(lambda: inbox.envelopes, what="the alert email")
    (email,) = inbox.messages()
    assert sorted(inbox.envelopes[0].rcpt_tos) == ["duty@shop.example", "lead@shop.example"]
    assert email["Subject"] == f"New ticket H-{ticket}: asked for a person"
    assert f"/console/tickets/{ticket}" in email.get_content()
    assert "I want to talk" not in inbox.envelopes[0].content.decode()  # nothing the shopper wrote

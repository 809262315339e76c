"""The console's Insights page in a real browser, on a gateway whose store holds the known
conversations of tests/report_seed.py: the figures and charts show, a staff member turns an
FAQ gap into an FAQ entry the assistant answers at once, CSAT shows with each comment one click
from its transcript; and a widget shopper's rating after a handoff reaches Insights."""

from __future__ import annotations

import re
import shutil
from datetime import timedelta

import pytest

from bot import conversations, staff
from bot.clock import utcnow
from bot.faq.added import ADDED_FILE
from bot.faq.entries import DEFAULT_FAQ
from bot.store.db import get_engine
from tests.conftest import PASSWORD, gateway_with, new_agent, screenshot, ticket_of
from tests.report_seed import seed_report_store

pytestmark = pytest.mark.e2e


@pytest.fixture
def insights_gateway(stack, tmp_path):
    db_url = f"sqlite:///{tmp_path / 'insights.db'}"
    engine = get_engine(db_url)
    seed_report_store(engine, now=utcnow())
    staff.create_user("insights-agent", PASSWORD, engine)
    faq = tmp_path / "faq"
    shutil.copytree(DEFAULT_FAQ, faq)
    (faq / ADDED_FILE).unlink(missing_ok=True)
    with gateway_with(stack, {"STORE_DATABASE_URL": db_url, "FAQ_PATH": str(faq)}) as gateway:
        gateway.faq = faq
        yield gateway


def test_insights_page_shows_the_figures_and_a_gap_becomes_an_faq_entry(insights_gateway, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{insights_gateway.gateway_url}/console/insights")
    page.get_by_label("Username").fill("insights-agent")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Insights").wait_for()

    tiles = page.locator(".tiles").inner_text()
    assert "7\nconversations" in tiles and "43%\ncontained by the bot" in tiles
    assert "4\nhandoffs" in tiles and "4.0 min\nmedian wait for a person" in tiles
    volume = page.get_by_role("img", name="Conversations per day")
    bars = volume.locator("rect:has(title)")  # the legend's keys have no title
    assert bars.count() == 4  # two days with conversations, each contained + handed off
    containment = page.get_by_role("img", name="Containment").inner_html()
    assert "43% contained (3)" in containment and "57% handed off (4)" in containment
    reasons = page.get_by_role("img", name="Handoffs by reason").inner_html()
    assert "asked for a person" in reasons and "repeated fallback" in reasons
    assert page.locator("tr.bad").first.inner_text().startswith("refund-times")
    screenshot(page, "console-insights")

    gap = page.locator(".gap").filter(has_text="zippers")
    assert gap.locator(".count").inner_text() == "2"
    gap.get_by_text("Write an FAQ entry for this").click()
    assert (
        "torn jacket"
        in gap.get_by_label("Question").input_value()
        + gap.get_by_label("Other ways shoppers ask it (one per line)").input_value()
    )
    gap.get_by_label("Answer").fill(
        "Yes: our repair service mends zips, seams and tears. Email repairs@northwind.example."
    )
    gap.get_by_role("button", name="Add to the FAQ").click()
    page.get_by_role("status").wait_for()
    assert "The assistant answers it from now on" in page.get_by_role("status").inner_text()
    # The gap is now covered by the new entry, and the file is in the FAQ folder.
    covered = page.locator(".gap").filter(has_text="zippers").locator(".covered")
    assert covered.inner_text().startswith("answered now by ")
    assert "repair service" in (insights_gateway.faq / ADDED_FILE).read_text()
    page.close()


def test_insights_need_a_login_and_the_csrf_token(insights_gateway):
    import httpx

    http = httpx.Client(base_url=insights_gateway.gateway_url)
    assert http.get("/console/insights").status_code == 303
    assert http.get("/console/insights", headers={"accept": "application/json"}).status_code == 401
    http.post("/console/login", data={"username": "insights-agent", "password": PASSWORD})
    as_json = {"accept": "application/json"}
    report = http.get("/console/insights", headers=as_json).json()
    assert report["conversations"] == 7
    # A date range: the three conversations of two days ago, whole days, any hour.
    now = utcnow()
    days = {
        "from": str((now - timedelta(days=3)).date()),
        "to": str((now - timedelta(days=2)).date()),
    }
    ranged = http.get("/console/insights", params=days, headers=as_json).json()
    assert ranged["conversations"] == 3 and ranged["handoffs"]["total"] == 1
    backwards = {"from": days["to"], "to": days["from"]}
    assert http.get("/console/insights", params=backwards, headers=as_json).status_code == 400
    bad = http.get("/console/insights", params={"from": "soon"}, headers=as_json)
    assert bad.status_code == 400
    refused = http.post("/console/insights/faq", data={"question": "q?", "answer": "a"})
    assert refused.status_code == 403
    assert not (insights_gateway.faq / ADDED_FILE).exists()


def log_in(page, url: str, username: str) -> None:
    page.goto(f"{url}/console/insights")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("heading", name="Insights").wait_for()


def bar_total(chart, what: str) -> int:
    """The sum of the bars of one kind, read from each bar's own title ("date: 2 rated 4-5")."""
    titles = chart.locator("rect > title").all_text_contents()
    return sum(int(m.group(1)) for t in titles if (m := re.search(rf": (\d+) {what}$", t)))


def test_insights_show_csat_and_a_comment_opens_its_transcript(insights_gateway, browser):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    log_in(page, insights_gateway.gateway_url, "insights-agent")
    assert page.locator("#csat-bot-satisfied .figure").inner_text() == "100%"
    assert page.locator("#csat-bot-average .figure").inner_text() == "4.50"
    assert page.locator("#csat-handoffs-satisfied .figure").inner_text() == "50%"
    assert page.locator("#csat-handoffs-average .figure").inner_text() == "3.50"
    chart = page.get_by_role("img", name="Ratings per day")
    assert bar_total(chart, "rated 4-5") == 4 and bar_total(chart, "rated 1-3") == 2
    by_agent = page.locator("#csat-by-agent tbody tr").all_inner_texts()
    assert [row.split("\t")[0] for row in by_agent] == ["ana", "ben"]
    assert "Türkçe (tr)" in page.locator("#csat-by-language").inner_text()
    trends = page.locator("#ticket-trends")
    assert "asked for a person" in trends.inner_text()
    assert trends.locator("tbody tr").last.inner_text().split("\t")[0] == "All tickets"
    comments = page.locator(".csat-comment")
    assert comments.count() == 3
    assert (
        page.get_by_role("link", name="Download CSV").get_attribute("href").endswith("format=csv")
    )
    screenshot(page, "console-insights-csat")

    # A comment about the bot alone: its conversation, read only.
    comments.filter(has_text="Quick and clear").get_by_role("link").click()
    page.get_by_role("heading", name="Conversation").wait_for()
    assert page.url.endswith("/console/conversations/report-conversation-01")
    assert page.locator("#transcript").get_by_text("where is my order?").is_visible()
    assert "5/5" in page.locator("#conversation-ratings").inner_text()
    assert page.get_by_role("textbox").count() == 0  # nothing to send from here
    screenshot(page, "console-conversation")
    page.go_back()
    # A comment after a handoff: its ticket.
    comments.filter(has_text="Took too long").get_by_role("link").click()
    page.get_by_role("heading", name=re.compile(r"^H-\d+")).wait_for()
    assert "/console/tickets/" in page.url
    assert page.locator("#transcript").get_by_text("how long do refunds take?").is_visible()
    page.close()


def test_a_widget_rating_shows_in_insights(stack, browser):
    """A shopper hands off in the widget, an agent resolves, the widget asks "How did we do?"
    with 1-5 and the shopper presses 4: Insights counts one handoff rated 4 for that agent."""
    context = browser.new_context(viewport={"width": 1200, "height": 850})
    page = context.new_page()
    page.goto(f"{stack.gateway_url}/demo")
    page.get_by_role("button", name="Chat with us").click()
    log = page.locator("ol.log")
    page.get_by_label("Your message").fill("I want to talk to a person")
    page.get_by_label("Your message").press("Enter")
    log.get_by_text("reference H-").wait_for()
    key = page.evaluate(
        "Object.entries(localStorage).find(([k]) => k.startsWith('storefront-assist:'))[1]"
    )
    ticket = ticket_of(get_engine(stack.db_url), conversations.stored_id(key))
    agent = new_agent(stack)
    assert agent.post(f"/console/tickets/{ticket.id}/resolve").status_code == 200

    log.get_by_text("How did we do?").wait_for(timeout=10_000)  # live, without a reload
    buttons = [str(n) for n in range(1, 6)]
    for title in buttons:
        assert page.get_by_role("button", name=title, exact=True).is_visible()
    page.get_by_role("button", name="4", exact=True).click()
    page.get_by_role("button", name="No thanks").wait_for()  # the rating was taken
    screenshot(page, "widget-csat")
    context.close()

    name = agent.http.get("/console/session").json()["username"]
    report = agent.http.get("/console/insights", params={"since": "24h", "channel": "web"})
    rows = [r for r in report.json()["csat"]["by_agent"] if r["agent"] == name]
    assert rows == [
        {
            "agent": name,
            "asked": 1,
            "rated": 1,
            "response_rate": 1.0,
            "satisfied": 1,
            "satisfied_rate": 1.0,
            "average_rating": 4.0,
        }
    ]

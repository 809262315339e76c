"""The console's Insights page in a real browser, on a gateway whose store holds the known
conversations of tests/report_seed.py: the figures and charts show, and a staff member
turns an FAQ gap into an FAQ entry the assistant answers at once."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest

from bot import staff
from bot.clock import utcnow
from bot.faq.added import ADDED_FILE
from bot.faq.entries import DEFAULT_FAQ
from bot.store.db import get_engine
from tests.conftest import PASSWORD, gateway_with, screenshot
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

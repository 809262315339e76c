"""The insights report over a store seeded with known conversations: exact figures (CSAT and
ticket trends included), the FAQ-gap groups, `bot report` in its three formats, and the
Insights page's CSV and the read-only transcript its CSAT comments link to."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from bot import cli
from bot.faq.gaps import MAX_GROUPED, group_gaps, sample_for_grouping
from bot.report import Period, build_report, parse_since
from bot.store.db import session_scope
from bot.store.models import Conversation, Message, OrderSubscription, OrderUpdate, Ticket
from tests.report_seed import NOW, seed_report_store

WEEK = Period(NOW - timedelta(days=7), NOW)


@pytest.fixture
def seeded(store):
    seed_report_store(store)
    return store


def test_the_figures_are_exact(seeded):
    report = build_report(WEEK, seeded)
    assert report["conversations"] == 7  # the empty one and the old one do not count
    assert report["messages"] == {"shopper": 13, "bot": 13, "agent": 3}
    assert report["contained"] == 3 and report["containment_rate"] == 0.429
    assert report["handoffs"] == {
        "total": 4,
        "by_reason": {"shopper_request": 2, "bot_failed": 1, "complaint": 1},
    }
    assert report["first_reply_wait"] == {"median_minutes": 4.0, "tickets": 3}
    assert report["resolution_time"] == {"median_minutes": 15.0, "tickets": 2}
    assert report["intents"] == {
        "faq": 4,
        "affirm": 2,
        "human_handoff": 2,
        "out_of_scope": 2,
        "order_status": 1,
        "deny": 1,
        "complaint": 1,
    }
    assert report["faq_answers"] == [
        {"faq_id": "international-shipping", "answered": 1, "helped": 1, "did_not_help": 0},
        {"faq_id": "refund-times", "answered": 1, "helped": 0, "did_not_help": 1},
    ]
    assert report["feedback_by_intent"] == {"faq": {"helped": 1, "did_not_help": 1}}
    assert report["dont_know_answers"] == 3
    assert [d["date"] for d in report["daily"]] == [f"2026-11-{n}" for n in range(13, 21)]
    assert [d for d in report["daily"] if d["conversations"]] == [
        {"date": "2026-11-18", "conversations": 3, "contained": 2, "handed_off": 1},
        {"date": "2026-11-20", "conversations": 4, "contained": 1, "handed_off": 3},
    ]


def test_gaps_group_paraphrases_and_keep_other_questions_apart(seeded):
    report = build_report(WEEK, seeded)
    assert report["gap_messages"] == 5
    groups = {frozenset(g["examples"]): g["size"] for g in report["faq_gaps"]}
    assert groups == {
        frozenset(["can you repair my torn jacket?", "do you fix broken zippers on coats?"]): 2,
        frozenset(["can I rent a tent for the weekend?", "do you hire out camping gear?"]): 2,
        frozenset(["this is ridiculous, my parcel is a week late"]): 1,
    }
    assert report["faq_gaps"][-1]["size"] == 1  # largest first
    # Nothing in the FAQ repairs or rents (the late parcel is close to the lost-package entry).
    assert all(g["answered_now_by"] is None for g in report["faq_gaps"] if g["size"] == 2)


PARAPHRASES = {
    "repair": [
        "can you repair my torn jacket?",
        "do you fix broken zippers on coats?",
        "is there a repair service for damaged gear?",
    ],
    "rent": [
        "can I rent a tent for the weekend?",
        "do you hire out camping gear?",
        "is equipment rental available?",
    ],
    "embroider": ["can you embroider my name on a backpack?", "do you do custom embroidery?"],
    "giftwrap": [
        "Do you offer gift wrapping?",
        "can you gift wrap my order",
        "is gift wrap available?",
    ],
    "student": [
        "Is there a student discount?",
        "do students get money off",
        "any discount for students?",
    ],
    "store": [
        "Do you have a physical shop I can visit?",
        "where is your store located",
        "can I buy in person at a shop?",
    ],
    "giftcard": ["Do you sell gift cards?", "can I buy a gift voucher?"],
    "bitcoin": ["Can I pay with bitcoin?", "do you accept crypto?"],
    "late": [
        "this is ridiculous, my parcel is a week late",
        "my package still hasn't come after 10 days",
    ],
    "vegan": ["Are your products vegan?"],
    "dog": ["do you sell dog harnesses?"],
    "loyalty": ["do you have a loyalty program?", "can I earn points when I shop?"],
}


def test_gap_clustering_keeps_questions_apart_and_finds_most_paraphrases():
    topic = {text: name for name, texts in PARAPHRASES.items() for text in texts}
    groups = group_gaps(list(topic))
    together = {frozenset((a, b)) for g in groups for a in g.examples for b in g.examples if a < b}
    truly = {frozenset((a, b)) for a in topic for b in topic if a < b and topic[a] == topic[b]}
    assert together <= truly  # nothing unrelated in one group ("gift cards" / "gift wrap")
    assert len(together & truly) / len(truly) >= 0.8
    assert {len(g.examples) for g in groups} <= {1, 2, 3}


def test_a_channel_and_a_shorter_period(seeded):
    telegram = build_report(Period(WEEK.since, WEEK.until, "telegram"), seeded, gaps=False)
    assert telegram["conversations"] == 1 and telegram["handoffs"]["total"] == 1
    assert telegram["containment_rate"] == 0.0
    today = build_report(Period(NOW - timedelta(days=1), NOW), seeded, gaps=False)
    assert today["conversations"] == 4 and today["contained"] == 1
    empty = build_report(Period(NOW - timedelta(days=400), NOW - timedelta(days=300)), seeded)
    assert empty["conversations"] == 0 and empty["containment_rate"] is None
    assert empty["first_reply_wait"] == {"median_minutes": None, "tickets": 0}


def test_since_takes_durations_and_dates():
    assert parse_since("7d", NOW) == NOW - timedelta(days=7)
    assert parse_since("24h", NOW) == NOW - timedelta(hours=24)
    assert parse_since("2w", NOW) == NOW - timedelta(weeks=2)
    assert parse_since("2026-11-01", NOW).isoformat() == "2026-11-01T00:00:00"
    with pytest.raises(ValueError, match="7d, 24h"):
        parse_since("last tuesday", NOW)


def test_bot_report_prints_the_same_numbers_as_text_json_and_csv(seeded, capsys):
    period = ["--since", "2026-11-13T12:00:00", "--until", "2026-11-20T12:00:00"]
    assert cli.main(["report", *period, "--format", "json"]) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert as_json == build_report(WEEK, seeded)

    assert cli.main(["report", *period, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    figures = {(r["section"], r["name"]): r["value"] for r in rows}
    assert figures[("volume", "conversations")] == "7"
    assert figures[("containment", "rate")] == "0.429"
    assert figures[("handoffs", "bot_failed")] == "1"
    assert figures[("tickets", "first_reply_wait_median_minutes")] == "4.0"
    assert figures[("faq_answers", "refund-times")] == "1"

    csat = {(r["section"], r["name"], r["detail"]): r["value"] for r in rows}
    assert csat[("csat", "average_rating", "overall")] == "3.833"
    assert csat[("csat", "satisfied_rate", "bot")] == "1.0"
    assert csat[("csat", "average_rating", "handoffs")] == "3.5"
    assert csat[("csat_by_agent", "average_rating", "ana")] == "2.5"
    assert csat[("csat_by_channel", "response_rate", "web")] == "0.75"
    assert csat[("csat_by_language", "average_rating", "tr")] == "4.0"
    assert csat[("csat_daily", "asked", "2026-11-16")] == "0"
    assert csat[("csat_daily", "average_rating", "2026-11-18")] == "3.667"
    assert csat[("ticket_trends", "verification_failed", "2026-W46")] == "1"
    assert csat[("ticket_trends", "tickets", "2026-W47")] == "4"
    comments = [r for r in rows if r["section"] == "csat_comments"]
    assert [(r["name"], r["value"]) for r in comments] == [
        ("2026-11-18T11:14:30Z", "2"),
        ("2026-11-18T11:03:30Z", "5"),
        ("2026-11-14T11:18:00Z", "5"),
    ]
    assert comments[0]["detail"].endswith("report-conversation-03: Took too long to get an answer.")

    assert cli.main(["report", *period]) == 0
    text = capsys.readouterr().out
    assert "Conversations          7" in text and "(42.9%)" in text
    assert "shopper_request      2" in text
    assert "2 x " in text and "zippers" in text
    assert "  overall                    7     6     85.7%      66.7%     3.83" in text
    assert "  the bot alone              3     2     66.7%     100.0%     4.50" in text
    assert "  handoffs                   4     4    100.0%      50.0%     3.50" in text
    assert "    ben                      2     2    100.0%     100.0%     4.50" in text
    assert "    2026-11-20               1     0      0.0%        n/a      n/a" in text
    assert "Took too long to get an answer." in text and "ticket H-" in text
    week = "2026-W46 (from 2026-11-09)    3: shopper_request 1, complaint 1, verification_failed 1"
    assert week in text

    assert cli.main(["report", "--since", "yesterday-ish"]) == 2
    assert "--since takes" in capsys.readouterr().err


def test_events_the_system_triggered_are_not_counted_as_intents(store):
    """Notes stored by an older gateway may name an internal event; Insights never shows it."""
    from bot import conversations
    from bot.clock import utcnow

    conversation = conversations.start("api", engine=store)
    for text, intent in (("hi", "greet"), ("[handed back]", "EXTERNAL_handed_back")):
        conversations.add(conversation.id, "shopper", text, extra={"intent": intent}, engine=store)
    now = utcnow()
    report = build_report(
        Period(now - timedelta(hours=1), now + timedelta(hours=1)), store, gaps=False
    )
    assert report["intents"] == {"greet": 1}


def test_gap_grouping_takes_a_bounded_repeatable_sample():
    texts = [(f"question {n}", "en") for n in range(5000)]
    sample = sample_for_grouping(texts)
    assert len(sample) == MAX_GROUPED and sample == sample_for_grouping(texts)
    assert sample_for_grouping(texts[:10]) == texts[:10]


def test_order_update_figures_are_exact(store, capsys):
    """Updates by kind, channel and how they went; who still asked "where is it?" after one."""
    now = NOW - timedelta(days=1)
    channels = {"upd-a": "telegram", "upd-b": "whatsapp", "upd-c": "web"}
    with session_scope(store) as session:
        for cid, channel in channels.items():
            session.add(
                Conversation(id=cid, channel=channel, mode="bot", created_at=now, updated_at=now)
            )
        session.flush()
        subscriptions = {}
        for cid in ("upd-a", "upd-b", "upd-c"):
            subscriptions[cid] = OrderSubscription(
                conversation_id=cid, order_number="10419", created_at=now
            )
            session.add(subscriptions[cid])
        session.flush()
        rows = [  # conversation, event, status, via, minutes after `now`
            ("upd-a", "shipped", "known", None, 0),
            ("upd-a", "out_for_delivery", "skipped", None, 10),
            ("upd-a", "delivered", "sent", "text", 10),
            ("upd-b", "shipped", "sent", "template", 5),
            ("upd-b", "delivered", "failed", "template", 10),
            ("upd-c", "shipped", "sent", "text", 5),
            ("upd-c", "late", "due", None, 20),
        ]
        for cid, event, status, via, minutes in rows:
            at = now + timedelta(minutes=minutes)
            session.add(
                OrderUpdate(
                    subscription_id=subscriptions[cid].id,
                    event=event,
                    kind=event,
                    status=status,
                    channel=channels[cid],
                    due_at=at,
                    attempts=1,
                    via=via,
                    created_at=at,
                    sent_at=at if status == "sent" else None,
                )
            )
        asked = [  # shopper messages: before the update (not counted) and after
            ("upd-a", "where is my order?", "order_status", 1),
            ("upd-b", "when will it come?", "shipping_eta", 30),
            ("upd-c", "thanks!", "thank", 30),
        ]
        for cid, text, intent, minutes in asked:
            session.add(
                Message(
                    conversation_id=cid,
                    sender="shopper",
                    text=text,
                    extra=json.dumps({"intent": intent}),
                    created_at=now + timedelta(minutes=minutes),
                )
            )
    figures = build_report(WEEK, store, gaps=False)["order_updates"]
    assert figures == {
        "sent": 3,
        "sent_by_kind": {"delivered": {"telegram": 1}, "shipped": {"web": 1, "whatsapp": 1}},
        "sent_as": {"template": 1, "text": 2},
        "failed": 1,
        "failed_by_channel": {"whatsapp": 1},
        "waiting": 1,
        "shoppers_updated": 3,
        "asked_where_after": 1,  # upd-b asked after its update; upd-a only before
        "asked_where_after_rate": 0.333,
    }
    assert build_report(Period(WEEK.since, WEEK.until, "whatsapp"), store, gaps=False)[
        "order_updates"
    ]["sent_by_kind"] == {"shipped": {"whatsapp": 1}}
    period = ["--since", "2026-11-13T12:00:00", "--until", "2026-11-20T12:00:00"]
    assert cli.main(["report", *period]) == 0
    text = capsys.readouterr().out
    assert "Order updates sent     3 (1 as template, 2 as text)" in text
    assert "asked where it is after an update: 1 of 3 shoppers (33.3%)" in text
    assert cli.main(["report", *period, "--format", "csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {
        "section": "order_updates",
        "name": "failed",
        "value": "1",
        "detail": "whatsapp",
    } in rows


def figures(asked, rated, response, satisfied, satisfied_rate, average) -> dict:
    return {
        "asked": asked,
        "rated": rated,
        "response_rate": response,
        "satisfied": satisfied,
        "satisfied_rate": satisfied_rate,
        "average_rating": average,
    }


def test_csat_figures_are_exact(seeded):
    """Surveys asked in the week: 4 on its own conversations (one never answered) and 3 on
    tickets opened and resolved in it for conversations begun the week before; the survey
    asked 10 days ago does not count."""
    csat = build_report(WEEK, seeded, gaps=False)["csat"]
    assert csat["overall"] == figures(7, 6, 0.857, 4, 0.667, 3.833)  # 5, 4, 2, 5, 4, 3
    assert csat["bot"] == figures(3, 2, 0.667, 2, 1.0, 4.5)  # 5, 4 and one unanswered
    assert csat["handoffs"] == figures(4, 4, 1.0, 2, 0.5, 3.5)  # 2, 5, 4, 3
    assert csat["by_agent"] == [
        {"agent": "ana", **figures(2, 2, 1.0, 0, 0.0, 2.5)},
        {"agent": "ben", **figures(2, 2, 1.0, 2, 1.0, 4.5)},
    ]
    assert csat["by_channel"] == [
        {"channel": "web", **figures(4, 3, 0.75, 3, 1.0, 4.333)},
        {"channel": "telegram", **figures(2, 2, 1.0, 0, 0.0, 2.5)},
        {"channel": "whatsapp", **figures(1, 1, 1.0, 1, 1.0, 5.0)},
    ]
    assert csat["by_language"] == [
        {"language": "en", **figures(4, 3, 0.75, 2, 0.667, 3.667)},
        {"language": "tr", **figures(2, 2, 1.0, 1, 0.5, 4.0)},
        {"language": "es", **figures(1, 1, 1.0, 1, 1.0, 4.0)},
    ]
    assert [d["date"] for d in csat["daily"]] == [f"2026-11-{n}" for n in range(13, 21)]
    quiet = figures(0, 0, None, 0, None, None)
    assert csat["daily"] == [
        {"date": "2026-11-13", **quiet},
        {"date": "2026-11-14", **figures(2, 2, 1.0, 2, 1.0, 4.5)},
        {"date": "2026-11-15", **figures(1, 1, 1.0, 0, 0.0, 3.0)},
        {"date": "2026-11-16", **quiet},
        {"date": "2026-11-17", **quiet},
        {"date": "2026-11-18", **figures(3, 3, 1.0, 2, 0.667, 3.667)},
        {"date": "2026-11-19", **quiet},
        {"date": "2026-11-20", **figures(1, 0, 0.0, 0, None, None)},
    ]
    tickets = ticket_ids(seeded)
    assert csat["comments"] == [
        {
            "rating": 2,
            "comment": "Took too long to get an answer.",
            "channel": "telegram",
            "language": "en",
            "agent": "ana",
            "at": "2026-11-18T11:14:30Z",
            "conversation_id": "report-conversation-03",
            "ticket_id": tickets["report-conversation-03"],
        },
        {
            "rating": 5,
            "comment": "Quick and clear, thanks!",
            "channel": "web",
            "language": "en",
            "agent": None,
            "at": "2026-11-18T11:03:30Z",
            "conversation_id": "report-conversation-01",
            "ticket_id": None,
        },
        {
            "rating": 5,
            "comment": "Çok hızlı yardım ettiniz, teşekkürler!",
            "channel": "whatsapp",
            "language": "tr",
            "agent": "ben",
            "at": "2026-11-14T11:18:00Z",
            "conversation_id": "report-earlier-1",
            "ticket_id": tickets["report-earlier-1"],
        },
    ]


def ticket_ids(engine) -> dict[str, int]:
    with session_scope(engine) as session:
        return {t.conversation_id: t.id for t in session.scalars(select(Ticket))}


def test_csat_follows_the_channel_and_the_period(seeded):
    telegram = build_report(Period(WEEK.since, WEEK.until, "telegram"), seeded, gaps=False)
    assert telegram["csat"]["overall"] == figures(2, 2, 1.0, 0, 0.0, 2.5)
    assert telegram["csat"]["bot"] == figures(0, 0, None, 0, None, None)
    assert [c["conversation_id"] for c in telegram["csat"]["comments"]] == [
        "report-conversation-03"
    ]
    earlier = build_report(Period(NOW - timedelta(days=11), WEEK.since), seeded, gaps=False)
    assert earlier["csat"]["bot"] == figures(1, 1, 1.0, 0, 0.0, 1.0)  # "Useless."
    assert earlier["csat"]["handoffs"]["asked"] == 0 and earlier["csat"]["by_agent"] == []
    assert earlier["csat"]["comments"][0]["comment"] == "Useless."


def test_ticket_trends_count_tickets_opened_per_week_and_reason(seeded):
    trends = build_report(WEEK, seeded, gaps=False)["ticket_trends"]
    assert trends == {
        "reasons": ["shopper_request", "complaint", "bot_failed", "verification_failed"],
        "weeks": [
            {
                "week": "2026-W46",
                "starts": "2026-11-09",
                "tickets": 3,
                "by_reason": {
                    "shopper_request": 1,
                    "complaint": 1,
                    "bot_failed": 0,
                    "verification_failed": 1,
                },
            },
            {
                "week": "2026-W47",
                "starts": "2026-11-16",
                "tickets": 4,
                "by_reason": {
                    "shopper_request": 2,
                    "complaint": 1,
                    "bot_failed": 1,
                    "verification_failed": 0,
                },
            },
        ],
    }
    whatsapp = build_report(Period(WEEK.since, WEEK.until, "whatsapp"), seeded, gaps=False)
    assert [(w["week"], w["by_reason"]) for w in whatsapp["ticket_trends"]["weeks"]] == [
        ("2026-W46", {"complaint": 0, "shopper_request": 1}),
        ("2026-W47", {"complaint": 1, "shopper_request": 0}),
    ]
    # Three weeks of a quiet period: every week shown, no reasons.
    quiet = build_report(Period(NOW - timedelta(days=400), NOW - timedelta(days=386)), seeded)
    assert quiet["ticket_trends"]["reasons"] == []
    assert [w["tickets"] for w in quiet["ticket_trends"]["weeks"]] == [0, 0, 0]


@pytest.fixture
def console(store):
    """The gateway in-process on a store seeded around now, and a logged-in staff member."""
    from dataclasses import replace

    from starlette.testclient import TestClient

    from bot import staff
    from bot.clock import utcnow
    from bot.gateway.app import create_app
    from bot.settings import get_settings
    from bot.stack import free_port
    from tests.conftest import PASSWORD

    seed_report_store(store, now=utcnow())
    staff.create_user("alex", PASSWORD, store)
    settings = replace(get_settings(), rasa_url=f"http://127.0.0.1:{free_port()}")
    with TestClient(create_app(settings, engine=store), follow_redirects=False) as client:
        assert client.get("/console/conversations/report-conversation-01").status_code == 303
        client.post("/console/login", data={"username": "alex", "password": PASSWORD})
        yield client


def test_insights_as_csv_for_the_same_period_and_channel(console):
    page = console.get("/console/insights", params={"since": "7d", "channel": "web"})
    assert 'href="/console/insights?since=7d&amp;channel=web&amp;format=csv"' in page.text
    download = console.get("/console/insights?since=7d&channel=web&format=csv")
    assert download.status_code == 200
    assert download.headers["content-type"].startswith("text/csv")
    disposition = download.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="insights-') and "-web.csv" in disposition
    rows = list(csv.DictReader(io.StringIO(download.text)))
    values = {(r["section"], r["name"], r["detail"]): r["value"] for r in rows}
    assert values[("period", "channel", "")] == "web"
    assert values[("csat", "asked", "overall")] == "4"  # 3 bot surveys and one handoff
    assert values[("csat", "average_rating", "handoffs")] == "4.0"


def test_the_page_shows_csat_and_each_comment_links_to_its_transcript(console, store):
    page = console.get("/console/insights", params={"since": "7d"}).text
    assert "How did we do? (CSAT)" in page
    assert re.search(r'id="csat-bot-satisfied"><span class="figure">100%<', page)
    assert re.search(r'id="csat-handoffs-average"><span class="figure">3.50<', page)
    assert 'aria-label="Ratings per day' in page and "Tickets per week by reason" in page
    tickets = ticket_ids(store)
    assert f'href="/console/tickets/{tickets["report-conversation-03"]}"' in page
    assert 'href="/console/conversations/report-conversation-01"' in page
    # The bot's comment opens its conversation, read only.
    transcript = console.get("/console/conversations/report-conversation-01")
    assert transcript.status_code == 200
    assert "where is my order?" in transcript.text and "Quick and clear, thanks!" in transcript.text
    assert "<form" not in transcript.text.split("<main>")[1]  # nothing to send or change
    as_json = console.get(
        "/console/conversations/report-conversation-03", headers={"accept": "application/json"}
    ).json()
    assert [t["id"] for t in as_json["tickets"]] == [tickets["report-conversation-03"]]
    assert as_json["ratings"][0]["rating"] == 2 and len(as_json["messages"]) == 7
    for unknown in ("no-such-conversation", "x" * 65, "a%00b"):
        assert console.get(f"/console/conversations/{unknown}").status_code == 404

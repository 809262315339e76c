"""The console's Insights page: the report (bot/report.py) for a period and channel, with
charts, CSAT with its comments (each one click from its transcript), ticket trends, FAQ gaps a
staff member can turn into new FAQ entries or other ways of asking an existing one, and the
phrasings shoppers proposed (bot/faq_phrasings.py) waiting for review. The same report as CSV,
and a read-only transcript page for a conversation that has no ticket to open."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import Engine, select
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from bot import conversations, faq_phrasings, tickets
from bot.clock import utcnow
from bot.gateway import charts
from bot.gateway.requests import form_fields, gateway_of, templates
from bot.gateway.security import current_staff, staff_only, wants_json
from bot.store.db import session_scope
from bot.store.models import CsatSurvey, StaffUser, Ticket

# bot.report and bot.faq are imported when the page is first used: they bring numpy,
# scikit-learn and faiss (and the FAQ model, once loaded), which a gateway whose staff never
# open Insights does not need in memory.

PERIODS = {
    "24h": "Last 24 hours",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
}
CHANNELS = ("web", "api", "telegram", "whatsapp")
PERIOD_FORMS = (
    "'from' and 'to' take a date like 2026-11-01 or a time back from now like 24h, 7d or 2w"
)
MAX_PERIOD = timedelta(days=3660)
# A stored conversation id: a SHA-256 in hex (bot.conversations.stored_id), or a test's name.
CONVERSATION_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


@staff_only
async def insights_page(request: Request) -> Response:
    from bot.report import Period, build_report, parse_since

    query = request.query_params
    since = query.get("since", "7d")
    since = since if since in PERIODS else "7d"
    channel = query.get("channel") or None
    channel = channel if channel in CHANNELS else None
    # The store's times are whole seconds and a period ends before its `until`: up to the end
    # of this second, so a rating given just now is counted.
    now = utcnow() + timedelta(seconds=1)
    start, end = parse_since(since, now), now
    # Or dates: from the start of `from` to the end of `to` (either may be left out).
    first, last = query.get("from", ""), query.get("to", "")
    try:
        if first:
            start = parse_since(first, now)
        if last:
            end = min(parse_since(last, now) + timedelta(days=1), now)
    except (ValueError, OverflowError):  # not a date or span; or one past year 1 or 9999
        return JSONResponse({"error": PERIOD_FORMS}, status_code=400)
    if start >= end:
        return JSONResponse({"error": "'from' must be before 'to'"}, status_code=400)
    if end - start > MAX_PERIOD:  # a chart of every day since year 1 is no report
        return JSONResponse(
            {"error": f"a period is at most {MAX_PERIOD.days} days long"}, status_code=400
        )
    period = Period(start, end, channel)
    # Reading the tables and embedding the gap messages is blocking work: off the event loop.
    engine = gateway_of(request).engine
    report = await run_in_threadpool(build_report, period, engine)
    if query.get("format") == "csv":
        from bot.report_formats import as_csv

        name = f"insights-{start:%Y%m%d}-{end:%Y%m%d}-{channel or 'all'}.csv"
        return Response(
            as_csv(report),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="{name}"'},
        )
    proposals = await run_in_threadpool(faq_phrasings.pending, engine)
    if wants_json(request):
        return JSONResponse(
            {
                **report,
                "proposed_phrasings": [p.as_json() for p in proposals],
            }
        )
    reasons = [
        (tickets.REASONS.get(reason, reason), n)
        for reason, n in report["handoffs"]["by_reason"].items()
    ]
    return templates.TemplateResponse(
        request,
        "insights.html",
        {
            "staff": current_staff(request),
            "report": report,
            "since": since,
            "from": first,
            "to": last,
            "channel": channel or "",
            "periods": PERIODS,
            "channels": CHANNELS,
            "added": request.query_params.get("added"),
            "taught": request.query_params.get("taught"),
            "proposals": proposals,
            "faq_entries": await run_in_threadpool(_entries),
            "volume_chart": charts.volume_chart(report["daily"]),
            "containment_chart": charts.containment_chart(
                report["contained"], report["conversations"]
            ),
            "reason_chart": charts.reason_chart(reasons),
            "csat_chart": charts.csat_chart(report["csat"]["daily"]),
            "csv_link": "/console/insights?" + urlencode(_csv_query(since, first, last, channel)),
        },
    )


def _csv_query(since: str, first: str, last: str, channel: str | None) -> dict[str, str]:
    """The page's own period and channel, as CSV."""
    shown = {"since": since, "from": first, "to": last, "channel": channel or ""}
    return {**{k: v for k, v in shown.items() if v}, "format": "csv"}


@staff_only
async def conversation_page(request: Request) -> Response:
    """A conversation's transcript, read only: where a CSAT comment about the bot (no ticket
    to open) leads. Its tickets and ratings are linked and listed beside it."""
    cid = request.path_params["cid"]
    found = None
    if CONVERSATION_ID.fullmatch(cid):
        found = await run_in_threadpool(_conversation, cid, gateway_of(request).engine)
    if found is None:
        if wants_json(request):
            return JSONResponse({"error": "no such conversation"}, status_code=404)
        return PlainTextResponse("No such conversation.", status_code=404)
    if wants_json(request):
        conversation = found["conversation"]
        return JSONResponse(
            {
                "conversation": {
                    "id": conversation.id,
                    "channel": conversation.channel,
                    "language": conversation.language,
                    "mode": conversation.mode,
                    "created_at": conversation.created_at.isoformat() + "Z",
                },
                "tickets": [
                    {"id": t.id, "reason": t.reason, "status": t.status} for t in found["tickets"]
                ],
                "ratings": found["ratings"],
                "messages": [s.as_json() for s in found["messages"]],
            }
        )
    return templates.TemplateResponse(
        request, "conversation.html", {"staff": current_staff(request), **found}
    )


def _conversation(cid: str, engine: Engine) -> dict[str, Any] | None:
    conversation = conversations.get(cid, engine)
    if conversation is None:
        return None
    with session_scope(engine) as session:
        found_tickets = list(
            session.scalars(select(Ticket).where(Ticket.conversation_id == cid).order_by(Ticket.id))
        )
        ratings = [
            {
                "subject": survey.subject,
                "ticket_id": survey.ticket_id,
                "agent": agent,
                "status": survey.status,
                "rating": survey.rating,
                "comment": survey.comment,
                "asked_at": survey.asked_at.isoformat(timespec="seconds") + "Z",
            }
            for survey, agent in session.execute(
                select(CsatSurvey, StaffUser.username)
                .outerjoin(StaffUser, StaffUser.id == CsatSurvey.agent_id)
                .where(CsatSurvey.conversation_id == cid)
                .order_by(CsatSurvey.asked_at)
            )
        ]
    return {
        "conversation": conversation,
        "tickets": found_tickets,
        "ratings": ratings,
        "messages": conversations.messages(cid, engine=engine),
    }


@staff_only
async def add_faq_entry(request: Request) -> Response:
    """A new FAQ entry from a gap group: the question and its other phrasings from the group,
    the answer from the staff member. Answered by the assistant at once."""
    from bot.faq.added import add_entry
    from bot.faq.entries import FaqError

    fields = await form_fields(request)
    alternatives = fields.get("alternatives") or ""
    if isinstance(alternatives, str):
        alternatives = alternatives.splitlines()
    try:
        entry = await run_in_threadpool(
            add_entry,
            str(fields.get("question") or ""),
            str(fields.get("answer") or ""),
            [str(a) for a in alternatives],
        )
    except (ValueError, FaqError) as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    if wants_json(request):
        return JSONResponse({"id": entry.id, "question": entry.question}, status_code=201)
    return _back(fields, added=entry.id)


def _entries() -> list[tuple[str, str]]:
    """(id, question) of every FAQ entry, for choosing which one a gap is another way to ask."""
    from bot.faq.entries import FaqError, faq_path, load_faq

    try:
        return [(entry.id, entry.question) for entry in load_faq(faq_path())]
    except FaqError:
        return []


def _back(fields: dict, **shown: str) -> RedirectResponse:
    """Back to the Insights page of the same period, saying what changed."""
    back = {**shown, "since": str(fields.get("since") or "7d")}
    return RedirectResponse(f"/console/insights?{urlencode(back)}", status_code=303)


@staff_only
async def add_phrasings(request: Request) -> Response:
    """Staff say a gap group is another way of asking an existing entry: its messages become
    that entry's phrasings at once (staff are the review)."""
    from bot.faq.entries import FaqError
    from bot.faq.learned import add_phrasings as add

    fields = await form_fields(request)
    texts = str(fields.get("phrasings") or "").splitlines()
    entry_id = str(fields.get("entry_id") or "")
    if not any(t.strip() for t in texts):
        return JSONResponse({"error": "give at least one phrasing"}, status_code=400)
    try:
        new = await run_in_threadpool(add, entry_id, texts)
    except (ValueError, FaqError) as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    if wants_json(request):
        return JSONResponse({"entry_id": entry_id, "added": new}, status_code=201)
    return _back(fields, taught=entry_id)


@staff_only
async def review_proposal(request: Request) -> Response:
    """Approve or reject a phrasing shoppers proposed."""
    from bot.faq.entries import FaqError

    fields = await form_fields(request)
    decision = fields.get("decision")
    if decision not in ("approve", "reject"):
        return JSONResponse({"error": "decision is approve or reject"}, status_code=400)
    try:
        proposal_id = int(request.path_params["proposal_id"])
        reviewer = current_staff(request).user.username
        done = await run_in_threadpool(
            faq_phrasings.review,
            proposal_id,
            decision == "approve",
            reviewer,
            gateway_of(request).engine,
        )
    except OverflowError:  # an id no database holds
        done = None
    except (ValueError, FaqError) as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    if done is None:
        return JSONResponse({"error": "no such proposal waiting for review"}, status_code=404)
    if wants_json(request):
        return JSONResponse({"id": done.id, "entry_id": done.entry_id, "decision": decision})
    return _back(fields, **({"taught": done.entry_id} if decision == "approve" else {}))


routes = [
    Route("/console/insights", insights_page, methods=["GET"]),
    Route("/console/insights/faq", add_faq_entry, methods=["POST"]),
    Route("/console/insights/faq/phrasings", add_phrasings, methods=["POST"]),
    Route("/console/insights/faq/proposals/{proposal_id:int}", review_proposal, methods=["POST"]),
    Route("/console/conversations/{cid}", conversation_page, methods=["GET"]),
]

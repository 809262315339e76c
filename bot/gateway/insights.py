"""The console's Insights page: the report (bot/report.py) for a period and channel, with
charts, and FAQ gaps a staff member can turn into new FAQ entries."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot import tickets
from bot.clock import utcnow
from bot.gateway import charts
from bot.gateway.requests import form_fields, gateway_of, templates
from bot.gateway.security import current_staff, staff_only, wants_json

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


@staff_only
async def insights_page(request: Request) -> Response:
    from bot.report import Period, build_report, parse_since

    query = request.query_params
    since = query.get("since", "7d")
    since = since if since in PERIODS else "7d"
    channel = query.get("channel") or None
    channel = channel if channel in CHANNELS else None
    now = utcnow()
    start, end = parse_since(since, now), now
    # Or dates: from the start of `from` to the end of `to` (either may be left out).
    first, last = query.get("from", ""), query.get("to", "")
    try:
        if first:
            start = parse_since(first, now)
        if last:
            end = min(parse_since(last, now) + timedelta(days=1), now)
    except ValueError:
        return JSONResponse({"error": "dates look like 2026-11-01"}, status_code=400)
    if start >= end:
        return JSONResponse({"error": "'from' must be before 'to'"}, status_code=400)
    period = Period(start, end, channel)
    # Reading the tables and embedding the gap messages is blocking work: off the event loop.
    report = await run_in_threadpool(build_report, period, gateway_of(request).engine)
    if wants_json(request):
        return JSONResponse(report)
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
            "volume_chart": charts.volume_chart(report["daily"]),
            "containment_chart": charts.containment_chart(
                report["contained"], report["conversations"]
            ),
            "reason_chart": charts.reason_chart(reasons),
        },
    )


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
    back = {"added": entry.id, "since": str(fields.get("since") or "7d")}
    return RedirectResponse(f"/console/insights?{urlencode(back)}", status_code=303)


routes = [
    Route("/console/insights", insights_page, methods=["GET"]),
    Route("/console/insights/faq", add_faq_entry, methods=["POST"]),
]

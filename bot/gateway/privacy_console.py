"""The console's privacy page: find a shopper by email, phone, Telegram chat or conversation,
download everything kept about them, or erase it (bot/privacy.py); each leaves an audit line."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from bot import privacy
from bot.gateway.requests import form_fields, gateway_of, settings_of, templates
from bot.gateway.security import current_staff, staff_only, wants_json


def trackers(request: Request) -> str:
    """Rasa's tracker database (TRACKER_DATABASE_URL)."""
    return settings_of(request).tracker_database_url


def subject_of(form: dict) -> privacy.Subject:
    return privacy.Subject(str(form.get("kind", "")), str(form.get("value", "")))


@staff_only
async def privacy_page(request: Request) -> Response:
    audit = privacy.audit_log(gateway_of(request).engine)
    if wants_json(request):
        rows = [
            {
                "at": a.done_at.isoformat() + "Z",
                "by": a.actor,
                "action": a.action,
                "kind": a.subject_kind,
                "summary": json.loads(a.summary),
            }
            for a in audit
        ]
        return JSONResponse({"audit": rows})
    erased = request.query_params.get("erased")
    return templates.TemplateResponse(
        request,
        "privacy.html",
        {
            "staff": current_staff(request),
            "kinds": privacy.KINDS,
            "audit": audit,
            "erased": erased if erased and erased.isdigit() else None,
            "retention_days": settings_of(request).retention_days,
            "loads": json.loads,
        },
    )


@staff_only
async def export(request: Request) -> Response:
    gateway, actor = gateway_of(request), f"staff:{current_staff(request).user.username}"
    try:
        subject = subject_of(await form_fields(request))
    except privacy.PrivacyError as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    document = privacy.export(subject, gateway.engine, trackers(request), actor)
    return JSONResponse(
        document,
        headers={"content-disposition": 'attachment; filename="shopper-data.json"'},
    )


@staff_only
async def erase(request: Request) -> Response:
    gateway, actor = gateway_of(request), f"staff:{current_staff(request).user.username}"
    form = await form_fields(request)
    try:
        subject = subject_of(form)
    except privacy.PrivacyError as error:
        return JSONResponse({"error": str(error)}, status_code=400)
    if str(form.get("confirm", "")) != "yes":
        return JSONResponse({"error": "tick the box to confirm the erasure"}, status_code=400)
    counts = privacy.erase(
        subject, gateway.engine, settings_of(request).tracker_database_url, actor
    )
    if wants_json(request):
        return JSONResponse({"erased": counts})
    return RedirectResponse(f"/console/privacy?erased={counts['conversations']}", status_code=303)


routes = [
    Route("/console/privacy", privacy_page, methods=["GET"]),
    Route("/console/privacy/export", export, methods=["POST"]),
    Route("/console/privacy/erase", erase, methods=["POST"]),
]

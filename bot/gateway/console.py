"""The staff console: log in, see the queue of handed-off conversations, read a transcript
with the verified order beside it, answer the shopper, resolve or hand back, export."""

from __future__ import annotations

import json
import math
from pathlib import Path
from urllib.parse import urlsplit

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot import conversations, order_updates, saved_replies, staff, tickets
from bot.clock import utcnow
from bot.gateway.login_throttle import login_throttle_of, too_many_sign_ins
from bot.gateway.requests import (
    BadRequest,
    clean_text,
    form_fields,
    gateway_of,
    in_id_range,
    message_id,
    templates,
)
from bot.gateway.security import (
    SESSION_COOKIE,
    current_staff,
    same_origin,
    set_session_cookie,
    staff_only,
    wants_json,
)
from bot.i18n import languages
from bot.orders import OrderSourceUnavailable, get_order_source

HERE = Path(__file__).parent


def safe_next(target: str | None) -> str:
    """Only a path on this site: a login link must not send staff elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/console"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/console"


async def login_page(request: Request) -> Response:
    return templates.TemplateResponse(
        request, "login.html", {"next": safe_next(request.query_params.get("next"))}
    )


async def login(request: Request) -> Response:
    if not same_origin(request):
        return PlainTextResponse("cross-site login refused", status_code=403)
    form = await request.form()
    username = str(form.get("username", ""))[:80]
    password = str(form.get("password", ""))[:1000]
    target = safe_next(str(form.get("next", "")))
    # Too many failures for this name or from this address: refused before the password is
    # looked at (docs/console.md, docs/operations.md).
    throttle = login_throttle_of(request.app.state)
    address = request.client.host if request.client else "unknown"
    wait = throttle.admit(username, address)
    if wait:
        seconds = math.ceil(wait)
        return templates.TemplateResponse(
            request,
            "login.html",
            {"next": target, "error": too_many_sign_ins(seconds), "username": username},
            status_code=429,
            headers={"Retry-After": str(seconds)},
        )
    user = await staff.check_login(username, password, gateway_of(request).engine)
    if user is None:
        return templates.TemplateResponse(
            request,
            "login.html",
            {"next": target, "error": "Wrong username or password.", "username": username},
            status_code=401,
        )
    throttle.succeeded(username, address)
    token, _ = staff.start_session(user, gateway_of(request).engine)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(response, request, token)
    return response


@staff_only
async def logout(request: Request) -> Response:
    staff.end_session(request.cookies.get(SESSION_COOKIE), gateway_of(request).engine)
    response = RedirectResponse("/console/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@staff_only
async def try_page(request: Request) -> Response:
    return templates.TemplateResponse(request, "try.html", {"staff": current_staff(request)})


@staff_only
async def session_info(request: Request) -> Response:
    """Who is logged in, and the CSRF token a script sends as `X-CSRF-Token`."""
    session = current_staff(request)
    return JSONResponse({"username": session.user.username, "csrf_token": session.csrf_token})


@staff_only
async def queue_page(request: Request) -> Response:
    session = current_staff(request)
    which = request.query_params.get("queue", "open")
    if which not in tickets.QUEUES:
        which = "open"
    search = request.query_params.get("q", "")[:200]
    rows = tickets.queue(which, session.user_id, search, gateway_of(request).engine)
    if wants_json(request):
        return JSONResponse({"tickets": [ticket_json(row.ticket) for row in rows]})
    return templates.TemplateResponse(
        request,
        "queue.html",
        {"staff": session, "rows": rows, "queue": which, "search": search, "now": utcnow()},
    )


def ticket_json(ticket) -> dict:
    return {
        "id": ticket.id,
        "conversation_id": ticket.conversation_id,
        "reason": ticket.reason,
        "status": ticket.status,
        "order_number": ticket.order_number,
        "assignee_id": ticket.assignee_id,
        "created_at": ticket.created_at.isoformat() + "Z",
        "first_reply_at": ticket.first_reply_at.isoformat() + "Z"
        if ticket.first_reply_at
        else None,
        "closed_at": ticket.closed_at.isoformat() + "Z" if ticket.closed_at else None,
    }


def load_ticket(request: Request):
    """The ticket in the path; LookupError if there is none (a number past any id included)."""
    tid = int(request.path_params["tid"])
    ticket = tickets.get_ticket(tid, gateway_of(request).engine) if in_id_range(tid) else None
    if ticket is None:
        raise LookupError
    return ticket


def ticket_with_transcript(request: Request):
    """(ticket, its conversation or None, the transcript); LookupError if there is no ticket."""
    ticket = load_ticket(request)
    engine = gateway_of(request).engine
    conversation = conversations.get(ticket.conversation_id, engine)
    said = conversations.messages(ticket.conversation_id, engine=engine) if conversation else []
    return ticket, conversation, said


@staff_only
async def ticket_page(request: Request) -> Response:
    try:
        ticket, conversation, said = ticket_with_transcript(request)
    except LookupError:
        return PlainTextResponse("No such ticket.", status_code=404)
    order = get_order_source().get_order(ticket.order_number) if ticket.order_number else None
    language = conversation.language if conversation else None
    shop_language = gateway_of(request).settings.shop_language
    saved = saved_replies.for_language(language, shop_language, gateway_of(request).engine)
    updates = order_updates.of_conversation(ticket.conversation_id, gateway_of(request).engine)
    staff_notes = tickets.notes(ticket.id, gateway_of(request).engine)
    events = tickets.history(ticket.id, gateway_of(request).engine)
    colleagues = staff.usernames(gateway_of(request).engine)
    if wants_json(request):
        return JSONResponse(
            {
                "ticket": ticket_json(ticket),
                "notes": [n.as_json() for n in staff_notes],
                "history": [e.as_json() for e in events],
                "staff": colleagues,
                "language": language,
                "order_updates": [u.as_json() for u in updates],
                "saved_replies": [vars(v) for v in saved],
                "messages": [s.as_json() for s in said],
            }
        )
    return templates.TemplateResponse(
        request,
        "ticket.html",
        {
            "staff": current_staff(request),
            "ticket": ticket,
            "conversation": conversation,
            "messages": said,
            "timeline": timeline(said, staff_notes),
            "notes": staff_notes,
            "history": events,
            "colleagues": colleagues,
            "order": order,
            "saved_replies": saved,
            "order_updates": updates,
            "now": utcnow(),
        },
    )


def timeline(said: list, staff_notes: list) -> list[tuple[str, object]]:
    """The transcript with staff's notes between the messages, by time: ("message", Said) and
    ("note", Note); at the same second a message comes first."""
    entries = [("message", s) for s in said] + [("note", n) for n in staff_notes]
    return sorted(entries, key=lambda entry: (entry[1].created_at, entry[0] == "note"))


@staff_only
async def ticket_messages(request: Request) -> Response:
    """New messages of a ticket's conversation, for the live transcript."""
    try:
        ticket = load_ticket(request)
        after = message_id(request.query_params.get("after"))
    except LookupError:
        return JSONResponse({"error": "no such ticket"}, status_code=404)
    except BadRequest as bad:
        return JSONResponse({"error": str(bad)}, status_code=bad.status)
    said = conversations.messages(ticket.conversation_id, after, gateway_of(request).engine)
    shown = [{**s.as_json(), "payload": s.extra.get("payload")} for s in said]
    return JSONResponse({"messages": shown, "status": ticket.status})


async def _change(request: Request, what: str) -> Response:
    gateway = gateway_of(request)
    user = current_staff(request).user
    try:
        ticket = load_ticket(request)
        if what == "assign":
            # With a colleague's username: theirs; without: the one asking takes it.
            username = str((await form_fields(request)).get("username") or "").strip()
            if username:
                tickets.assign_to(ticket.id, username, user, gateway.engine)
            else:
                tickets.assign(ticket.id, user, gateway.engine)
        elif what == "unassign":
            tickets.unassign(ticket.id, user, gateway.engine)
        elif what == "reply":
            form = await form_fields(request)
            await gateway.agent_reply(ticket.id, user, clean_text(form.get("text")))
        elif what == "resolve":
            await gateway.resolve(ticket.id, user)
        elif what == "handback":
            await gateway.hand_back(ticket.id, user)
    except LookupError:
        return JSONResponse({"error": "no such ticket"}, status_code=404)
    except (tickets.TicketError, BadRequest) as problem:
        # A bad reply is the request's fault (its own status); a ticket in the wrong state, 409.
        status = problem.status if isinstance(problem, BadRequest) else 409
        if wants_json(request):
            return JSONResponse({"error": str(problem)}, status_code=status)
        return PlainTextResponse(str(problem), status_code=status)
    if wants_json(request):
        return JSONResponse({"ticket": ticket_json(tickets.get_ticket(ticket.id, gateway.engine))})
    return RedirectResponse(f"/console/tickets/{ticket.id}", status_code=303)


def change(what: str):
    @staff_only
    async def handler(request: Request) -> Response:
        return await _change(request, what)

    handler.__name__ = f"ticket_{what}"
    return handler


@staff_only
async def add_note(request: Request) -> Response:
    """An internal note on the ticket, for staff only (closed tickets take them too)."""
    gateway = gateway_of(request)
    try:
        ticket = load_ticket(request)
        form = await form_fields(request)
        text = form.get("text")
        if not isinstance(text, str):
            raise BadRequest("'text' must be a string")
        note = tickets.add_note(ticket.id, current_staff(request).user, text, gateway.engine)
    except LookupError:
        return JSONResponse({"error": "no such ticket"}, status_code=404)
    except (ValueError, BadRequest) as problem:
        status = problem.status if isinstance(problem, BadRequest) else 400
        if wants_json(request):
            return JSONResponse({"error": str(problem)}, status_code=status)
        return PlainTextResponse(str(problem), status_code=status)
    if wants_json(request):
        return JSONResponse({"note": note.as_json()}, status_code=201)
    return RedirectResponse(f"/console/tickets/{ticket.id}#notes", status_code=303)


@staff_only
async def export(request: Request) -> Response:
    try:
        ticket, conversation, said = ticket_with_transcript(request)
    except LookupError:
        return PlainTextResponse("No such ticket.", status_code=404)
    name = f"ticket-H-{ticket.id}"
    staff_notes = tickets.notes(ticket.id, gateway_of(request).engine)
    if request.query_params.get("format", "json") == "text":
        lines = [
            f"Ticket H-{ticket.id} ({tickets.REASONS.get(ticket.reason, ticket.reason)}, "
            f"{ticket.status}), channel {conversation.channel if conversation else '?'}, "
            f"opened {ticket.created_at:%Y-%m-%d %H:%M} UTC",
            "",
        ]
        for kind, s in timeline(said, staff_notes):
            if kind == "note":  # staff's, never sent to the shopper
                lines.append(f"[{s.created_at:%Y-%m-%d %H:%M:%S}] [note] {s.author}: {s.text}")
                continue
            who = f"agent {s.agent}" if s.agent else s.sender
            lines.append(f"[{s.created_at:%Y-%m-%d %H:%M:%S}] {who}: {s.text}")
        return PlainTextResponse(
            "\n".join(lines) + "\n",
            headers={"content-disposition": f'attachment; filename="{name}.txt"'},
        )
    body = {
        "ticket": ticket_json(ticket),
        "channel": conversation.channel if conversation else None,
        "channel_user_id": conversation.channel_user_id if conversation else None,
        "messages": [s.as_json() for s in said],
        # Staff's internal notes: never sent to the shopper.
        "notes": [{"type": "note", **n.as_json()} for n in staff_notes],
        "history": [e.as_json() for e in tickets.history(ticket.id, gateway_of(request).engine)],
    }
    return Response(
        json.dumps(body, ensure_ascii=False, indent=2),
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="{name}.json"'},
    )


@staff_only
async def replies_page(request: Request) -> Response:
    """Saved replies, each with its versions per language, and a form to add one."""
    versions = saved_replies.every_version(gateway_of(request).engine)
    if wants_json(request):
        return JSONResponse({"saved_replies": [vars(v) for v in versions]})
    return templates.TemplateResponse(
        request,
        "replies.html",
        {"staff": current_staff(request), "versions": versions, "languages": languages()},
    )


@staff_only
async def save_reply(request: Request) -> Response:
    try:
        form = await form_fields(request)
        version = saved_replies.save(
            str(form.get("name", "")),
            str(form.get("language", "")),
            str(form.get("text", "")),
            gateway_of(request).engine,
        )
    except (BadRequest, ValueError) as problem:
        if wants_json(request):
            return JSONResponse({"error": str(problem)}, status_code=400)
        return PlainTextResponse(str(problem), status_code=400)
    if wants_json(request):
        return JSONResponse({"saved_reply": vars(version)}, status_code=201)
    return RedirectResponse("/console/replies", status_code=303)


async def _reply_change(request: Request, what: str) -> Response:
    """Edit a saved reply's version, delete it, or delete the whole reply (every language)."""
    engine = gateway_of(request).engine
    vid = int(request.path_params["vid"])
    try:
        if not in_id_range(vid):
            raise LookupError(vid)
        if what == "edit":
            text = str((await form_fields(request)).get("text", ""))
            body: dict = {"saved_reply": vars(saved_replies.edit(vid, text, engine))}
        elif what == "delete":
            body = {"deleted": vars(saved_replies.delete_version(vid, engine))}
        else:
            body = {"deleted_reply": saved_replies.delete_reply(vid, engine)}
    except LookupError:
        status, problem = 404, "no such saved reply"
    except (BadRequest, ValueError) as error:
        status, problem = 400, str(error)
    else:
        if wants_json(request):
            return JSONResponse(body)
        return RedirectResponse("/console/replies", status_code=303)
    if wants_json(request):
        return JSONResponse({"error": problem}, status_code=status)
    return PlainTextResponse(problem, status_code=status)


def reply_change(what: str):
    @staff_only
    async def handler(request: Request) -> Response:
        return await _reply_change(request, what)

    handler.__name__ = f"saved_reply_{what.replace('-', '_')}"
    return handler


@staff_only
async def ticket_saved_replies(request: Request) -> Response:
    """The saved replies a ticket's reply box offers: the shopper's language (else the shop's),
    placeholders filled from the verified order. The "/" list fetches these, so the page need
    not carry the order; a placeholder without a value stays visible for the agent to edit."""
    gateway = gateway_of(request)
    try:
        ticket = load_ticket(request)
    except LookupError:
        return JSONResponse({"error": "no such ticket"}, status_code=404)
    conversation = conversations.get(ticket.conversation_id, gateway.engine)
    language = conversation.language if conversation else None
    order = None
    if ticket.order_number:
        try:  # the shop's system may be slow: not on the event loop
            order = await run_in_threadpool(get_order_source().get_order, ticket.order_number)
        except OrderSourceUnavailable:
            order = None  # the placeholders stay as written, for the agent to fill in
    offered = saved_replies.for_ticket(
        language, gateway.settings.shop_language, order, gateway.engine
    )
    return JSONResponse(
        {
            "language": language,
            "order_number": order.number if order else None,
            "saved_replies": [
                {**vars(v), "unfilled": saved_replies.unfilled(v.text)} for v in offered
            ],
        }
    )


routes = [
    Route("/console/replies", replies_page, methods=["GET"]),
    Route("/console/replies", save_reply, methods=["POST"]),
    Route("/console/replies/{vid:int}", reply_change("edit"), methods=["POST"]),
    *[
        Route(f"/console/replies/{{vid:int}}/{what}", reply_change(what), methods=["POST"])
        for what in ("delete", "delete-reply")
    ],
    Route("/console/tickets/{tid:int}/saved-replies", ticket_saved_replies, methods=["GET"]),
    Route("/console/login", login_page, methods=["GET"]),
    Route("/console/login", login, methods=["POST"]),
    Route("/console/logout", logout, methods=["POST"]),
    Route("/console/session", session_info, methods=["GET"]),
    Route("/console/try", try_page, methods=["GET"]),
    Route("/console", queue_page, methods=["GET"]),
    Route("/console/tickets/{tid:int}", ticket_page, methods=["GET"]),
    Route("/console/tickets/{tid:int}/messages", ticket_messages, methods=["GET"]),
    Route("/console/tickets/{tid:int}/export", export, methods=["GET"]),
    Route("/console/tickets/{tid:int}/note", add_note, methods=["POST"]),
    *[
        Route(f"/console/tickets/{{tid:int}}/{what}", change(what), methods=["POST"])
        for what in ("assign", "unassign", "reply", "resolve", "handback")
    ],
    Mount("/console/static", StaticFiles(directory=HERE / "static"), name="console-static"),
]

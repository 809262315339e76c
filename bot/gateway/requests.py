"""What the gateway's request handlers share: the gateway and settings of the running app,
reading and checking request bodies, and the console's page templates."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.templating import Jinja2Templates

from bot import tickets
from bot.clock import utcnow
from bot.gateway.relay import Gateway
from bot.i18n import language_name
from bot.settings import Settings

MAX_TEXT_CHARS = 4000
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def gateway_of(request: Request) -> Gateway:
    return request.app.state.gateway


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


class BadRequest(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def clean_text(value: Any) -> str:
    """The shopper's text without control characters; refused if empty or too long."""
    if not isinstance(value, str):
        raise BadRequest("'text' must be a string")
    text = "".join(ch for ch in value if ch in "\n\t" or ch.isprintable()).strip()
    if not text:
        raise BadRequest("the message is empty")
    if len(text) > MAX_TEXT_CHARS:
        raise BadRequest(f"the message is longer than {MAX_TEXT_CHARS} characters", 413)
    return text


async def json_body(request: Request) -> dict[str, Any]:
    """A JSON object body; anything else is a BadRequest (415 if it is not JSON at all)."""
    if "application/json" not in request.headers.get("content-type", ""):
        raise BadRequest("send JSON (content-type: application/json)", 415)
    try:
        body = await request.json()
    except ValueError as error:
        raise BadRequest("the body is not valid JSON") from error
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


async def form_fields(request: Request) -> dict:
    """A form's fields, or a JSON body's (the console's pages post forms, scripts JSON)."""
    if "application/json" in request.headers.get("content-type", ""):
        try:
            body = await request.json()
        except ValueError as error:
            raise BadRequest("the body is not valid JSON") from error
        return body if isinstance(body, dict) else {}
    return dict(await request.form())


def waited(since: datetime, until: datetime | None = None) -> str:
    """How long, for people: "45 s", "12 min", "3 h 5 min", "2 d 4 h"."""
    seconds = int(((until or utcnow()) - since).total_seconds())
    if seconds < 60:
        return f"{max(seconds, 0)} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    if seconds < 86400:
        return f"{seconds // 3600} h {seconds % 3600 // 60} min"
    return f"{seconds // 86400} d {seconds % 86400 // 3600} h"


templates.env.filters["waited"] = waited
templates.env.globals["reasons"] = tickets.REASONS


def language_names(code: str | None) -> str:
    """A conversation's language for staff: "Türkçe (tr)"; without one (a conversation from
    before languages were recorded, or that has not said anything yet): "not recorded"."""
    if not code or code == "unknown":
        return "not recorded"
    return f"{language_name(code)} ({code})"


templates.env.globals["language_names"] = language_names

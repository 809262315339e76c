"""What the gateway's request handlers share: the gateway and settings of the running app,
reading and checking request bodies, and the console's page templates."""

from __future__ import annotations

import json
import re
from datetime import datetime
from itertools import accumulate
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.templating import Jinja2Templates

from bot import tickets
from bot.clock import utcnow
from bot.gateway.relay import Gateway
from bot.i18n import language_name
from bot.settings import Settings

MAX_TEXT_CHARS = 4000
# Deeper JSON is no request of ours: refused before parsing, since Python's parser and the code
# walking its result recurse (100,000 levels deep was a crash).
MAX_JSON_DEPTH = 32
ID_LIMIT = 2**63  # ids are SQL BIGINTs: a larger number is no id, and SQLite cannot bind it
# A JSON string, or an unterminated one up to the end: possessive, so matching stays linear.
JSON_STRING = re.compile(r'"(?:[^"\\]++|\\.)*+(?:"|\\?\Z)', re.DOTALL)
NOT_BRACKETS = re.compile(r"[^\[\]{}]+")
NESTING = {"[": 1, "{": 1, "]": -1, "}": -1}
templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def gateway_of(request: Request) -> Gateway:
    return request.app.state.gateway


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


class BadRequest(HTTPException):
    """A request we refuse, with the reason. An HTTPException, so a handler that does not catch
    it still answers its status and reason rather than a 500."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(status, message)
        self.status = status

    def __str__(self) -> str:
        return self.detail


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


def too_deep(text: str) -> bool:
    """Whether the arrays and objects of a JSON text nest deeper than MAX_JSON_DEPTH, found
    without parsing it (no recursion; brackets inside strings do not count)."""
    brackets = NOT_BRACKETS.sub("", JSON_STRING.sub("", text))
    if brackets.count("[") + brackets.count("{") <= MAX_JSON_DEPTH:
        return False
    return max(accumulate(map(NESTING.__getitem__, brackets))) > MAX_JSON_DEPTH


def parse_json(raw: bytes | str) -> Any:
    """Any JSON value, or a BadRequest: not JSON, or nested deeper than MAX_JSON_DEPTH. Every
    JSON a request carries is parsed here."""
    try:
        text = (
            raw.decode(json.detect_encoding(raw), "surrogatepass")
            if isinstance(raw, bytes)
            else raw
        )
    except UnicodeDecodeError as error:
        raise BadRequest("the body is not valid JSON") from error
    if too_deep(text):
        raise BadRequest(f"the JSON is nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as error:
        raise BadRequest("the body is not valid JSON") from error


async def json_body(request: Request) -> dict[str, Any]:
    """A JSON object body; anything else is a BadRequest (415 if it is not JSON at all)."""
    if "application/json" not in request.headers.get("content-type", ""):
        raise BadRequest("send JSON (content-type: application/json)", 415)
    body = parse_json(await request.body())
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


async def form_fields(request: Request) -> dict:
    """A form's fields, or a JSON body's (the console's pages post forms, scripts JSON)."""
    if "application/json" in request.headers.get("content-type", ""):
        body = parse_json(await request.body())
        return body if isinstance(body, dict) else {}
    return dict(await request.form())


def message_id(value: str | None, name: str = "after") -> int:
    """A message id from a query parameter or header (`after`, Last-Event-ID): absent is 0;
    anything but a whole number from 0 to 2**63 - 1 is a BadRequest."""
    if value is None:
        return 0
    digits = value.strip()
    number_like = digits.isascii() and digits.isdigit() and len(digits.lstrip("0")) <= 19
    if not number_like or int(digits) >= ID_LIMIT:
        raise BadRequest(f"'{name}' must be a message id: a whole number from 0 to {ID_LIMIT - 1}")
    return int(digits)


def in_id_range(number: int) -> bool:
    """An id a database row can have (path convertors accept any number of digits)."""
    return 0 <= number < ID_LIMIT


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

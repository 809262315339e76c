"""Security headers on every response, and staff login checks for the console."""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from functools import wraps
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import staff
from bot.gateway.requests import settings_of
from bot.store.models import StaffSession

SESSION_COOKIE = "sa_staff"
CONSOLE_HEADERS = {
    "content-security-policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}
ALL_HEADERS = {"x-content-type-options": "nosniff", "referrer-policy": "same-origin"}


class SecurityHeaders:
    """Adds the headers to every response; the strict ones to the console's."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(ALL_HEADERS)
        if scope["path"].startswith("/console"):
            headers.update(CONSOLE_HEADERS)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                existing = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    (name.encode(), value.encode())
                    for name, value in headers.items()
                    if name.encode() not in existing
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def secure_cookies(request: Request) -> bool:
    """Secure cookies over HTTPS (or behind a TLS proxy, or forced with CONSOLE_SECURE_COOKIES=1);
    a plain-HTTP demo on localhost could not log in otherwise."""
    return request.url.scheme == "https" or settings_of(request).console_secure_cookies


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(staff.SESSION_LIFETIME.total_seconds()),
        path="/",  # the console and /api/explain
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )


def secrets_match(sent: str | bytes | None, expected: str | bytes) -> bool:
    """A constant-time comparison of a token, secret or signature a client sent with ours, on
    bytes: compare_digest refuses a str with non-ASCII characters (a TypeError, a 500), and
    headers and query strings may carry any. An empty secret of ours matches nothing."""
    return bool(expected) and hmac.compare_digest(as_bytes(sent or ""), as_bytes(expected))


def as_bytes(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")


def wants_json(request: Request) -> bool:
    return "application/json" in request.headers.get("accept", "")


def same_origin(request: Request) -> bool:
    """A browser's cross-site POST carries its Origin; ours matches the host we serve."""
    origin = request.headers.get("origin")
    if origin is None:  # not a browser, or a same-origin GET-style navigation
        return True
    host = request.headers.get("host", "")
    return origin in (f"http://{host}", f"https://{host}")


Handler = Callable[[Request], Awaitable[Response]]


def staff_only(handler: Handler) -> Handler:
    """Login required; for changes also the session's CSRF token (form field `csrf_token` or
    header `X-CSRF-Token`) and a same-origin request. The session is `request.state.staff`."""

    @wraps(handler)
    async def checked(request: Request) -> Response:
        engine = request.app.state.gateway.engine
        session = staff.find_session(request.cookies.get(SESSION_COOKIE), engine)
        if session is None:
            if request.method == "GET" and not wants_json(request):
                query = f"?{request.url.query}" if request.url.query else ""
                target = quote(request.url.path + query)
                return RedirectResponse(f"/console/login?next={target}", status_code=303)
            return JSONResponse({"error": "login required"}, status_code=401)
        if request.method not in ("GET", "HEAD"):
            sent = request.headers.get("x-csrf-token")
            if sent is None and "form" in request.headers.get("content-type", ""):
                sent = (await request.form()).get("csrf_token")
            if not same_origin(request) or not secrets_match(str(sent or ""), session.csrf_token):
                return PlainTextResponse("CSRF check failed", status_code=403)
        request.state.staff = session
        return await handler(request)

    return checked


def current_staff(request: Request) -> StaffSession:
    return request.state.staff

"""The on-site chat widget: `<script src="https://GATEWAY/widget.js" defer></script>` on any
shop page. The widget talks to the shopper API (POST to send) and listens on a Server-Sent
Events stream, which browsers reconnect by themselves, resuming after the last event id."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot import conversations
from bot.gateway.hub import Hub
from bot.gateway.requests import BadRequest, message_id
from bot.i18n import N_, language_name, languages, supported, texts
from bot.settings import get_settings

HERE = Path(__file__).parent / "static"
KEEPALIVE_SECONDS = 15.0
STREAM_RETRY_SECONDS = 15  # a refused stream's Retry-After: the widget waits longer anyway


async def events(request: Request) -> Response:
    """The conversation's messages as they are stored (`id:` is the message id)."""
    gateway = request.app.state.gateway
    conversation = conversations.by_key(request.path_params["cid"], gateway.engine)
    if conversation is None:
        return JSONResponse({"error": "no such conversation"}, status_code=404)
    cid = conversation.id
    last_event_id = request.headers.get("last-event-id")
    try:
        if last_event_id:
            after = message_id(last_event_id, "Last-Event-ID")
        else:
            after = message_id(request.query_params.get("after") or None)
    except BadRequest as bad:
        return JSONResponse({"error": str(bad)}, status_code=bad.status)

    async def stream() -> AsyncIterator[str]:
        last = after
        yield "retry: 2000\n\n"
        while True:
            event = gateway.hub.listen(cid)
            said = conversations.messages(cid, last, gateway.engine)
            for message in said:
                last = message.id
                if message.sender != "system":  # staff notes are not for the shopper
                    yield f"id: {message.id}\ndata: {json.dumps(message.as_json())}\n\n"
            if not said:
                await gateway.hub.wait(event, KEEPALIVE_SECONDS)
                if not event.is_set():
                    yield ": keep-alive\n\n"

    settings = request.app.state.settings
    return CappedStream(
        stream(),
        gateway.hub,
        cid,
        per_conversation=settings.streams_per_conversation,
        total=settings.streams_total,
    )


class CappedStream(StreamingResponse):
    """An event stream that holds one of the hub's stream slots while it is sent, or a 429 if
    there is none free (STREAMS_PER_CONVERSATION, STREAMS_TOTAL).

    The slot is taken and given back around the whole response, in one try/finally: the
    response ends when the stream does, when the client goes away (Starlette cancels the
    stream when uvicorn reports `http.disconnect`) and when the server stops, so the count
    cannot leak."""

    def __init__(
        self,
        content: AsyncIterator[str],
        hub: Hub,
        conversation_id: str,
        per_conversation: int,
        total: int,
    ) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"cache-control": "no-store", "x-accel-buffering": "no"},
        )
        self.hub, self.conversation_id = hub, conversation_id
        self.per_conversation, self.total = per_conversation, total

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.hub.open_stream(self.conversation_id, self.per_conversation, self.total):
            refused = JSONResponse(
                {"error": "too many live streams are open; try again later"},
                status_code=429,
                headers={"Retry-After": str(STREAM_RETRY_SECONDS)},
            )
            await refused(scope, receive, send)
            return
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.hub.close_stream(self.conversation_id)


# Every word of the widget's own interface; the widget asks for them in the conversation's
# language (GET /api/widget/text?lang=tr) and again whenever that language changes.
WIDGET_TEXT = {
    "title": N_("Help"),
    "launcher": N_("Chat with us"),
    "panel": N_("Chat with the shop"),
    "close": N_("Close chat"),
    "log": N_("Conversation"),
    "input": N_("Your message"),
    "placeholder": N_("Type your message…"),
    "send": N_("Send"),
    "support": N_("Support"),
    "team": N_("{agent} · support team"),
    "typing": N_("The assistant is typing"),
    "language": N_("Language"),
    "reconnecting": N_("Connection lost. Reconnecting…"),
    "not_sent": N_("Your message could not be sent. Please try again."),
    "unavailable": N_("The chat is not available right now. Please try again later."),
}


def widget_text(language: str | None) -> dict[str, object]:
    _ = texts(supported(language) or get_settings().shop_language)
    return {
        "language": _.language,
        "direction": _.direction,
        "text": {key: _(message) for key, message in WIDGET_TEXT.items()},
        "languages": [{"code": code, "name": language_name(code)} for code in languages()],
    }


async def widget_text_api(request: Request) -> Response:
    """The widget's interface in a language (`lang`: a page's or browser's, like "pt-BR");
    the shop's default when it is not one of ours."""
    return JSONResponse(widget_text(request.query_params.get("lang")))


async def widget_js(request: Request) -> Response:
    return FileResponse(HERE / "widget.js", media_type="text/javascript")


async def demo_page(request: Request) -> Response:
    return FileResponse(HERE / "demo.html", media_type="text/html")


class ShopperCors:
    """CORS for the shopper API only (/api/conversations...): the widget runs on the shop's
    own site. The console never answers cross-origin.

    `origins` (WIDGET_ORIGINS) are the shop sites that may embed the widget; "*" is any: the
    shopper API uses no cookies, a conversation id is its only key."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.origins = list(origins)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] != "http" or not path.startswith(("/api/conversations", "/api/widget")):
            await self.app(scope, receive, send)
            return
        origin = dict(scope["headers"]).get(b"origin", b"").decode()
        allow = "*" if "*" in self.origins else (origin if origin in self.origins else None)
        cors = []
        if allow:
            cors = [(b"access-control-allow-origin", allow.encode()), (b"vary", b"origin")]
        if scope["method"] == "OPTIONS":
            headers = cors + [
                (b"access-control-allow-methods", b"GET, POST"),
                (b"access-control-allow-headers", b"content-type, last-event-id"),
                (b"access-control-max-age", b"600"),
            ]
            await send({"type": "http.response.start", "status": 204, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = list(message.get("headers", [])) + cors
            await send(message)

        await self.app(scope, receive, send_with_cors)


routes = [
    Route("/api/conversations/{cid}/events", events, methods=["GET"]),
    Route("/api/widget/text", widget_text_api, methods=["GET"]),
    Route("/widget.js", widget_js, methods=["GET"]),
    Route("/demo", demo_page, methods=["GET"]),
]

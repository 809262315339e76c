"""The gateway's own HTTP channel for shoppers: start a conversation, send messages, read
(or wait for) new ones. The web widget and tests use it; the conversation id is the key."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot import conversations, language
from bot.gateway.requests import BadRequest, clean_text, gateway_of, json_body, message_id
from bot.i18n import languages, supported

MAX_WAIT_SECONDS = 30.0


def error(message: str, status: int) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


POLLED_CHANNELS = ("api", "web")


async def start_conversation(request: Request) -> JSONResponse:
    """`{"channel": "web"}` from the widget; plain API clients may send no body."""
    limit = gateway_of(request).conversation_limit
    client = request.client.host if request.client else "unknown"
    if not await limit.allow(client):
        wait = int(await limit.retry_after(client)) + 1
        response = error("too many new conversations; please wait a minute", 429)
        response.headers["Retry-After"] = str(wait)
        return response
    channel, hint = "api", None
    if await request.body():
        try:
            body = await json_body(request)
        except BadRequest as bad:
            return error(str(bad), bad.status)
        channel, hint = body.get("channel", "api"), language_hint(body)
        if channel not in POLLED_CHANNELS:
            return error(f"'channel' must be one of {', '.join(POLLED_CHANNELS)}", 400)
    engine = gateway_of(request).engine
    conversation, key = conversations.start_with_key(channel, engine=engine)
    if hint:
        conversations.set_language(conversation.id, hint, language.HINT, engine)
    return JSONResponse(  # the key is the shopper's alone: the store keeps its hash
        {"conversation_id": key, "mode": "bot", "language": hint},
        status_code=201,
    )


def language_hint(body: dict) -> str | None:
    """`"language"`: the widget page's `lang` or the browser's language, as a hint; only one
    of the shipped languages counts."""
    value = body.get("language")
    return supported(value) if isinstance(value, str) else None


async def post_message(request: Request) -> JSONResponse:
    gateway = gateway_of(request)
    conversation = conversations.by_key(request.path_params["cid"], gateway.engine)
    if conversation is None:
        return error("no such conversation", 404)
    try:
        body = await json_body(request)
        text = clean_text(body.get("text"))
        payload = body.get("payload")
        if payload is not None:
            payload = clean_text(payload)
    except BadRequest as bad:
        return error(str(bad), bad.status)
    said = await gateway.receive(conversation, text, payload, hint=language_hint(body))
    current = conversations.get(conversation.id, gateway.engine)
    return JSONResponse(
        {
            "messages": [s.as_json() for s in said],
            "mode": current.mode,
            "language": current.language,
        }
    )


async def choose_language(request: Request) -> JSONResponse:
    """The shopper picked a language (the widget's menu): `{"language": "tr"}`."""
    gateway = gateway_of(request)
    conversation = conversations.by_key(request.path_params["cid"], gateway.engine)
    if conversation is None:
        return error("no such conversation", 404)
    try:
        chosen = language_hint(await json_body(request))
    except BadRequest as bad:
        return error(str(bad), bad.status)
    if chosen is None:
        return error(f"'language' must be one of {', '.join(languages())}", 400)
    said = await gateway.choose_language(conversation, chosen)
    return JSONResponse({"messages": [s.as_json() for s in said], "language": chosen})


async def get_messages(request: Request) -> JSONResponse:
    """Messages after `after` (an id); with `wait` seconds, waits for one to arrive."""
    gateway = gateway_of(request)
    try:
        after = message_id(request.query_params.get("after"))
        wait = min(float(request.query_params.get("wait", 0)), MAX_WAIT_SECONDS)
    except BadRequest as bad:
        return error(str(bad), bad.status)
    except ValueError:
        return error("'wait' must be a number of seconds", 400)
    conversation = conversations.by_key(request.path_params["cid"], gateway.engine)
    if conversation is None:
        return error("no such conversation", 404)
    cid = conversation.id
    event = gateway.hub.listen(cid)
    said = conversations.messages(cid, after, gateway.engine)
    if not said and wait > 0:
        await gateway.hub.wait(event, wait)
        said = conversations.messages(cid, after, gateway.engine)
    # Staff notes ("resolved by ...") are not for the shopper.
    shown = [s.as_json() for s in said if s.sender != "system"]
    current = conversations.get(cid, gateway.engine)
    last = said[-1].id if said else after
    return JSONResponse(
        {"messages": shown, "mode": current.mode, "last": last, "language": current.language}
    )


routes = [
    Route("/api/conversations", start_conversation, methods=["POST"]),
    Route("/api/conversations/{cid}/messages", post_message, methods=["POST"]),
    Route("/api/conversations/{cid}/messages", get_messages, methods=["GET"]),
    Route("/api/conversations/{cid}/language", choose_language, methods=["POST"]),
]

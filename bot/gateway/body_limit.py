"""A cap on every request body (MAX_REQUEST_BYTES): a body over it is refused with 413 before
the gateway holds more than the cap of it, however the client sends it.

A declared Content-Length over the cap is refused before anything is read. A body without one
(chunked) is counted as it streams: the chunk that would pass the cap is never handed on; the
handler reading it is stopped and the client gets the 413 instead."""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodyTooLarge(Exception):
    """Raised from the wrapped `receive` into whatever is reading the body; caught below."""


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = [value for name, value in scope["headers"] if name.lower() == b"content-length"]
        if declared:
            lengths = {value.strip() for value in declared}
            if len(lengths) > 1 or not all(v.isdigit() for v in lengths):
                await refuse(send, 400, "the Content-Length header is not one whole number")
                return
            if int(lengths.pop()) > self.max_bytes:
                await refuse(send, 413, self.too_large())
                return

        received = 0
        started = False

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge
            return message

        async def tracked_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted_receive, tracked_send)
        except BaseException as error:
            if not only_too_large(error):
                raise
            # Mid-response (a stream that listened for a disconnect): nothing to answer.
            if not started:
                await refuse(send, 413, self.too_large())

    def too_large(self) -> str:
        return f"the request body is larger than {self.max_bytes} bytes"


def only_too_large(error: BaseException) -> bool:
    """BodyTooLarge, alone or as the only kind in an exception group (anyio task groups)."""
    if isinstance(error, BaseExceptionGroup):
        matched, rest = error.split(BodyTooLarge)
        return matched is not None and rest is None
    return isinstance(error, BodyTooLarge)


async def refuse(send: Send, status: int, message: str) -> None:
    body = json.dumps({"error": message}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})

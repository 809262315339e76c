"""Wakes up whoever waits for new messages of a conversation (long polls, live pages), on
this gateway and, through the shared state (bot/gateway/shared.py), on every other: an agent's
reply sent through one gateway reaches a shopper streaming from another. Also counts this
gateway's open event streams, which are capped: each holds a connection and a task for as long
as the client likes, so without a cap one conversation could hold the gateway's all."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any
from weakref import WeakValueDictionary

if TYPE_CHECKING:
    from bot.gateway.shared import MemoryShared


class Hub:
    def __init__(self, shared: MemoryShared | None = None) -> None:
        self.shared = shared
        if shared is not None:
            shared.on("notify", self._heard)
        # An event lives while a waiter holds it; a long poll that timed out leaves nothing.
        self._events: WeakValueDictionary[str, asyncio.Event] = WeakValueDictionary()
        self._streams: dict[str, int] = {}  # open event streams per conversation
        self._streams_total = 0

    def listen(self, conversation_id: str) -> asyncio.Event:
        """Call before reading the transcript, then wait on the event if nothing was new, so a
        message stored in between is not missed."""
        event = self._events.get(conversation_id)
        if event is None:
            event = self._events[conversation_id] = asyncio.Event()
        return event

    def notify(self, conversation_id: str) -> None:
        """New messages in the conversation: its waiters here at once, then every gateway's."""
        self._wake(conversation_id)
        if self.shared is not None:
            self.shared.broadcast("notify", {"c": conversation_id})

    def _heard(self, seq: int, message: dict[str, Any]) -> None:
        self._wake(message["c"])

    def _wake(self, conversation_id: str) -> None:
        event = self._events.pop(conversation_id, None)
        if event is not None:
            event.set()

    @staticmethod
    async def wait(event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

    def open_stream(self, conversation_id: str, per_conversation: int, total: int) -> bool:
        """Count one more open stream of the conversation; False (and nothing counted) if
        the conversation already has `per_conversation` or the gateway `total`. Whoever got
        True calls `close_stream` once, however the stream ends."""
        open_here = self._streams.get(conversation_id, 0)
        if open_here >= per_conversation or self._streams_total >= total:
            return False
        self._streams[conversation_id] = open_here + 1
        self._streams_total += 1
        return True

    def close_stream(self, conversation_id: str) -> None:
        left = self._streams.pop(conversation_id, 0) - 1
        if left > 0:
            self._streams[conversation_id] = left
        self._streams_total = max(0, self._streams_total - 1)

    def open_streams(self, conversation_id: str | None = None) -> int:
        """Open streams of one conversation, or of the whole gateway."""
        if conversation_id is None:
            return self._streams_total
        return self._streams.get(conversation_id, 0)

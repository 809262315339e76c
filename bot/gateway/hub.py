"""Wakes up whoever waits for new messages of a conversation (long polls, live pages)."""

from __future__ import annotations

import asyncio
import contextlib
from weakref import WeakValueDictionary


class Hub:
    def __init__(self) -> None:
        # An event lives while a waiter holds it; a long poll that timed out leaves nothing.
        self._events: WeakValueDictionary[str, asyncio.Event] = WeakValueDictionary()

    def listen(self, conversation_id: str) -> asyncio.Event:
        """Call before reading the transcript, then wait on the event if nothing was new, so a
        message stored in between is not missed."""
        event = self._events.get(conversation_id)
        if event is None:
            event = self._events[conversation_id] = asyncio.Event()
        return event

    def notify(self, conversation_id: str) -> None:
        event = self._events.pop(conversation_id, None)
        if event is not None:
            event.set()

    @staticmethod
    async def wait(event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

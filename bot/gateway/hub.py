"""Wakes up whoever waits for new messages of a conversation (long polls, live pages)."""

from __future__ import annotations

import asyncio
import contextlib


class Hub:
    def __init__(self) -> None:
        self._events: dict[str, asyncio.Event] = {}

    def listen(self, conversation_id: str) -> asyncio.Event:
        """Call before reading the transcript, then wait on the event if nothing was new, so a
        message stored in between is not missed."""
        return self._events.setdefault(conversation_id, asyncio.Event())

    def notify(self, conversation_id: str) -> None:
        event = self._events.pop(conversation_id, None)
        if event is not None:
            event.set()

    @staticmethod
    async def wait(event: asyncio.Event, timeout: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(event.wait(), timeout)

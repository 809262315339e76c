"""Per-sender rate limits, kept in the gateway's memory (one gateway process; see README)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class RateLimiter:
    """At most `limit` events per `window` seconds for each key (a sliding window)."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._warned: dict[str, float] = {}

    def allow(self, key: str) -> bool:
        """Count one event for `key`; False (and not counted) if it is over the limit."""
        now = self.clock()
        events = self._recent(key, now)
        if len(events) >= self.limit:
            return False
        events.append(now)
        return True

    def retry_after(self, key: str) -> float:
        """Seconds until `key` may send again (0 if it may now)."""
        events = self._recent(key, self.clock())
        if len(events) < self.limit:
            return 0.0
        return max(0.0, events[0] + self.window - self.clock())

    def first_refusal(self, key: str) -> bool:
        """True once per window for a refused key: tell the sender once, not on every message."""
        now = self.clock()
        if now - self._warned.get(key, -self.window) < self.window:
            return False
        self._warned[key] = now
        return True

    def _recent(self, key: str, now: float) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window:
            events.popleft()
        if len(self._events) > 10_000:  # forget idle senders so memory stays bounded
            self._forget_idle(now)
            events = self._events.setdefault(key, events)
        return events

    def _forget_idle(self, now: float) -> None:
        cutoff = now - self.window
        self._events = {k: v for k, v in self._events.items() if v and v[-1] > cutoff}
        self._warned = {k: t for k, t in self._warned.items() if t > cutoff}

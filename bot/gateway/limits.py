"""Per-sender rate limits: a sliding window of events per key. `RateLimiter` counts in this
gateway's memory (one gateway); `RedisRateLimiter` counts in Redis, so a sender who spreads
messages over several gateways meets the same limit (bot/gateway/shared.py picks one).

A Redis that cannot be reached lets messages through (and logs it): a shopper is not refused
because a counter is down, and the per-gateway caps (streams, body size) still hold."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class Limiter(Protocol):
    async def allow(self, key: str) -> bool:
        """Count one event for `key`; False (and not counted) if it is over the limit."""

    async def retry_after(self, key: str) -> float:
        """Seconds until `key` may send again (0 if it may now)."""

    async def first_refusal(self, key: str) -> bool:
        """True once per window for a refused key: tell the sender once, not every time."""


class RateLimiter:
    """At most `limit` events per `window` seconds for each key, in this process's memory."""

    def __init__(
        self, limit: int, window: float = 60.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[str, deque[float]] = {}
        self._warned: dict[str, float] = {}

    async def allow(self, key: str) -> bool:
        now = self.clock()
        events = self._recent(key, now)
        if len(events) >= self.limit:
            return False
        events.append(now)
        return True

    async def retry_after(self, key: str) -> float:
        events = self._recent(key, self.clock())
        if len(events) < self.limit:
            return 0.0
        return max(0.0, events[0] + self.window - self.clock())

    async def first_refusal(self, key: str) -> bool:
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


# One sorted set per key, scored by Redis's own clock (every gateway reads the same one):
# drop what left the window, refuse at the limit, else add this event. Atomic in Redis.
ALLOW = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now, now .. ':' .. ARGV[3])
redis.call('PEXPIRE', KEYS[1], window)
return 1
"""
RETRY_AFTER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then return 0 end
local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
return math.max(0, tonumber(oldest[2]) + window - now)
"""


class RedisRateLimiter:
    """The same sliding window, kept in Redis under `sa:limit:NAME:` and a hash of the key
    (keys name shoppers: a chat, a phone number, a conversation)."""

    def __init__(self, redis: Any, name: str, limit: int, window: float = 60.0) -> None:
        self.redis = redis
        self.prefix = f"sa:limit:{name}:"
        self.limit = limit
        self.window_ms = int(window * 1000)
        self._allow = redis.register_script(ALLOW)
        self._retry_after = redis.register_script(RETRY_AFTER)

    def _key(self, key: str) -> str:
        return self.prefix + hashlib.sha256(key.encode()).hexdigest()[:32]

    async def allow(self, key: str) -> bool:
        try:
            args = [self.window_ms, self.limit, secrets.token_hex(4)]
            return bool(await self._allow(keys=[self._key(key)], args=args))
        except RedisError as error:
            logger.warning("rate limit not checked, Redis unavailable: %r", error)
            return True

    async def retry_after(self, key: str) -> float:
        try:
            wait = await self._retry_after(keys=[self._key(key)], args=[self.window_ms, self.limit])
            return int(wait) / 1000
        except RedisError:
            return 0.0

    async def first_refusal(self, key: str) -> bool:
        try:
            key = self._key(key) + ":told"
            return bool(await self.redis.set(key, 1, nx=True, px=self.window_ms))
        except RedisError:
            return False

"""The state several gateways must share, behind one small interface:

- rate limits (bot/gateway/limits.py);
- one conversation's turns one at a time, in order (`conversation_lock`);
- news told to every gateway (`broadcast`/`on`): a conversation has new messages, so whoever
  streams it on any gateway is woken (bot/gateway/hub.py); a staff alert
  (bot/gateway/alerts.py). Each topic's messages are numbered in one sequence, in the order
  every gateway hears them, so a console's Last-Event-ID means the same on every gateway;
- failed sends waiting for their retry (bot/gateway/delivery.py);
- which gateway runs a periodic job this time (`elect`).

`MemoryShared` keeps it in this process (one gateway: `make run`); `RedisShared` in Redis
(REDIS_URL), so any number of gateways behave as one. If Redis goes away, a gateway goes on
alone (limits let messages through, locks are local, news reaches its own streams) and logs
it; it reconnects by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from typing import Any
from weakref import WeakValueDictionary

import redis.asyncio as aioredis
from redis.exceptions import LockError, RedisError

from bot.gateway.delivery import MemoryRetries, RedisRetries, Retries
from bot.gateway.limits import Limiter, RateLimiter, RedisRateLimiter
from bot.settings import Settings

logger = logging.getLogger(__name__)

Listener = Callable[[int, dict[str, Any]], None]  # (sequence number, message)
TOPICS = ("notify", "alerts")
# A turn holds its conversation's lock at most this long: enough for Rasa to answer (and for
# the gateway to try another Rasa server); a gateway that died holding it frees it by then.
LOCK_SECONDS = 90.0
RECONNECT_SECONDS = 1.0

# Number the message and publish it in one atomic step, so every gateway hears a topic's
# messages in the order of their numbers.
PUBLISH = """
local seq = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', KEYS[2], seq .. ' ' .. ARGV[1])
return seq
"""


class MemoryShared:
    """One gateway: everything in this process."""

    def __init__(self) -> None:
        self.boot = secrets.token_hex(4)  # in alert ids: a restart starts new numbers
        self._listeners: dict[str, list[Listener]] = defaultdict(list)
        self._seq: dict[str, int] = defaultdict(int)
        # Held only while someone uses them, so the map does not grow with every conversation.
        self._locks: WeakValueDictionary[str, asyncio.Lock] = WeakValueDictionary()

    def limiter(self, name: str, limit: int, window: float = 60.0) -> Limiter:
        return RateLimiter(limit, window)

    def retries(self) -> Retries:
        return MemoryRetries()

    def _local_lock(self, conversation_id: str) -> asyncio.Lock:
        lock = self._locks.get(conversation_id)
        if lock is None:
            lock = self._locks[conversation_id] = asyncio.Lock()
        return lock

    @contextlib.asynccontextmanager
    async def conversation_lock(self, conversation_id: str) -> AsyncIterator[None]:
        async with self._local_lock(conversation_id):
            yield

    def on(self, topic: str, listener: Listener) -> None:
        self._listeners[topic].append(listener)

    def broadcast(self, topic: str, message: dict[str, Any]) -> None:
        """Tell every gateway's listeners of `topic` (here: at once)."""
        self._seq[topic] += 1
        self._hear(topic, self._seq[topic], message)

    def _hear(self, topic: str, seq: int, message: dict[str, Any]) -> None:
        for listener in self._listeners[topic]:
            try:
                listener(seq, message)
            except Exception:
                logger.exception("a listener of %s failed", topic)

    async def elect(self, job: str, seconds: float) -> bool:
        """True if this gateway should run `job` now (at most once per `seconds` in all)."""
        return True

    async def start(self) -> None:
        pass

    async def aclose(self) -> None:
        pass


class RedisShared(MemoryShared):
    """Several gateways: Redis holds what they share; each gateway keeps one subscription to
    the news and publishes through one task, so its own news keeps its order."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.redis = aioredis.from_url(url, socket_timeout=10, health_check_interval=30)
        self._publish = self.redis.register_script(PUBLISH)
        self._outbox: asyncio.Queue[tuple[str, dict[str, Any]]] = asyncio.Queue()
        self._tasks: list[asyncio.Task] = []
        self._subscribed = asyncio.Event()

    def limiter(self, name: str, limit: int, window: float = 60.0) -> Limiter:
        return RedisRateLimiter(self.redis, name, limit, window)

    def retries(self) -> Retries:
        return RedisRetries(self.redis)

    @contextlib.asynccontextmanager
    async def conversation_lock(self, conversation_id: str) -> AsyncIterator[None]:
        # This gateway's turns queue on the local lock (in order, without polling Redis);
        # the first in line then takes the conversation's lock in Redis from other gateways.
        async with self._local_lock(conversation_id):
            lock = self.redis.lock(
                f"sa:lock:{conversation_id}",
                timeout=LOCK_SECONDS,
                sleep=0.01,
                blocking_timeout=LOCK_SECONDS,
            )
            try:
                held = await lock.acquire()
            except RedisError as error:
                logger.warning("conversation lock only local, Redis unavailable: %r", error)
                held = False
            if not held:
                logger.warning("conversation lock not taken in time; going on")
            try:
                yield
            finally:
                if held:
                    with contextlib.suppress(LockError, RedisError):
                        await lock.release()

    def broadcast(self, topic: str, message: dict[str, Any]) -> None:
        """Queued for the publishing task: every gateway hears it, this one too."""
        self._outbox.put_nowait((topic, message))

    async def elect(self, job: str, seconds: float) -> bool:
        try:
            key = f"sa:job:{job}"
            return bool(await self.redis.set(key, self.boot, nx=True, px=int(seconds * 1000)))
        except RedisError as error:
            logger.warning("%s runs here: Redis unavailable (%r)", job, error)
            return True

    async def start(self) -> None:
        """Join the shared numbering (`boot`) and start hearing the news before returning,
        so nothing published after this is missed."""
        try:
            await self.redis.set("sa:boot", self.boot, nx=True)
            self.boot = (await self.redis.get("sa:boot")).decode()
        except RedisError as error:
            logger.warning("Redis unavailable at start (%r); retrying in the background", error)
        self._tasks = [
            asyncio.create_task(self._subscriber()),
            asyncio.create_task(self._publisher()),
        ]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._subscribed.wait(), 10)

    async def aclose(self) -> None:
        # What is still queued goes out first (a restart must not lose a staff alert).
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._drained(), 3)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.redis.aclose()

    async def _drained(self) -> None:
        while not self._outbox.empty():
            await asyncio.sleep(0.01)

    async def _publisher(self) -> None:
        while True:
            topic, message = await self._outbox.get()
            body = json.dumps(message, separators=(",", ":"))
            while True:
                try:
                    await self._publish(keys=[f"sa:seq:{topic}", f"sa:news:{topic}"], args=[body])
                    break
                except RedisError as error:
                    # Told here at least; other gateways hear it once Redis is back.
                    logger.warning("news not published yet, Redis unavailable: %r", error)
                    if topic == "notify":
                        self._hear(topic, 0, message)
                        break
                    await asyncio.sleep(RECONNECT_SECONDS)

    async def _subscriber(self) -> None:
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.subscribe(*(f"sa:news:{topic}" for topic in TOPICS))
                self._subscribed.set()
                async for item in pubsub.listen():
                    if item.get("type") != "message":
                        continue
                    topic = item["channel"].decode().removeprefix("sa:news:")
                    seq, _, body = item["data"].decode().partition(" ")
                    self._hear(topic, int(seq), json.loads(body))
            except (RedisError, OSError) as error:
                logger.warning("not hearing other gateways, Redis unavailable: %r", error)
                await asyncio.sleep(RECONNECT_SECONDS)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()


def shared_state(settings: Settings) -> MemoryShared:
    """Redis when REDIS_URL is set, else this process's memory."""
    return RedisShared(settings.redis_url) if settings.redis_url else MemoryShared()

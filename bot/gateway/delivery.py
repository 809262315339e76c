"""Getting stored messages to the shopper: channels that poll (the shopper API, the web
widget) are woken through the hub; Telegram and WhatsApp are pushed to. A send that fails
never fails the turn: it waits in a retry queue (`Retries`), which the gateway's delivery loop
works through after each of DELIVERY_RETRY_DELAYS. The queue is in memory for one gateway and
in Redis for several (bot/gateway/shared.py), where it outlives a gateway that is restarted:
a retry names the stored messages, and whichever gateway has the channel sends them."""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from redis.exceptions import RedisError
from sqlalchemy import Engine

from bot import conversations
from bot.conversations import Said
from bot.gateway.hub import Hub
from bot.store.models import Conversation

logger = logging.getLogger(__name__)

# A claimed retry is another gateway's again after this long, should its sender die mid-send.
LEASE_SECONDS = 60.0
TICK_SECONDS = 0.25  # how often the loop looks for retries that are due


class Deliverer(Protocol):
    """Pushes messages to a channel that does not poll the gateway (Telegram, WhatsApp)."""

    async def deliver(self, conversation: Conversation, said: list[Said]) -> None: ...


@dataclass
class Retry:
    conversation_id: str
    channel: str
    message_ids: list[int]
    retried: int = 0  # retries already made
    id: str = ""

    def __post_init__(self) -> None:
        self.id = self.id or uuid.uuid4().hex


class Retries(Protocol):
    async def add(self, retry: Retry, due: float) -> None: ...
    async def claim(self, channels: Iterable[str], now: float) -> list[Retry]:
        """The retries of these channels due by `now`, each leased to the caller."""

    async def done(self, retry: Retry) -> None: ...
    async def waiting(self) -> int: ...


class MemoryRetries:
    def __init__(self) -> None:
        self._due: dict[str, tuple[float, Retry]] = {}

    async def add(self, retry: Retry, due: float) -> None:
        self._due[retry.id] = (due, retry)

    async def claim(self, channels: Iterable[str], now: float) -> list[Retry]:
        channels = set(channels)
        claimed = [r for due, r in self._due.values() if due <= now and r.channel in channels]
        for retry in claimed:
            self._due[retry.id] = (now + LEASE_SECONDS, retry)
        return claimed

    async def done(self, retry: Retry) -> None:
        self._due.pop(retry.id, None)

    async def waiting(self) -> int:
        return len(self._due)


# Each channel's queue is a sorted set of retry ids by due time; the retries themselves are
# in one hash. Claiming moves a due retry's time a lease ahead, atomically.
CLAIM = """
local out = {}
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, 20)
for _, id in ipairs(ids) do
  local item = redis.call('HGET', KEYS[2], id)
  if item then
    redis.call('ZADD', KEYS[1], ARGV[1] + ARGV[2], id)
    table.insert(out, item)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
"""
ITEMS = "sa:retries"


class RedisRetries:
    def __init__(self, redis: Any) -> None:
        self.redis = redis
        self._claim = redis.register_script(CLAIM)

    async def add(self, retry: Retry, due: float) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(ITEMS, retry.id, json.dumps(asdict(retry)))
            pipe.zadd(f"{ITEMS}:{retry.channel}", {retry.id: due})
            await pipe.execute()

    async def claim(self, channels: Iterable[str], now: float) -> list[Retry]:
        claimed = []
        for channel in channels:
            items = await self._claim(keys=[f"{ITEMS}:{channel}", ITEMS], args=[now, LEASE_SECONDS])
            claimed += [Retry(**json.loads(item)) for item in items]
        return claimed

    async def done(self, retry: Retry) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(f"{ITEMS}:{retry.channel}", retry.id)
            pipe.hdel(ITEMS, retry.id)
            await pipe.execute()

    async def waiting(self) -> int:
        return await self.redis.hlen(ITEMS)


class Delivery:
    """`retry_delays`: seconds to wait before each retry of a failed send
    (DELIVERY_RETRY_DELAYS)."""

    def __init__(
        self,
        hub: Hub,
        retry_delays: tuple[float, ...],
        engine: Engine | None = None,
        retries: Retries | None = None,
    ) -> None:
        self.hub = hub
        self.retry_delays = retry_delays
        self.engine = engine
        self.retries = retries or MemoryRetries()
        self.deliverers: dict[str, Deliverer] = {}

    def register(self, channel: str, deliverer: Deliverer) -> None:
        """`channel`'s messages go to `deliverer` from now on (a channel that started)."""
        self.deliverers[channel] = deliverer

    def unregister(self, channel: str) -> None:
        self.deliverers.pop(channel, None)

    async def send(self, conversation: Conversation, said: list[Said]) -> None:
        """Wake whoever waits on the conversation, and push to its channel if it has a
        deliverer. The messages are stored already, so a failed push is retried later."""
        if said:
            self.hub.notify(conversation.id)
        deliverer = self.deliverers.get(conversation.channel)
        if deliverer is None or not said:
            return
        try:
            await deliverer.deliver(conversation, said)
        except Exception as error:  # stored already; try again from the queue
            logger.warning("delivery to %s failed (%r); will retry", conversation.channel, error)
            retry = Retry(conversation.id, conversation.channel, [s.id for s in said])
            await self._queue(retry, conversation, said)

    async def _queue(self, retry: Retry, conversation: Conversation, said: list[Said]) -> None:
        if retry.retried >= len(self.retry_delays):
            self._give_up(conversation, said)
            return
        due = time.time() + self.retry_delays[retry.retried]
        try:
            await self.retries.add(retry, due)
        except RedisError as error:  # the queue is down too: say so now rather than lose it
            logger.warning("retry not queued, Redis unavailable: %r", error)
            self._give_up(conversation, said)

    def _give_up(self, conversation: Conversation, said: list[Said]) -> None:
        """The channel stayed down: the transcript says so, so staff know the shopper has not
        seen it."""
        conversations.add(
            conversation.id,
            "system",
            f"Not delivered on {conversation.channel}: " + " / ".join(s.text for s in said),
            engine=self.engine,
        )
        self.hub.notify(conversation.id)

    async def retry_due(self) -> int:
        """Try again every queued send that is due on a channel this gateway has; how many."""
        claimed = await self.retries.claim(list(self.deliverers), time.time())
        for retry in claimed:
            await self._retry(retry)
        return len(claimed)

    async def _retry(self, retry: Retry) -> None:
        conversation = conversations.get(retry.conversation_id, self.engine)
        deliverer = self.deliverers.get(retry.channel)
        if conversation is None or deliverer is None:  # erased meanwhile, or channel stopped
            await self.retries.done(retry)
            return
        first = min(retry.message_ids) - 1
        wanted = set(retry.message_ids)
        said = [
            s
            for s in conversations.messages(conversation.id, after=first, engine=self.engine)
            if s.id in wanted
        ]
        if not said:
            await self.retries.done(retry)
            return
        try:
            await deliverer.deliver(conversation, said)
        except Exception as error:
            logger.warning("delivery to %s failed again (%r)", retry.channel, error)
            retry.retried += 1
            await self._queue(retry, conversation, said)
            if retry.retried < len(self.retry_delays):
                return
        await self.retries.done(retry)

    async def run(self) -> None:
        """The delivery loop (one per gateway): queued retries, as they come due."""
        while True:
            try:
                await self.retry_due()
            except RedisError as error:
                logger.warning("delivery retries wait, Redis unavailable: %r", error)
            except Exception:
                logger.exception("delivery retries failed; trying again")
            await asyncio.sleep(TICK_SECONDS)

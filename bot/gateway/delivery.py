"""Getting stored messages to the shopper: channels that poll (the shopper API, the web
widget) are woken through the hub; Telegram and WhatsApp are pushed to, and a send that
fails is retried in the background, so a channel's outage never fails the turn."""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from sqlalchemy import Engine

from bot import conversations
from bot.conversations import Said
from bot.gateway.hub import Hub
from bot.store.models import Conversation

logger = logging.getLogger(__name__)


class Deliverer(Protocol):
    """Pushes messages to a channel that does not poll the gateway (Telegram, WhatsApp)."""

    async def deliver(self, conversation: Conversation, said: list[Said]) -> None: ...


class Delivery:
    """`retry_delays`: seconds to wait before each retry of a failed send
    (DELIVERY_RETRY_DELAYS)."""

    def __init__(
        self, hub: Hub, retry_delays: tuple[float, ...], engine: Engine | None = None
    ) -> None:
        self.hub = hub
        self.retry_delays = retry_delays
        self.engine = engine
        self.deliverers: dict[str, Deliverer] = {}
        self._retries: set[asyncio.Task] = set()

    def register(self, channel: str, deliverer: Deliverer) -> None:
        """`channel`'s messages go to `deliverer` from now on (a channel that started)."""
        self.deliverers[channel] = deliverer

    def unregister(self, channel: str) -> None:
        self.deliverers.pop(channel, None)

    @property
    def retrying(self) -> int:
        """How many failed sends are being retried in the background."""
        return len(self._retries)

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
        except Exception as error:  # stored already; try again in the background
            logger.warning("delivery to %s failed (%r); will retry", conversation.channel, error)
            task = asyncio.create_task(self._retry(conversation, said))
            self._retries.add(task)
            task.add_done_callback(self._retries.discard)

    async def _retry(self, conversation: Conversation, said: list[Said]) -> None:
        """Retry a failed send a few times; if the channel stays down, say so in the
        transcript so staff know the shopper has not seen it."""
        for delay in self.retry_delays:
            await asyncio.sleep(delay)
            deliverer = self.deliverers.get(conversation.channel)
            if deliverer is None:
                break
            try:
                await deliverer.deliver(conversation, said)
                return
            except Exception as error:
                logger.warning("delivery to %s failed again (%r)", conversation.channel, error)
        conversations.add(
            conversation.id,
            "system",
            f"Not delivered on {conversation.channel}: " + " / ".join(s.text for s in said),
            engine=self.engine,
        )
        self.hub.notify(conversation.id)

"""Delivery to pushed channels (Telegram, WhatsApp): a failed send is retried in the
background, and one that never gets through is noted in the transcript for staff."""

from __future__ import annotations

import asyncio

from bot import conversations
from bot.conversations import Said
from bot.gateway.delivery import Delivery
from bot.gateway.hub import Hub
from bot.store.models import Conversation


class FlakyChannel:
    """Fails the first `failures` sends, then takes them."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.attempts = 0
        self.delivered: list[str] = []

    async def deliver(self, conversation: Conversation, said: list[Said]) -> None:
        self.attempts += 1
        if self.attempts <= self.failures:
            raise ConnectionError("channel down")
        self.delivered += [s.text for s in said]


def deliver_and_settle(store, channel: FlakyChannel, delays: tuple[float, ...]) -> list[Said]:
    """Send one bot message through a Delivery and wait for its retries to finish; the
    conversation's transcript afterwards."""
    conversation = conversations.start("telegram", "42", engine=store)
    said = [conversations.add(conversation.id, "bot", "Hello?", engine=store)]

    async def run() -> None:
        delivery = Delivery(Hub(), delays, store)
        delivery.register("telegram", channel)
        await delivery.send(conversation, said)
        while await delivery.retries.waiting():
            await asyncio.sleep(0.01)
            await delivery.retry_due()

    asyncio.run(run())
    return conversations.messages(conversation.id, engine=store)


def test_a_failed_send_is_retried_until_it_gets_through(store):
    channel = FlakyChannel(failures=2)
    transcript = deliver_and_settle(store, channel, (0.01, 0.01, 0.01))
    assert channel.attempts == 3 and channel.delivered == ["Hello?"]
    assert [s.sender for s in transcript] == ["bot"]


def test_a_send_that_never_gets_through_is_noted_for_staff(store):
    channel = FlakyChannel(failures=99)
    transcript = deliver_and_settle(store, channel, (0.01, 0.01))
    assert channel.attempts == 3 and channel.delivered == []
    assert [(s.sender, s.text) for s in transcript][-1] == (
        "system",
        "Not delivered on telegram: Hello?",
    )


def test_a_polled_channel_is_only_woken(store):
    conversation = conversations.start("web", engine=store)
    said = [conversations.add(conversation.id, "bot", "Hi!", engine=store)]

    async def run() -> bool:
        hub = Hub()
        event = hub.listen(conversation.id)
        await Delivery(hub, (), store).send(conversation, said)
        return event.is_set()

    assert asyncio.run(run())

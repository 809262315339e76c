"""What several gateways share through a real Redis (bot/gateway/shared.py): two RedisShared
objects here are two gateways. The same behaviour in memory is what one gateway has."""

from __future__ import annotations

import asyncio

from bot import conversations
from bot.conversations import Said
from bot.gateway.alerts import Alerts
from bot.gateway.delivery import Delivery
from bot.gateway.hub import Hub
from bot.gateway.rasa_client import RasaClient
from bot.gateway.shared import MemoryShared, RedisShared
from bot.settings import get_settings
from bot.store.models import Conversation


def two_gateways(redis_url: str, test) -> None:
    """Run `test(a, b)` with two started RedisShared on one Redis."""

    async def run() -> None:
        a, b = RedisShared(redis_url), RedisShared(redis_url)
        await a.start()
        await b.start()
        try:
            await test(a, b)
        finally:
            await a.aclose()
            await b.aclose()

    asyncio.run(run())


def test_the_rate_limit_holds_across_gateways(redis_url):
    async def test(a, b):
        on_a, on_b = a.limiter("messages", 3), b.limiter("messages", 3)
        assert [await on_a.allow("tg:1"), await on_b.allow("tg:1"), await on_a.allow("tg:1")] == [
            True,
            True,
            True,
        ]
        assert not await on_b.allow("tg:1") and not await on_a.allow("tg:1")
        assert await on_b.allow("tg:2")  # another sender has its own budget
        assert 55 < await on_a.retry_after("tg:1") <= 60
        # The shopper is told once, whichever gateway refuses them first.
        assert await on_b.first_refusal("tg:1") and not await on_a.first_refusal("tg:1")

    two_gateways(redis_url, test)


def test_news_on_one_gateway_wakes_a_stream_on_the_other(redis_url):
    async def test(a, b):
        hub_a, hub_b = Hub(a), Hub(b)
        waiting = hub_a.listen("c-1")
        other = hub_a.listen("c-2")
        hub_b.notify("c-1")  # an agent's reply stored through gateway B
        await asyncio.wait_for(waiting.wait(), 5)
        await asyncio.sleep(0.1)
        assert not other.is_set()

    two_gateways(redis_url, test)


def test_staff_alerts_are_numbered_once_for_every_gateway(redis_url, store):
    async def test(a, b):
        alerts_a = Alerts(get_settings(), store, a)
        alerts_b = Alerts(get_settings(), store, b)
        changed = alerts_a.listen()
        alerts_b.publish("new_ticket", {"ticket": 7}, None)
        alerts_a.publish("shopper_wrote", {"ticket": 8}, for_user=3)
        await asyncio.wait_for(changed.wait(), 5)
        for _ in range(100):
            if len(alerts_a.since(0, 3)[1]) == 2 and len(alerts_b.since(0, 3)[1]) == 2:
                break
            await asyncio.sleep(0.02)
        seen_a, seen_b = alerts_a.since(0, 3)[1], alerts_b.since(0, 3)[1]
        assert [(x.seq, x.kind) for x in seen_a] == [(x.seq, x.kind) for x in seen_b]
        assert [x.kind for x in seen_a] == ["new_ticket", "shopper_wrote"]
        assert [x.kind for x in alerts_b.since(0, 4)[1]] == ["new_ticket"]  # not user 4's
        # A console that saw the first on gateway A resumes on gateway B after it.
        first_id = seen_a[0].sse(alerts_a.boot).split("\n")[0].removeprefix("id: ")
        resume = alerts_b.resume_point(first_id)
        assert [x.kind for x in alerts_b.since(resume, 3)[1]] == ["shopper_wrote"]

    two_gateways(redis_url, test)


def test_one_conversation_takes_turns_across_gateways(redis_url):
    async def test(a, b):
        order: list[str] = []

        async def turn(shared, name: str, hold: float) -> None:
            async with shared.conversation_lock("c-1"):
                order.append(f"{name} in")
                await asyncio.sleep(hold)
                order.append(f"{name} out")

        first = asyncio.create_task(turn(a, "a", 0.3))
        await asyncio.sleep(0.05)
        await asyncio.gather(turn(b, "b", 0), first, turn(b, "other", 0))
        assert order[:4] == ["a in", "a out", "b in", "b out"]
        # Another conversation does not wait for this one.
        async with a.conversation_lock("c-1"), b.conversation_lock("c-2"):
            pass

    two_gateways(redis_url, test)


def test_a_periodic_job_runs_on_one_gateway(redis_url):
    async def test(a, b):
        assert [await a.elect("late-check", 5), await b.elect("late-check", 5)] == [True, False]

    two_gateways(redis_url, test)


class Channel:
    def __init__(self, working: bool) -> None:
        self.working = working
        self.delivered: list[str] = []

    async def deliver(self, conversation: Conversation, said: list[Said]) -> None:
        if not self.working:
            raise ConnectionError("channel down")
        self.delivered += [s.text for s in said]


def test_a_queued_retry_outlives_the_gateway_that_queued_it(redis_url, store):
    conversation = conversations.start("telegram", "42", engine=store)
    said = [conversations.add(conversation.id, "bot", "Your parcel left", engine=store)]
    down, up = Channel(working=False), Channel(working=True)

    async def first_gateway() -> None:
        shared = RedisShared(redis_url)
        await shared.start()
        delivery = Delivery(Hub(shared), (0.2, 0.2), store, shared.retries())
        delivery.register("telegram", down)
        await delivery.send(conversation, said)
        assert await delivery.retries.waiting() == 1
        await shared.aclose()  # stopped before its retry was due

    async def restarted() -> None:
        shared = RedisShared(redis_url)
        await shared.start()
        without = Delivery(Hub(shared), (0.2, 0.2), store, shared.retries())
        without.register("whatsapp", up)  # a gateway without Telegram leaves it be
        delivery = Delivery(Hub(shared), (0.2, 0.2), store, shared.retries())
        delivery.register("telegram", up)
        await asyncio.sleep(0.3)
        assert await without.retry_due() == 0
        assert await delivery.retry_due() == 1
        assert await delivery.retry_due() == 0 and await delivery.retries.waiting() == 0
        await shared.aclose()

    asyncio.run(first_gateway())
    asyncio.run(restarted())
    assert up.delivered == ["Your parcel left"] and down.delivered == []


def test_memory_keeps_the_same_promises_for_one_gateway():
    async def test():
        shared = MemoryShared()
        hub = Hub(shared)
        waiting = hub.listen("c-1")
        hub.notify("c-1")
        assert waiting.is_set()
        assert await shared.elect("late-check", 5) and await shared.elect("late-check", 5)

    asyncio.run(test())


def test_each_conversation_keeps_to_one_rasa_server_and_moves_only_when_it_is_down():
    client = RasaClient(["http://127.0.0.1:1", "http://127.0.0.1:2"], secret="k")
    homes = {sender: client.order_for(sender)[0] for sender in (f"c-{i}" for i in range(200))}
    assert homes == {sender: client.order_for(sender)[0] for sender in homes}  # stable
    counts = [list(homes.values()).count(url) for url in client.servers]
    assert min(counts) > 70  # spread over both
    down = "http://127.0.0.1:1"
    client._down_until[down] = float("inf")
    moved = {s for s, home in homes.items() if client.order_for(s)[0] != home}
    assert moved == {s for s, home in homes.items() if home == down}
    asyncio.run(client.aclose())

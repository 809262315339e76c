"""Delivery retries queued in Redis (bot/gateway/delivery.py) outlive the gateway that queued
them: one crashed and started again sends what was waiting."""

from __future__ import annotations

import signal
import time

import redis

from bot.stack import Stack, free_port
from tests.conftest import new_agent
from tests.e2e.test_telegram import TOKEN, open_ticket_of_chat, replies
from tests.fakes.server import serving, wait_for
from tests.fakes.telegram_api import FakeBotApi


def test_a_gateway_killed_and_restarted_loses_no_queued_delivery(stack, redis_url):
    """A retry waiting in Redis when its gateway crashes is sent once it is back."""
    fake = FakeBotApi(TOKEN)
    env = {
        **stack.env,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "DELIVERY_RETRY_DELAYS": "3,3",
        "REDIS_URL": redis_url,
    }
    with serving(fake.app) as telegram_url:
        gateway = Stack(
            stack.model,
            stack.rasa_port,
            stack.action_port,
            free_port(),
            stack.log_dir,
            {**env, "TELEGRAM_API_URL": telegram_url},
            stack.tracker_url,
        )
        fake.gateway = gateway
        try:
            gateway.start_gateway()
            gateway.wait_healthy(timeout=60)
            chat = 880_001
            fake.user_says(chat, "I want to talk to a human")
            replies(fake, chat, 1)
            agent = new_agent(stack, gateway)
            ticket = open_ticket_of_chat(agent, chat)
            fake.failing_sends = 1  # the first send fails: the retry waits in Redis
            agent.post(f"/console/tickets/{ticket}/reply", text="Your refund is on its way")
            with redis.Redis.from_url(redis_url) as queue:
                wait_for(lambda: queue.hlen("sa:retries") == 1, what="the retry in Redis")
            gateway.stop_process("gateway", signal.SIGKILL)  # before the retry is due
            assert len(fake.sent(chat)) == 1
            gateway.start_process("gateway")
            sent = replies(fake, chat, 2)
            assert sent[1]["text"].endswith("Your refund is on its way")
            time.sleep(4)  # a second retry would be due by now
            assert len(fake.sent(chat)) == 2  # sent once
        finally:
            gateway.stop()

"""The per-sender rate limiter, on a clock the test moves."""

from __future__ import annotations

import asyncio

from bot.gateway.limits import RateLimiter


def test_the_limiter_counts_a_sliding_window_per_key():
    now = [0.0]
    limiter = RateLimiter(2, window=60, clock=lambda: now[0])

    async def check() -> None:
        assert await limiter.allow("a") and await limiter.allow("a")
        assert not await limiter.allow("a")
        assert await limiter.allow("b")  # another sender has its own budget
        assert await limiter.first_refusal("a") and not await limiter.first_refusal("a")
        now[0] = 30.0
        assert await limiter.retry_after("a") == 30.0
        now[0] = 60.5
        assert await limiter.allow("a") and await limiter.retry_after("b") == 0

    asyncio.run(check())

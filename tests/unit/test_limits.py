"""The per-sender rate limiter, on a clock the test moves."""

from __future__ import annotations

from bot.gateway.limits import RateLimiter


def test_the_limiter_counts_a_sliding_window_per_key():
    now = [0.0]
    limiter = RateLimiter(2, window=60, clock=lambda: now[0])
    assert limiter.allow("a") and limiter.allow("a") and not limiter.allow("a")
    assert limiter.allow("b")  # another sender has its own budget
    assert limiter.first_refusal("a") and not limiter.first_refusal("a")
    now[0] = 30.0
    assert limiter.retry_after("a") == 30.0
    now[0] = 60.5
    assert limiter.allow("a") and limiter.retry_after("b") == 0

"""Sign-in throttling for the staff console, kept in the gateway's memory (one gateway process).

Failed sign-ins are counted per username and per client address over a sliding window. The
first few are free; after them each further attempt must wait a delay that doubles from one
second, up to a cap. An attempt that comes too early is refused without checking the password:
guessing gets nowhere, the right password during the lock does not give itself away, and a
flood costs no password hashing. A success clears the username's and the address's count.

An admitted attempt counts as failed at once, until it succeeds: the password check takes a
while, and a burst of parallel attempts must not all slip through before the first one fails.
(bot/gateway/limits.py's RateLimiter allows a fixed number per window; this needs the delay
to grow with every failure, so it is its own small class.)
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from starlette.datastructures import State

FREE_FAILURES = 5
WINDOW_SECONDS = 15 * 60.0
FIRST_DELAY_SECONDS = 1.0
MAX_DELAY_SECONDS = 15 * 60.0
MAX_KEYS = 10_000


class LoginThrottle:
    def __init__(
        self,
        free: int = FREE_FAILURES,
        window: float = WINDOW_SECONDS,
        first_delay: float = FIRST_DELAY_SECONDS,
        max_delay: float = MAX_DELAY_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = MAX_KEYS,
    ) -> None:
        self.free = free
        self.window = window
        self.first_delay = first_delay
        self.max_delay = max_delay
        self.clock = clock
        self.max_keys = max_keys
        # Key -> times of its failures in the window; ordered by the latest failure, oldest
        # first, so idle keys are forgotten from the front.
        self._failures: dict[str, deque[float]] = {}

    def admit(self, username: str, address: str) -> float:
        """0 if this sign-in may be checked now (it counts as failed until `succeeded`);
        otherwise the seconds to wait, and nothing is counted."""
        now = self.clock()
        keys = _keys(username, address)
        wait = max(self._wait(key, now) for key in keys)
        if wait > 0:
            return wait
        for key in keys:
            self._record(key, now)
        return 0.0

    def succeeded(self, username: str, address: str) -> None:
        """The password was right: the username and the address start afresh."""
        for key in _keys(username, address):
            self._failures.pop(key, None)

    def wait(self, username: str, address: str) -> float:
        """Seconds until a sign-in for this username from this address may be checked."""
        now = self.clock()
        return max(self._wait(key, now) for key in _keys(username, address))

    def __len__(self) -> int:
        """How many usernames and addresses are remembered (for tests of the bound)."""
        return len(self._failures)

    def _wait(self, key: str, now: float) -> float:
        failures = self._recent(key, now)
        beyond = len(failures) - self.free
        if beyond < 0:
            return 0.0
        delay = min(self.first_delay * 2 ** min(beyond, 64), self.max_delay)
        return max(0.0, failures[-1] + delay - now)

    def _recent(self, key: str, now: float) -> deque[float]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        return failures

    def _record(self, key: str, now: float) -> None:
        failures = self._recent(key, now)
        self._failures.pop(key, None)  # to the back: the most recently failed
        failures.append(now)
        self._failures[key] = failures
        self._forget(now)

    def _forget(self, now: float) -> None:
        """Drop idle keys, and under a flood of more keys than `max_keys` the least recently
        failed, so memory stays bounded."""
        cutoff = now - self.window
        while self._failures:
            oldest = next(iter(self._failures))
            failures = self._failures[oldest]
            if failures and failures[-1] > cutoff and len(self._failures) <= self.max_keys:
                break
            del self._failures[oldest]


def _keys(username: str, address: str) -> tuple[str, str]:
    return f"user:{username}", f"addr:{address}"


def login_throttle_of(state: State) -> LoginThrottle:
    """The app's throttle (`app.state.login_throttle`), made on first use; a test can put
    its own there, on a clock it moves."""
    throttle = getattr(state, "login_throttle", None)
    if throttle is None:
        throttle = state.login_throttle = LoginThrottle()
    return throttle


def too_many_sign_ins(seconds: int) -> str:
    """What the login page says to an attempt that came too early."""
    return f"Too many failed sign-ins. Try again in {seconds} second{'' if seconds == 1 else 's'}."

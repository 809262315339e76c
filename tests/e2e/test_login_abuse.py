"""Password guessing at the staff console, on a real gateway process with the real Rasa: a
flood of wrong sign-ins is throttled (429, the password not even checked, the right one
neither), and shoppers' replies are not slowed by it, even by guesses the throttle cannot stop
(every name and address new), because passwords are hashed off the gateway's event loop."""

from __future__ import annotations

import asyncio
import itertools
import multiprocessing
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace

import httpx
import pytest

from bot.gateway.app import create_app
from bot.gateway.login_throttle import LoginThrottle
from bot.settings import get_settings
from bot.store.db import get_engine
from tests.conftest import PASSWORD, Shopper, gateway_with, new_agent
from tests.fakes.server import serving

pytestmark = pytest.mark.e2e

TOO_MANY = "Too many failed sign-ins. Try again in"


def median_reply_seconds(shopper: Shopper, messages: int = 10) -> float:
    took = []
    for n in range(messages):
        started = time.perf_counter()
        assert shopper.says(f"hello there {n}")
        took.append(time.perf_counter() - started)
    return statistics.median(took)


def wrong_login(username: str) -> dict[str, str]:
    return {"username": username, "password": "not the password"}


Answer = tuple[int, int, bool]  # status, Retry-After (0: none), says "Too many failed..."


def answer_of(response: httpx.Response) -> Answer:
    retry = int(response.headers.get("retry-after", 0))
    return response.status_code, retry, TOO_MANY in response.text


class Flood:
    """Until stopped: 50 clients guessing one staff member's password (all at once, then each
    again every second), and 24 parallel guesses at unknown names from ever new loopback
    addresses (five each, the free ones), which the throttle lets through to the password
    check. In a process of its own, so the flood's clients do not slow the test's shopper."""

    def __init__(self, gateway_url: str, username: str) -> None:
        self.url = gateway_url
        self.username = username
        context = multiprocessing.get_context("spawn")
        self.started, self.stop = context.Event(), context.Event()
        self.results = context.Queue()
        self.process = context.Process(target=self.main, daemon=True)
        self.first: list[Answer] = []  # the 50 at once
        self.at_user: list[Answer] = []  # all of them
        self.guesses: list[int] = []

    def main(self) -> None:
        asyncio.run(self.run())
        self.results.put((self.first, self.at_user, self.guesses))

    async def run(self) -> None:
        addresses = (f"127.0.{a}.{b}" for a, b in itertools.product(range(1, 250), range(1, 250)))
        async with httpx.AsyncClient(base_url=self.url, timeout=60) as http:
            sends = [
                http.post("/console/login", data=wrong_login(self.username)) for _ in range(50)
            ]
            self.first = [answer_of(answer) for answer in await asyncio.gather(*sends)]
            self.at_user.extend(self.first)
            await asyncio.gather(
                *(self.hammer(http) for _ in range(50)),
                *(self.guess(addresses, worker) for worker in range(24)),
            )

    async def hammer(self, http: httpx.AsyncClient) -> None:
        while not self.stop.is_set():
            await asyncio.sleep(1)
            answer = await http.post("/console/login", data=wrong_login(self.username))
            self.at_user.append(answer_of(answer))

    async def guess(self, addresses: Iterator[str], worker: int) -> None:
        for attempt in itertools.count():
            transport = httpx.AsyncHTTPTransport(local_address=next(addresses))
            async with httpx.AsyncClient(transport=transport, timeout=60) as http:
                for n in range(5):
                    if self.stop.is_set():
                        return
                    name = f"nobody-{worker}-{attempt}-{n}"
                    answer = await http.post(f"{self.url}/console/login", data=wrong_login(name))
                    self.guesses.append(answer.status_code)
                    if len(self.guesses) >= 24:  # both under way
                        self.started.set()

    @contextmanager
    def running(self) -> Iterator[Flood]:
        self.process.start()
        try:
            assert self.started.wait(timeout=60), "the flood did not start"
            yield self
        finally:
            self.stop.set()
            self.first, self.at_user, self.guesses = self.results.get(timeout=60)
            self.process.join(timeout=30)


def test_a_login_flood_is_throttled_and_does_not_slow_shoppers(stack):
    with gateway_with(stack, {}) as gateway:
        agent = new_agent(stack, gateway)  # a real staff member, signed in once already
        username = agent.http.get("/console/session").json()["username"]
        shopper = Shopper(gateway)
        shopper.says("hi")  # Rasa and the gateway warmed up
        before = median_reply_seconds(shopper)
        with Flood(gateway.gateway_url, username).running() as flood:
            during = median_reply_seconds(shopper)

        print(f"shopper reply median: {before:.3f} s before, {during:.3f} s during the flood")
        assert during <= 2 * before + 0.3, (before, during)
        statuses = [status for status, _, _ in flood.at_user]
        assert 303 not in statuses and statuses.count(401) <= 10, statuses
        assert [status for status, _, _ in flood.first].count(429) >= 45
        refused = [answer for answer in flood.at_user if answer[0] == 429]
        assert all(retry >= 1 and told for _, retry, told in refused)
        # The guesses at unknown names were checked (and failed), many of them.
        assert flood.guesses.count(401) >= 24 and 303 not in flood.guesses

        # The right password during the lock is refused unread, from any address: wait for
        # the lock to end, guess once more (checked, and counted), then at once the right one.
        login = f"{gateway.gateway_url}/console/login"
        while (guess := httpx.post(login, data=wrong_login(username))).status_code == 429:
            time.sleep(int(guess.headers["retry-after"]))
        assert guess.status_code == 401
        right = {"username": username, "password": PASSWORD}
        transport = httpx.HTTPTransport(local_address="127.0.0.99")
        with httpx.Client(transport=transport) as elsewhere:
            for answer in (httpx.post(login, data=right), elsewhere.post(login, data=right)):
                assert answer.status_code == 429 and TOO_MANY in answer.text
                assert "sa_staff" not in answer.cookies
        # The agent signed in before the flood keeps working.
        assert agent.http.get("/console/session").status_code == 200


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_right_password_works_again_after_the_window(stack):
    """The gateway's app in this process (so the test can move the throttle's clock), on
    the stack's store and Rasa, served over loopback HTTP."""
    clock = Clock()
    engine = get_engine(stack.db_url)
    settings = replace(get_settings(), store_database_url=stack.db_url, rasa_url=stack.rasa_url)
    app = create_app(settings, engine)
    app.state.login_throttle = LoginThrottle(window=15 * 60, clock=clock)
    agent = new_agent(stack)  # an account on the stack's store
    username = agent.http.get("/console/session").json()["username"]
    right = {"username": username, "password": PASSWORD}
    with serving(app) as url, httpx.Client(base_url=url) as http:
        answers = [http.post("/console/login", data=wrong_login(username)) for _ in range(8)]
        assert [a.status_code for a in answers] == [401] * 5 + [429] * 3
        clock.now += 1  # the first wait is over: one more guess is checked
        assert http.post("/console/login", data=wrong_login(username)).status_code == 401
        locked = http.post("/console/login", data=right)
        assert locked.status_code == 429 and locked.headers["retry-after"] == "2"
        clock.now += 15 * 60 + 1
        signed_in = http.post("/console/login", data=right)
        assert signed_in.status_code == 303 and "sa_staff" in signed_in.cookies
        # The success cleared the count: five free guesses again.
        http.cookies.clear()
        answers = [http.post("/console/login", data=wrong_login(username)) for _ in range(6)]
        assert [a.status_code for a in answers] == [401] * 5 + [429]

"""Sign-in throttling, on a clock the test moves; and the console's login behind it,
in-process (Starlette's test client, a fresh SQLite store)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from starlette.testclient import TestClient

from bot import staff
from bot.gateway.app import create_app
from bot.gateway.login_throttle import LoginThrottle, too_many_sign_ins
from bot.settings import get_settings
from bot.stack import free_port
from tests.conftest import PASSWORD


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def throttle(clock) -> LoginThrottle:
    return LoginThrottle(clock=clock)


def fail(throttle: LoginThrottle, times: int, username="alex", address="10.0.0.1") -> None:
    for _ in range(times):
        assert throttle.admit(username, address) == 0


def test_five_failures_are_free_then_each_attempt_waits_twice_as_long(throttle, clock):
    fail(throttle, 5)
    assert throttle.admit("alex", "10.0.0.1") == 1.0  # refused, and not counted
    assert throttle.admit("alex", "10.0.0.1") == 1.0
    clock.now += 1.0
    assert throttle.admit("alex", "10.0.0.1") == 0  # the sixth is checked (and fails)
    assert throttle.wait("alex", "10.0.0.1") == 2.0
    clock.now += 2.0
    fail(throttle, 1)
    assert throttle.wait("alex", "10.0.0.1") == 4.0
    clock.now += 1.5
    assert throttle.admit("alex", "10.0.0.1") == 2.5


def test_the_delay_is_capped(clock):
    throttle = LoginThrottle(window=10**6, max_delay=900, clock=clock)
    fail(throttle, 5)
    for _ in range(20):
        clock.now += throttle.wait("alex", "10.0.0.1")
        fail(throttle, 1)
    assert throttle.wait("alex", "10.0.0.1") == 900


def test_a_username_and_an_address_are_counted_apart(throttle):
    fail(throttle, 5, "alex", "10.0.0.1")
    # Another address guessing alex's password waits; alex's address trying another name too.
    assert throttle.admit("alex", "10.0.0.2") == 1.0
    assert throttle.admit("sam", "10.0.0.1") == 1.0
    assert throttle.admit("sam", "10.0.0.2") == 0


def test_failures_are_forgotten_after_the_window(clock):
    throttle = LoginThrottle(window=900, clock=clock)
    fail(throttle, 5)
    clock.now += 600
    fail(throttle, 1)
    assert throttle.wait("alex", "10.0.0.1") == 2.0
    clock.now += 300  # the first five fell out of the window: only one failure left
    assert throttle.wait("alex", "10.0.0.1") == 0
    fail(throttle, 4)
    assert throttle.admit("alex", "10.0.0.1") == 1.0


def test_a_success_clears_the_username_and_the_address(throttle, clock):
    fail(throttle, 5)
    clock.now += 1
    fail(throttle, 1)
    throttle.succeeded("alex", "10.0.0.1")
    fail(throttle, 5)  # five free again


def test_parallel_attempts_count_before_their_passwords_are_checked(throttle):
    """Admitted attempts count as failed at once: a burst cannot slip past the limit while
    the first ones are still being hashed."""
    admitted = [throttle.admit("alex", f"10.0.1.{n}") == 0 for n in range(50)]
    assert admitted.count(True) == 5


def test_memory_stays_bounded(clock):
    throttle = LoginThrottle(clock=clock, max_keys=100)
    for n in range(1000):
        throttle.admit(f"user-{n}", f"10.0.{n // 250}.{n % 250}")
    assert len(throttle) <= 100
    # The most recent failures are the ones kept.
    fail(throttle, 4, "user-999", "10.0.3.249")
    assert throttle.admit("user-999", "10.0.9.9") == 1.0
    # Idle keys go once the window has passed.
    clock.now += throttle.window + 1
    throttle.admit("someone", "10.9.9.9")
    assert len(throttle) == 2


def test_the_message_names_the_wait():
    assert too_many_sign_ins(30) == "Too many failed sign-ins. Try again in 30 seconds."
    assert too_many_sign_ins(1) == "Too many failed sign-ins. Try again in 1 second."


# --- the console's login behind the throttle ---------------------------------------------


@pytest.fixture
def console(store, clock):
    settings = replace(get_settings(), rasa_url=f"http://127.0.0.1:{free_port()}")
    staff.create_user("alex", PASSWORD, store)
    app = create_app(settings, engine=store)
    app.state.login_throttle = LoginThrottle(window=900, clock=clock)
    with TestClient(app, follow_redirects=False) as client:
        yield client


def log_in(client: TestClient, password: str, username: str = "alex"):
    return client.post("/console/login", data={"username": username, "password": password})


def test_the_login_page_refuses_early_attempts_without_checking_the_password(console, clock):
    for _ in range(5):
        assert log_in(console, "a wrong guess").status_code == 401
    refused = log_in(console, "a wrong guess")
    assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
    assert "Too many failed sign-ins. Try again in 1 second." in refused.text
    assert 'value="alex"' in refused.text  # the form keeps the name
    right = log_in(console, PASSWORD)  # the right password is refused too during the lock
    assert right.status_code == 429 and "sa_staff" not in console.cookies
    clock.now += 1
    assert log_in(console, PASSWORD).status_code == 303  # checked again, and it is right
    console.cookies.clear()
    for _ in range(5):  # the success cleared the count
        assert log_in(console, "a wrong guess").status_code == 401
    clock.now += 901
    assert log_in(console, PASSWORD).status_code == 303


def test_unknown_usernames_are_throttled_like_known_ones(console):
    for n in range(5):
        assert log_in(console, "guess", username=f"nobody-{n}").status_code == 401
    refused = log_in(console, PASSWORD)  # from the same address
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1

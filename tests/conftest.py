"""Shared fixtures: a freshly seeded SQLite store per test, and shopper conversations that
drive the real rasa-sdk actions the way the Rasa server does."""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from sqlalchemy import select

from bot import conversations
from bot.orders import get_order_source
from bot.redis_server import RedisServer
from bot.settings import PROJECT_ROOT, get_settings
from bot.stack import Stack, free_port
from bot.store.db import get_engine, session_scope
from bot.store.models import Ticket

MODEL = os.environ.get("SA_MODEL")
DOMAIN = yaml.safe_load((PROJECT_ROOT / "domain.yml").read_text())
SEED = yaml.safe_load((PROJECT_ROOT / "data" / "shop" / "seed.yml").read_text())


def seed_order(number: str) -> dict[str, Any]:
    """The seed row of an order, with its customer's email and postcode."""
    order = next(o for o in SEED["orders"] if o["number"] == number)
    customer = next(c for c in SEED["customers"] if c["id"] == order["customer"])
    return {**order, "email": customer["email"], "postcode": customer["address"]["postcode"]}


def make_stack(
    tmp: Path, env: dict[str, str] | None = None, tracker_url: str | None = None
) -> Stack:
    """Action server, Rasa and gateway on free ports, with their own store and tracker
    databases in tmp (kept across restarts; `env` and `tracker_url` may put them elsewhere),
    and any other settings in `env`. `stack.db_url` is the store's URL."""
    if not MODEL or not Path(MODEL).exists():
        pytest.skip("SA_MODEL is not set to a trained model (`make test` sets it)")
    stack = Stack(
        Path(MODEL),
        rasa_port=free_port(),
        action_port=free_port(),
        gateway_port=free_port(),
        log_dir=tmp,
        env={
            "STORE_DATABASE_URL": f"sqlite:///{tmp / 'store.db'}",
            # Every test shopper comes from 127.0.0.1; tests/e2e/test_abuse.py checks the limits.
            "RATE_LIMIT_MESSAGES_PER_MINUTE": "100000",
            "RATE_LIMIT_CONVERSATIONS_PER_MINUTE": "100000",
            **(env or {}),
        },
        tracker_url=tracker_url or f"sqlite:///{tmp / 'tracker.db'}",
    )
    stack.db_url = stack.env["STORE_DATABASE_URL"]
    return stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    """One running stack shared by the end-to-end, gateway and browser tests."""
    with make_stack(tmp_path_factory.mktemp("stack")) as running:
        yield running


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    """One real Redis (Debian's redis-server) on loopback for the session."""
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture
def redis_url(redis_server) -> str:
    """REDIS_URL of the session's Redis, emptied for this test."""
    import redis

    with redis.Redis.from_url(redis_server.url) as client:
        client.flushall()
    return redis_server.url


@pytest.fixture(autouse=True)
def fresh_settings():
    """Settings are read once per process: each test starts from the environment as it is,
    and what a test set with `monkeypatch.setenv` does not outlive it."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def seeded_store_file(tmp_path_factory) -> Path:
    """The demo shop seeded once into a SQLite file that each test's store starts as a copy of
    (seeding takes longer than most tests)."""
    path = tmp_path_factory.mktemp("seeded") / "store.db"
    engine = get_engine(f"sqlite:///{path}")
    with engine.connect() as connection:  # everything in the main file, nothing in the WAL
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def store(tmp_path, monkeypatch, seeded_store_file):
    """A new SQLite database seeded with the demo shop, used by the actions too."""
    shutil.copyfile(seeded_store_file, tmp_path / "store.db")
    url = f"sqlite:///{tmp_path / 'store.db'}"
    monkeypatch.setenv("STORE_DATABASE_URL", url)
    get_settings.cache_clear()
    get_order_source.cache_clear()
    yield get_engine(url)
    get_order_source.cache_clear()


@pytest.fixture
def faq_dir(tmp_path, monkeypatch) -> Path:
    """A copy of the shop's FAQ without what staff added or approved, as FAQ_PATH: tests that
    add entries or phrasings write there, never into data/faq."""
    from bot.faq.added import ADDED_FILE
    from bot.faq.entries import DEFAULT_FAQ

    folder = tmp_path / "faq"
    shutil.copytree(DEFAULT_FAQ, folder)
    (folder / ADDED_FILE).unlink(missing_ok=True)
    shutil.rmtree(folder / "learned", ignore_errors=True)
    monkeypatch.setenv("FAQ_PATH", str(folder))
    get_settings.cache_clear()
    return folder


class Conversation:
    """One shopper's conversation: keeps slots and events between turns like Rasa does."""

    def __init__(self, sender: str = "shopper-1", metadata: dict | None = None) -> None:
        self.sender = sender
        self.metadata = metadata or {}  # what the gateway sends with each message
        self.slots: dict[str, Any] = {
            name: spec.get("initial_value") for name, spec in DOMAIN["slots"].items()
        }
        self.slots["requested_slot"] = None
        self.events: list[dict[str, Any]] = []
        self.latest: dict[str, Any] = {}
        self.active_loop: str | None = None
        self.messages: list[str] = []
        self.sent: list[dict[str, Any]] = []

    def user(self, text: str, intent: str = "inform", **slots: Any) -> None:
        """The shopper says something; `slots` are what Rasa's slot mappings extracted."""
        self.latest = {
            "text": text,
            "intent": {"name": intent, "confidence": 0.99},
            "entities": [],
            "metadata": self.metadata,
        }
        self.events.append(
            {"event": "user", "text": text, "parse_data": self.latest, "timestamp": time.time()}
        )
        for name, value in slots.items():
            self.events.append({"event": "slot", "name": name, "value": value})
            self.slots[name] = value

    def tracker(self) -> Tracker:
        return Tracker(
            self.sender,
            dict(self.slots),
            self.latest,
            list(self.events),
            False,
            None,
            {"name": self.active_loop} if self.active_loop else {},
            "action_listen",
        )

    def run(self, action) -> list[dict[str, Any]]:
        """Run a real action; apply its events and collect what it said."""
        dispatcher = CollectingDispatcher()
        result = action.run(dispatcher, self.tracker(), DOMAIN)
        events = asyncio.run(result) if asyncio.iscoroutine(result) else result
        self.sent = dispatcher.messages  # whole messages: buttons, metadata
        said = [text for m in dispatcher.messages if (text := m.get("text") or m.get("response"))]
        self.messages = said
        for message in dispatcher.messages:
            if text := message.get("text") or message.get("response"):
                data = {"buttons": message.get("buttons") or []}
                self.events.append(
                    {"event": "bot", "text": text, "data": data, "timestamp": time.time()}
                )
        for event in events:
            if event["event"] == "slot":
                self.slots[event["name"]] = event["value"]
        return events

    @property
    def said(self) -> str:
        return " ".join(self.messages)


# --- shoppers on the running stack's gateway --------------------------------------------

PASSWORD = "correct horse battery staple"


class Shopper:
    """A shopper on the gateway's HTTP channel."""

    def __init__(self, stack) -> None:
        self.http = httpx.Client(base_url=stack.gateway_url, timeout=60)
        started = self.http.post("/api/conversations")
        assert started.status_code == 201
        self.key = started.json()["conversation_id"]  # the shopper's: never stored
        self.id = conversations.stored_id(self.key)  # what the databases keep
        self.last = 0

    def says(self, text: str, payload: str | None = None) -> str:
        body = {"text": text, **({"payload": payload} if payload else {})}
        response = self.http.post(f"/api/conversations/{self.key}/messages", json=body)
        response.raise_for_status()
        self.mode = response.json()["mode"]
        return " ".join(m["text"] for m in response.json()["messages"])

    def receives(self, wait: float = 10) -> list[dict]:
        """New messages since the last call, waiting up to `wait` s for one."""
        response = self.http.get(
            f"/api/conversations/{self.key}/messages", params={"after": self.last, "wait": wait}
        )
        response.raise_for_status()
        self.last = response.json()["last"]
        return response.json()["messages"]


def ticket_of(engine, conversation_id: str) -> Ticket:
    with session_scope(engine) as session:
        return session.scalars(
            select(Ticket).where(Ticket.conversation_id == conversation_id)
        ).one()


def handed_off_shopper(stack) -> Shopper:
    order = seed_order("10423")
    shopper = Shopper(stack)
    shopper.says("where is my order 10423?")
    assert "#10423 is" in shopper.says(order["email"])
    assert "reference H-" in shopper.says("I'd like to talk to a person please")
    assert shopper.mode == "human"
    return shopper


class Agent:
    """A logged-in staff member using the console's JSON answers."""

    def __init__(self, stack, username: str) -> None:
        self.http = httpx.Client(
            base_url=stack.gateway_url, timeout=60, headers={"accept": "application/json"}
        )
        login = self.http.post("/console/login", data={"username": username, "password": PASSWORD})
        assert login.status_code == 303, login.text
        self.csrf = self.http.get("/console/session").json()["csrf_token"]

    def post(self, path: str, **body) -> httpx.Response:
        return self.http.post(path, json=body, headers={"x-csrf-token": self.csrf})

    def ticket(self, ticket_id: int) -> dict:
        return self.http.get(f"/console/tickets/{ticket_id}").json()


def new_agent(stack, gateway: Stack | None = None) -> Agent:
    """A new staff account on the stack's store, logged in to `gateway` (default: the
    stack's own)."""
    from bot import staff

    name = f"agent-{os.urandom(3).hex()}"
    staff.create_user(name, PASSWORD, get_engine(stack.db_url))
    return Agent(gateway or stack, name)


@contextmanager
def gateway_with(stack, env: dict[str, str]) -> Iterator[Stack]:
    """One more gateway process, with channel settings in `env`, on the running stack's Rasa
    and store database. `.gateway_url` is its address."""
    extra = Stack(
        stack.model,
        rasa_port=stack.rasa_port,
        action_port=stack.action_port,
        gateway_port=free_port(),
        log_dir=stack.log_dir,
        env={**stack.env, **env},
        tracker_url=stack.tracker_url,
    )
    try:
        extra.start_gateway()
        extra.wait_healthy(timeout=60)
        yield extra
    finally:
        extra.stop()


# --- a real browser: Debian's chromium, headless, driven by Playwright ---------------------

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = PROJECT_ROOT / "var" / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    assert CHROMIUM.exists(), "Debian's chromium is missing: `make test` installs it"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        yield launched
        launched.close()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
    return path

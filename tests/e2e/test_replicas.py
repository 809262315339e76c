"""Several of each on one machine, as `bot stack run --gateways 2 --rasa 2` starts them: two
action servers, two Rasa servers (conversation locks in Redis) and two gateways behind nginx,
sharing a real Redis, the store and the trackers on a real PostgreSQL. First the processes: all
healthy, a conversation and a live stream through nginx, each Rasa server taking its locks in
Redis, a gateway or a Rasa server killed and started again on its port. Then what the gateways
share (bot/gateway/shared.py): an agent's reply through one reaches a shopper waiting on the
other, the rate limit holds across both, and a Rasa server killed among 20 shoppers loses
nothing."""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import redis
import yaml
from sqlalchemy import select

from bot.replies import SLOW_DOWN, UNAVAILABLE
from bot.stack import Stack, free_port, port_in_use
from bot.store.db import get_engine, session_scope
from bot.store.models import Message
from tests.conftest import MODEL, Shopper, new_agent, seed_order
from tests.postgres_server import PostgresServer

pytestmark = pytest.mark.e2e
MESSAGE_LIMIT = 5  # per shopper per minute, counted across both gateways


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, redis_server) -> Iterator[Stack]:
    """Two Rasa servers (each with its action server) and two gateways behind nginx, the store
    and the trackers on PostgreSQL: one stack for the whole module (each Rasa server takes
    ~30 s and ~1.5 GB to start). `.db_url` is the store's."""
    if not MODEL or not Path(MODEL).exists():
        pytest.skip("SA_MODEL is not set to a trained model (`make test` sets it)")
    tmp = tmp_path_factory.mktemp("replicas")
    postgres = PostgresServer()
    try:
        store_url = postgres.create_database("store")
        stack = Stack(
            Path(MODEL),
            free_port(),
            free_port(),
            free_port(),
            tmp,
            {
                "STORE_DATABASE_URL": store_url,
                "RATE_LIMIT_MESSAGES_PER_MINUTE": str(MESSAGE_LIMIT),
                "RATE_LIMIT_CONVERSATIONS_PER_MINUTE": "100000",
            },
            postgres.create_database("tracker"),
            rasa_replicas=2,
            gateways=2,
            redis_url=redis_server.url,
        )
        stack.db_url = store_url
        with stack:
            yield stack
    finally:
        postgres.stop(check=False)


def healthy(url: str) -> bool:
    try:
        return httpx.get(url, timeout=5).status_code == 200
    except httpx.TransportError:
        return False


def test_every_process_is_up_on_its_own_port(replicas):
    assert replicas.names() == [
        "actions",
        "actions-1",
        "rasa",
        "rasa-1",
        "gateway",
        "gateway-1",
        "nginx",
    ]
    ports = [replicas.port_of(name) for name in replicas.names()]
    assert len(set(ports)) == len(ports)
    for name in replicas.names():
        assert replicas.processes[name].poll() is None, replicas.log_tail(name)
        assert healthy(replicas.health_url(name)), name
    # Shoppers use nginx's address; each gateway has its own behind it.
    assert replicas.gateway_url not in replicas.gateway_urls
    assert len(replicas.rasa_urls) == len(replicas.gateway_urls) == 2


def test_each_rasa_server_has_its_action_server_and_redis_locks_without_the_password(
    replicas, redis_server
):
    for index in range(2):
        path = replicas.endpoints_file(index)
        endpoints = yaml.safe_load(path.read_text())
        assert endpoints["action_endpoint"]["url"] == f"{replicas.action_urls[index]}/webhook"
        lock_store = endpoints["lock_store"]
        assert lock_store["type"] == "rasa_components.lock_store.FailoverRedisLockStore"
        assert (lock_store["url"], lock_store["port"]) == ("127.0.0.1", redis_server.port)
        assert lock_store["password"] == "${REDIS_PASSWORD}"  # Rasa expands it
        assert redis_server.password not in path.read_text()


def test_each_rasa_server_takes_its_conversation_locks_in_redis(replicas, redis_server):
    """Rasa expanded the password and locks in our Redis: every message to either server
    sets and frees a `rasa:lock:` key there."""
    client = redis.Redis.from_url(redis_server.url)
    client.config_set("notify-keyspace-events", "K$g")  # set and del of every key
    events = client.pubsub()
    events.psubscribe("__keyspace@0__:rasa:lock:*")
    assert events.get_message(timeout=5)["type"] == "psubscribe"
    try:
        for index, url in enumerate(replicas.rasa_urls):
            sender = f"replica-test-{index}"
            answer = httpx.post(
                f"{url}/webhooks/rest/webhook",
                json={"sender": sender, "message": "hi"},
                headers=replicas.rasa_headers(),
                timeout=60,
            )
            assert answer.status_code == 200 and answer.json(), replicas.log_tail(
                f"rasa-{index}" if index else "rasa"
            )
            seen = []
            while message := events.get_message(timeout=2):
                seen.append((message["channel"].decode(), message["data"].decode()))
            channel = f"__keyspace@0__:rasa:lock:{sender}"
            assert (channel, "set") in seen and (channel, "del") in seen, seen
    finally:
        events.close()
        client.config_set("notify-keyspace-events", "")
        client.close()


def test_a_conversation_through_nginx_is_answered(replicas):
    """Every request goes round the gateways: the conversation is answered all the same,
    the verified order kept from one message to the next."""
    order = seed_order("10423")
    shopper = Shopper(replicas)
    assert "Northwind" in shopper.says("hi")
    shopper.says("where is my order 10423?")
    assert "#10423 is" in shopper.says(order["email"])
    assert "#10423" in shopper.says("when will it arrive?")


def test_a_live_stream_through_nginx_delivers_the_conversation(replicas):
    shopper = Shopper(replicas)
    stream_http = httpx.Client(base_url=replicas.gateway_url, timeout=httpx.Timeout(10, read=40))
    with (
        stream_http,
        stream_http.stream("GET", f"/api/conversations/{shopper.key}/events") as (response),
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines).startswith("retry:")  # passed on before the stream ends
        shopper.says("do you ship to Canada?")
        said = []
        while not any(m["sender"] == "bot" for m in said):
            line = next(lines)
            if line.startswith("data: "):
                said.append(json.loads(line.removeprefix("data: ")))
        assert said[0]["text"] == "do you ship to Canada?"
        assert "We ship to Canada" in said[-1]["text"]


def test_a_gateway_killed_is_skipped_by_nginx_and_starts_again_on_its_port(replicas):
    port = replicas.port_of("gateway-1")
    replicas.stop_process("gateway-1", signal.SIGKILL)
    try:
        assert not port_in_use(port) and "gateway-1" not in replicas.processes
        # Enough requests that round robin would have sent some to the dead gateway.
        for _ in range(3):
            shopper = Shopper(replicas)
            assert "Northwind" in shopper.says("hi")
            assert shopper.http.get("/health").status_code == 200
    finally:
        replicas.start_process("gateway-1", timeout=60)
    assert replicas.port_of("gateway-1") == port
    assert healthy(f"{replicas.gateway_urls[1]}/health")
    assert "Northwind" in Shopper(replicas).says("hello")


def test_a_rasa_server_killed_starts_again_on_its_port(replicas):
    url = replicas.rasa_urls[1]
    replicas.stop_process("rasa-1", signal.SIGKILL)
    try:
        assert not healthy(f"{url}/webhooks/rest/")
    finally:
        replicas.start_process("rasa-1")
    assert replicas.rasa_urls[1] == url and healthy(f"{url}/webhooks/rest/")
    answer = httpx.post(
        f"{url}/webhooks/rest/webhook",
        json={"sender": "replica-test-again", "message": "hi"},
        headers=replicas.rasa_headers(),
        timeout=60,
    )
    assert answer.status_code == 200 and answer.json()
    log = replicas.log_path("rasa-1").read_text(errors="replace")
    assert log.count("Rasa server is up and running") == 2  # one log, both runs


def test_no_password_or_key_in_any_file_the_stack_wrote(replicas, redis_server):
    """Last, after everything above: logs, endpoints files, nginx's config."""
    secrets = [redis_server.password, replicas.env["RASA_SECRET"]]
    secrets.append(replicas.env["ACTION_SERVER_SECRET"])
    files = [p for p in replicas.log_dir.rglob("*") if p.is_file() and p.suffix != ".db"]
    assert any(p.name == "nginx.conf" for p in files)
    for path in files:
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"a key is written in {path.name}"


# --- what several gateways share (bot/gateway/shared.py) and Rasa failover -------------


class On:
    """`Shopper` pointed at one gateway's own address."""

    def __init__(self, stack: Stack, gateway: int) -> None:
        self.gateway_url = stack.gateway_urls[gateway]


def test_an_agent_reply_through_gateway_b_reaches_a_shopper_waiting_on_gateway_a(replicas):
    order = seed_order("10423")
    shopper = Shopper(On(replicas, 0))
    shopper.says("where is my order 10423?")
    assert "#10423 is" in shopper.says(order["email"])
    assert "reference H-" in shopper.says("I'd like to talk to a person please")
    shopper.receives(wait=0)
    agent = new_agent(replicas, On(replicas, 1))
    ticket = next(t["id"] for t in agent.http.get("/console").json()["tickets"])
    waited: dict[str, object] = {}

    def wait_on_a() -> None:
        started = time.monotonic()
        waited["messages"] = shopper.receives(wait=60)  # a long poll on gateway A
        waited["seconds"] = time.monotonic() - started

    poll = threading.Thread(target=wait_on_a)
    poll.start()
    time.sleep(1)  # the poll is waiting
    reply = agent.post(f"/console/tickets/{ticket}/reply", text="Hello from gateway B")
    assert reply.status_code == 200
    poll.join(timeout=90)
    assert [m["text"] for m in waited["messages"]] == ["Hello from gateway B"]
    # Woken by the news, not by the poll's end: gateway A never saw the reply itself.
    assert waited["seconds"] < 30


def test_the_rate_limit_holds_across_both_gateways(replicas):
    shopper = Shopper(On(replicas, 0))
    gateways = [Shopper.__new__(Shopper) for _ in range(2)]
    for index, same in enumerate(gateways):  # one conversation, its messages alternating
        same.__dict__.update(shopper.__dict__)
        same.http = httpx.Client(base_url=replicas.gateway_urls[index], timeout=60)
    answers = [gateways[n % 2].says(f"hi {n}") for n in range(MESSAGE_LIMIT + 2)]
    assert all(answer and answer != SLOW_DOWN for answer in answers[:MESSAGE_LIMIT])
    assert answers[MESSAGE_LIMIT:] == [SLOW_DOWN, ""]  # told once, then quiet
    stored = [m["text"] for m in shopper.receives(wait=0) if m["sender"] == "shopper"]
    assert stored == [f"hi {n}" for n in range(MESSAGE_LIMIT + 2)]  # nothing lost


ORDERS = ["10402", "10403", "10404", "10405", "10408", "10409", "10411", "10412", "10413"]
ORDERS += ["10415", "10416", "10417", "10419", "10421", "10423", "10426", "10428", "10429"]
ORDERS += ["10401", "10413"]


def test_a_rasa_server_killed_among_20_shoppers_loses_no_message(replicas):
    shoppers = [Shopper(On(replicas, n % 2)) for n in range(len(ORDERS))]

    def verify(n: int) -> str:
        order = seed_order(ORDERS[n])
        shoppers[n].says(f"where is my order {order['number']}?")
        return shoppers[n].says(order["email"])

    answered = threading.Semaphore(0)

    def go_on(n: int) -> list[str]:
        said = []
        for text in ("when will it arrive?", "is it shipped yet?", "thanks"):
            said.append(shoppers[n].says(text))
            answered.release()
        return said

    with ThreadPoolExecutor(len(shoppers)) as pool:
        verified = list(pool.map(verify, range(len(shoppers))))
        assert all(f"#{ORDERS[n]}" in answer for n, answer in enumerate(verified)), verified
        going = pool.map(go_on, range(len(shoppers)))
        for _ in range(8):  # some conversations have moved on: now Rasa server 0 crashes
            answered.acquire(timeout=120)
        replicas.stop_process("rasa", signal.SIGKILL)
        later = list(going)
    try:
        for n, (arrive, shipped, thanks) in enumerate(later):
            for answer in (arrive, shipped, thanks):
                assert answer and answer != UNAVAILABLE, (n, later[n])
            # Still the verified order, on whichever server answered: nobody asked again.
            assert f"#{ORDERS[n]}" in arrive and "email" not in arrive + shipped, later[n]
        # Every message stored once, in the order it was sent.
        with session_scope(get_engine(replicas.db_url)) as session:
            for shopper in shoppers:
                texts = session.scalars(
                    select(Message.text)
                    .where(Message.conversation_id == shopper.id, Message.sender == "shopper")
                    .order_by(Message.id)
                ).all()
                number = texts[0].split()[-1].rstrip("?")
                assert texts == [
                    f"where is my order {number}?",
                    seed_order(number)["email"],
                    "when will it arrive?",
                    "is it shipped yet?",
                    "thanks",
                ]
    finally:
        replicas.start_process("rasa")


def test_with_redis_down_the_message_is_kept_and_the_shopper_told_to_try_again(
    replicas, redis_server
):
    shopper = Shopper(replicas)
    assert "ship" in shopper.says("do you ship to Canada?").lower()
    redis_server.stop()
    try:
        # Rasa cannot take the conversation's lock: no answer, no handoff, nothing lost.
        assert shopper.says("how long does shipping take?") == UNAVAILABLE
        assert shopper.mode == "bot"
    finally:
        redis_server.start()
    assert shopper.says("how much does shipping cost?") not in ("", UNAVAILABLE)
    said = [m["text"] for m in shopper.receives(wait=0) if m["sender"] == "shopper"]
    assert said[-2:] == ["how long does shipping take?", "how much does shipping cost?"]

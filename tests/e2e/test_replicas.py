"""Several of each on one machine, as `python -m bot.stack run --gateways 2 --rasa 2` starts
them: two action servers, two Rasa servers (trackers on a real PostgreSQL, conversation locks
in Redis) and two gateways behind nginx, sharing a real Redis. These check the processes: all
healthy, a conversation and a live stream through nginx, each Rasa server taking its locks in
Redis, and a gateway or a Rasa server killed and started again on its port."""

from __future__ import annotations

import json
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis
import yaml

from bot.redis_server import RedisServer
from bot.stack import Stack, free_port, port_in_use
from tests.conftest import MODEL, Shopper, seed_order
from tests.postgres_server import PostgresServer

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    with RedisServer(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def replicas(tmp_path_factory, seeded_store_file, redis_server) -> Iterator[Stack]:
    """Two Rasa servers (each with its action server) and two gateways behind nginx: one
    stack for the whole module (each Rasa server takes ~30 s and ~1.5 GB to start)."""
    if not MODEL or not Path(MODEL).exists():
        pytest.skip("SA_MODEL is not set to a trained model (`make test` sets it)")
    tmp = tmp_path_factory.mktemp("replicas")
    shutil.copyfile(seeded_store_file, tmp / "store.db")
    postgres = PostgresServer()
    try:
        stack = Stack(
            Path(MODEL),
            free_port(),
            free_port(),
            free_port(),
            tmp,
            {
                "STORE_DATABASE_URL": f"sqlite:///{tmp / 'store.db'}",
                "RATE_LIMIT_MESSAGES_PER_MINUTE": "100000",
                "RATE_LIMIT_CONVERSATIONS_PER_MINUTE": "100000",
            },
            postgres.create_database("tracker"),
            rasa_replicas=2,
            gateways=2,
            redis_url=redis_server.url,
        )
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
        assert lock_store["type"] == "redis"
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

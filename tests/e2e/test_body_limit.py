"""The request body cap on a real gateway process (uvicorn, as `make run` starts it; no Rasa
needed): 20 MB sent with a Content-Length, or chunked without one, is refused with 413 while
the gateway's memory stays where it was and /health keeps answering."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.stack import Stack, free_port

pytestmark = pytest.mark.e2e

MB = 1024 * 1024
BIG = 20 * MB
CHUNK = 64 * 1024
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def gateway(tmp_path_factory) -> Iterator[Stack]:
    """A gateway alone, with WhatsApp configured (its webhook is one of the routes capped)."""
    tmp = tmp_path_factory.mktemp("body-limit")
    alone = Stack(
        Path("no-model-needed"),
        rasa_port=free_port(),  # nobody listens there
        action_port=free_port(),
        gateway_port=free_port(),
        log_dir=tmp,
        env={
            "STORE_DATABASE_URL": f"sqlite:///{tmp / 'store.db'}",
            "RATE_LIMIT_CONVERSATIONS_PER_MINUTE": "100000",
            "WHATSAPP_TOKEN": "graph-token-for-tests",
            "WHATSAPP_PHONE_NUMBER_ID": "1098765",
            "WHATSAPP_APP_SECRET": "app-secret-for-tests",
            "WHATSAPP_VERIFY_TOKEN": "verify-me",
            "WHATSAPP_API_URL": f"http://127.0.0.1:{free_port()}/v21.0",
        },
        tracker_url=f"sqlite:///{tmp / 'tracker.db'}",
    )
    try:
        alone.start_gateway()
        alone.wait_healthy(timeout=120)
        yield alone
    finally:
        alone.stop()


def resident_kib(gateway: Stack) -> int:
    """The gateway process's resident memory (VmRSS), in KiB."""
    status = Path(f"/proc/{gateway.processes['gateway'].pid}/status").read_text()
    line = next(line for line in status.splitlines() if line.startswith("VmRSS:"))
    return int(line.split()[1])


def settled_kib(gateway: Stack, timeout: float = 60) -> int:
    """Resident memory once it stops growing: the gateway loads its language models in the
    background after it answers /health, which would count against the uploads."""
    last = resident_kib(gateway)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(1)
        now = resident_kib(gateway)
        if abs(now - last) < 256:
            return now
        last = now
    raise AssertionError("the gateway's memory did not settle")


def chunks(total: int, during=None) -> Iterator[bytes]:
    """`total` bytes of a JSON-looking body, a chunk at a time (no Content-Length: chunked);
    `during()` is called once the gateway has had more than its cap."""
    yield b'{"text": "'
    sent = 0
    while sent < total:
        if during is not None and sent == 2 * MB:
            during()
        yield b"x" * CHUNK
        sent += CHUNK
    yield b'"}'


def test_twenty_megabytes_are_refused_without_the_gateway_holding_them(gateway):
    http = httpx.Client(base_url=gateway.gateway_url, timeout=60)
    cid = http.post("/api/conversations").json()["conversation_id"]
    path = f"/api/conversations/{cid}/messages"
    for _ in range(3):  # the first requests' one-off allocations before measuring
        assert http.post(path, content=b"x" * (2 * MB), headers=JSON).status_code == 413
    before = settled_kib(gateway)

    declared = http.post(path, content=b"x" * BIG, headers=JSON)
    assert declared.status_code == 413, declared.text
    assert "larger than 1048576 bytes" in declared.json()["error"]

    health_meanwhile: list[int] = []

    def check_health() -> None:
        health_meanwhile.append(httpx.get(f"{gateway.gateway_url}/health", timeout=10).status_code)

    chunked = http.post(path, content=chunks(BIG, during=check_health), headers=JSON)
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 413, chunked.text
    assert "larger than" in chunked.json()["error"]
    assert health_meanwhile == [200]

    grown = resident_kib(gateway) - before
    assert grown < 5 * 1024, f"the gateway grew by {grown} KiB"
    assert http.get("/health").status_code == 200


def test_the_whatsapp_webhook_refuses_twenty_megabytes_before_its_signature_check(gateway):
    headers = {**JSON, "x-hub-signature-256": "sha256=" + "0" * 64}
    before = settled_kib(gateway)
    response = httpx.post(
        f"{gateway.gateway_url}/whatsapp/webhook", content=b"x" * BIG, headers=headers, timeout=60
    )
    assert response.status_code == 413, response.text
    chunked = httpx.post(
        f"{gateway.gateway_url}/whatsapp/webhook", content=chunks(BIG), headers=headers, timeout=60
    )
    assert chunked.status_code == 413, chunked.text
    assert resident_kib(gateway) - before < 5 * 1024
    assert httpx.get(f"{gateway.gateway_url}/health", timeout=10).status_code == 200


def test_many_oversized_uploads_at_once_leave_the_gateway_answering(gateway):
    """Eight clients each streaming 20 MB at the same time: each is cut off at the cap."""
    statuses: list[int] = []

    def upload() -> None:
        with httpx.Client(base_url=gateway.gateway_url, timeout=60) as client:
            cid = client.post("/api/conversations").json()["conversation_id"]
            sent = client.post(
                f"/api/conversations/{cid}/messages", content=chunks(BIG), headers=JSON
            )
            statuses.append(sent.status_code)

    before = settled_kib(gateway)
    threads = [threading.Thread(target=upload) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert statuses == [413] * 8
    # At most the cap each while they were read; nothing kept afterwards.
    assert resident_kib(gateway) - before < 5 * 1024
    assert httpx.get(f"{gateway.gateway_url}/health", timeout=10).status_code == 200

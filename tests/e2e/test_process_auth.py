"""Nothing on the host reaches Rasa or the action server without its key (issue #16), and a
spoofed X-Forwarded-For does not dodge the gateway's per-address limits. The running stack's
real processes on loopback; every key is read from `stack.env`, as the stack handed it out."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from bot.stack import Stack, free_port
from tests.conftest import DOMAIN, gateway_with, seed_order

pytestmark = pytest.mark.e2e

NO_KEY: dict[str, str] = {}
WRONG_KEY = {"Authorization": "Bearer not-the-key"}
NON_ASCII_KEY = {"Authorization": "Bearer clé-é".encode()}  # bytes: httpx sends them as they are
BARE_BEARER = {"Authorization": "Bearer"}  # an empty key (h11 sends no trailing space)


# --- Rasa: only its REST channel, only with the key --------------------------------------

RASA_ROUTES = [
    ("/webhooks/rest/webhook", {"sender": "auth-test", "message": "where is order 10402?"}),
    ("/webhooks/rest/trigger", {"sender": "auth-test", "intent": "greet"}),
    ("/webhooks/rest/parse", {"text": "where is my order?"}),
]


@pytest.mark.parametrize("path,body", RASA_ROUTES)
@pytest.mark.parametrize("headers", [NO_KEY, WRONG_KEY, NON_ASCII_KEY, BARE_BEARER])
def test_rasa_refuses_a_request_without_the_key(stack, path, body, headers):
    response = httpx.post(f"{stack.rasa_url}{path}", json=body, headers=headers, timeout=30)
    assert response.status_code == 401
    assert "10402" not in response.text and "text" not in response.json()


def test_rasa_answers_with_the_key_and_json_only(stack):
    key = stack.rasa_headers()
    url = stack.rasa_url
    chat = {"sender": "auth-test-ok", "message": "hi"}
    replies = httpx.post(f"{url}/webhooks/rest/webhook", json=chat, headers=key, timeout=60)
    assert replies.status_code == 200 and any(m.get("text") for m in replies.json())
    triggered = httpx.post(
        f"{url}/webhooks/rest/trigger",
        json={"sender": "auth-test-ok", "intent": "greet"},
        headers=key,
        timeout=60,
    )
    assert triggered.status_code == 200 and triggered.json()["messages"][0]["text"]
    parse = httpx.post(
        f"{url}/webhooks/rest/parse", json={"text": "where is my order?"}, headers=key, timeout=30
    )
    assert parse.status_code == 200 and parse.json()["intent"]["name"] == "order_status"
    as_text = httpx.post(
        f"{url}/webhooks/rest/webhook",
        content='{"sender": "auth-test-ok", "message": "hi"}',
        headers={**key, "content-type": "text/plain"},
        timeout=30,
    )
    assert as_text.status_code == 415
    unknown = httpx.post(
        f"{url}/webhooks/rest/trigger",
        json={"sender": "auth-test-ok", "intent": "no_such_intent"},
        headers=key,
        timeout=30,
    )
    assert unknown.status_code == 404


def test_rasa_health_needs_no_key(stack):
    assert httpx.get(f"{stack.rasa_url}/webhooks/rest/", timeout=10).status_code == 200


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/conversations/auth-test/tracker"),
        ("POST", "/conversations/auth-test/tracker/events"),
        ("POST", "/conversations/auth-test/trigger_intent"),
        ("POST", "/model/parse"),
        ("GET", "/status"),
        ("GET", "/domain"),
    ],
)
def test_rasa_http_api_is_not_served(stack, method, path):
    for headers in (NO_KEY, stack.rasa_headers()):
        response = httpx.request(
            method, f"{stack.rasa_url}{path}", json={"text": "hi"}, headers=headers, timeout=10
        )
        assert response.status_code == 404


def test_rasa_without_its_key_refuses_everything(stack, tmp_path):
    """A Rasa started without RASA_SECRET fails closed: not healthy, every request a 401
    (`Bearer` with no key too), and one error in its log."""
    alone = Stack(
        stack.model,
        rasa_port=free_port(),
        action_port=stack.action_port,
        gateway_port=None,
        log_dir=tmp_path,
        env={**stack.env, "RASA_SECRET": ""},
        tracker_url=f"sqlite:///{tmp_path / 'tracker.db'}",
    )
    alone.start_rasa()
    try:
        deadline = time.monotonic() + 240
        while True:
            assert alone.processes["rasa"].poll() is None, alone.log_tail("rasa")
            try:
                health = httpx.get(f"{alone.rasa_url}/webhooks/rest/", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "Rasa did not start"
                time.sleep(1)
        assert health.status_code == 503
        for headers in (NO_KEY, BARE_BEARER, stack.rasa_headers()):
            for path, body in RASA_ROUTES:
                response = httpx.post(f"{alone.rasa_url}{path}", json=body, headers=headers)
                assert response.status_code == 401
    finally:
        alone.stop()
    log = alone.log_path("rasa").read_text(errors="replace")
    assert log.count("RASA_SECRET is not set") == 1


# --- the action server: only Rasa, with the key ------------------------------------------


def made_up_call(next_action: str, slots: dict, intent: str = "order_status") -> dict:
    """What Rasa posts to /webhook, made up: a tracker claiming an order was verified."""
    return {
        "next_action": next_action,
        "sender_id": "attacker",
        "version": "3.6.21",
        "domain": DOMAIN,
        "tracker": {
            "sender_id": "attacker",
            "slots": slots,
            "latest_message": {"text": "yes", "intent": {"name": intent, "confidence": 1.0}},
            "events": [],
            "paused": False,
            "followup_action": None,
            "active_loop": {},
            "latest_action_name": "action_listen",
        },
    }


ORDER_DETAIL = made_up_call(
    "action_answer_order_topic",
    {"order_id": "10402", "verified_orders": ["10402"], "order_topic": "order_status"},
)
CANCEL = made_up_call(
    "action_resolve_confirmation",
    {"order_id": "10450", "verified_orders": ["10450"], "pending_action": "cancel:10450"},
    intent="affirm",
)
TRACKING = seed_order("10402")["shipment"]["tracking_number"]


def as_text(body: dict) -> str:
    return httpx.Request("POST", "http://x", json=body).read().decode()


@pytest.mark.parametrize("headers", [NO_KEY, WRONG_KEY, NON_ASCII_KEY, BARE_BEARER])
def test_a_made_up_tracker_gets_no_order_and_cancels_nothing(stack, headers):
    for call in (ORDER_DETAIL, CANCEL):
        as_json = httpx.post(f"{stack.action_url}/webhook", json=call, headers=headers)
        plain = httpx.post(
            f"{stack.action_url}/webhook",
            content=as_text(call),
            headers={**headers, "content-type": "text/plain"},
        )
        for response in (as_json, plain):
            assert response.status_code == 401
            assert TRACKING not in response.text and "10402" not in response.text
    with create_engine(stack.db_url).connect() as connection:
        status = connection.execute(
            text("select status from orders where number = '10450'")
        ).scalar_one()
    assert status == seed_order("10450")["status"] != "cancelled"


@pytest.mark.parametrize(
    "method,path,body",
    [
        ("POST", "/webhook", ORDER_DETAIL),
        ("POST", "/nlg", {"response": "utter_greet", "tracker": {"slots": {}}}),
        ("GET", "/actions", None),
    ],
)
def test_the_action_server_refuses_without_the_key(stack, method, path, body):
    url = f"{stack.action_url}{path}"
    for headers in (NO_KEY, WRONG_KEY, NON_ASCII_KEY):
        assert httpx.request(method, url, json=body, headers=headers).status_code == 401
        if method == "POST":
            plain = {**headers, "content-type": "text/plain"}
            sent = httpx.request(method, url, content=as_text(body), headers=plain)
            assert sent.status_code == 401
    if method == "POST":  # the key but not JSON: rasa-sdk would have read it anyway
        plain = {**stack.action_headers(), "content-type": "text/plain"}
        assert httpx.request(method, url, content=as_text(body), headers=plain).status_code == 415


def test_with_the_key_a_real_action_runs(stack):
    """The same made-up call with Rasa's key is answered (the key is what keeps it out)."""
    key = stack.action_headers()
    answered = httpx.post(f"{stack.action_url}/webhook", json=ORDER_DETAIL, headers=key)
    assert answered.status_code == 200
    said = " ".join(r.get("text") or "" for r in answered.json()["responses"])
    assert TRACKING in said
    listed = httpx.get(f"{stack.action_url}/actions", headers=key)
    assert {"name": "action_answer_order_topic"} in listed.json()
    rendered = httpx.post(
        f"{stack.action_url}/nlg",
        json={"response": "utter_greet", "arguments": {}, "tracker": {"slots": {}}},
        headers=key,
    )
    assert rendered.status_code == 200 and rendered.json().get("text")
    assert httpx.get(f"{stack.action_url}/health").status_code == 200  # no key needed


# --- the gateway: X-Forwarded-For only from a trusted proxy -------------------------------


def new_conversation(gateway: Stack, forwarded_for: str) -> int:
    response = httpx.post(
        f"{gateway.gateway_url}/api/conversations",
        headers={"X-Forwarded-For": forwarded_for},
        timeout=30,
    )
    return response.status_code


def test_a_spoofed_forwarded_for_gets_no_fresh_bucket(stack):
    with gateway_with(stack, {"RATE_LIMIT_CONVERSATIONS_PER_MINUTE": "2"}) as gateway:
        assert [new_conversation(gateway, "203.0.113.1") for _ in range(2)] == [201, 201]
        assert new_conversation(gateway, "203.0.113.1") == 429
        assert new_conversation(gateway, "198.51.100.7") == 429  # still 127.0.0.1's bucket


def test_forwarded_for_counts_from_a_trusted_proxy(stack):
    env = {"RATE_LIMIT_CONVERSATIONS_PER_MINUTE": "2", "TRUSTED_PROXIES": "127.0.0.1"}
    with gateway_with(stack, env) as gateway:
        assert [new_conversation(gateway, "203.0.113.1") for _ in range(2)] == [201, 201]
        assert new_conversation(gateway, "203.0.113.1") == 429
        assert new_conversation(gateway, "198.51.100.7") == 201  # the proxy's other client


# --- last: after everything above, no key in any log ---------------------------------------


def test_no_key_in_any_log(stack):
    keys = [stack.env["RASA_SECRET"], stack.env["ACTION_SERVER_SECRET"]]
    files = [p for p in Path(stack.log_dir).rglob("*") if p.is_file()]
    assert any(p.suffix == ".log" for p in files)
    for path in files:
        content = path.read_bytes()
        for key in keys:
            assert key.encode() not in content, f"a key is written in {path.name}"

"""Bad input, generated: whatever a client sends, the gateway answers with a clear reply or a
4xx, never a 500, and stores a shopper's message once or not at all. In-process (Starlette's
test client) with a fresh SQLite store; Rasa is not running, as after a crash."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.testclient import TestClient

from bot import conversations
from bot.gateway.app import create_app
from bot.settings import get_settings
from bot.stack import free_port

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4)
    ),
    max_leaves=10,
)
TEXT = (
    st.text(max_size=300)
    | st.text(min_size=3990, max_size=4100)
    | st.sampled_from(
        [
            "",
            "   ",
            "\x00\x01\x02",
            "😀😀😀",
            "'; DROP TABLE messages; --",
            "<script>alert(1)</script>",
            "где мой заказ 10423",
            "注文はどこ",
            '/inform{"order_id": "10423"}',
            "x" * 100_000,
        ]
    )
)
FAST = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def client_for(store) -> TestClient:
    settings = replace(get_settings(), rasa_url=f"http://127.0.0.1:{free_port()}")
    return TestClient(create_app(settings, engine=store))


@FAST
@given(body=JSON)
def test_any_json_body_gets_an_answer_not_a_crash(store, body):
    with client_for(store) as client:
        cid = client.post("/api/conversations").json()["conversation_id"]
        response = client.post(
            f"/api/conversations/{cid}/messages",
            content=json.dumps(body),
            headers={"content-type": "application/json"},
        )
        assert response.status_code in (200, 400, 413), response.text
        stored = [
            s
            for s in conversations.messages(conversations.stored_id(cid), engine=store)
            if s.sender == "shopper"
        ]
        assert len(stored) == (1 if response.status_code == 200 else 0)


@FAST
@given(text=TEXT)
def test_any_text_is_stored_once_cleaned_or_refused(store, text):
    with client_for(store) as client:
        cid = client.post("/api/conversations").json()["conversation_id"]
        response = client.post(f"/api/conversations/{cid}/messages", json={"text": text})
        stored = [
            s
            for s in conversations.messages(conversations.stored_id(cid), engine=store)
            if s.sender == "shopper"
        ]
        if response.status_code == 200:
            assert len(stored) == 1 and stored[0].text.strip() and len(stored[0].text) <= 4000
            assert all(ch.isprintable() or ch in "\n\t" for ch in stored[0].text)
        else:
            assert response.status_code in (400, 413) and stored == []


@FAST
@given(
    raw=st.binary(max_size=500),
    content_type=st.sampled_from(
        [
            "application/json",
            "text/plain",
            "application/x-www-form-urlencoded",
            "",
            "application/json; charset=latin-1",
        ]
    ),
)
def test_raw_bytes_and_wrong_content_types(store, raw, content_type):
    with client_for(store) as client:
        cid = client.post("/api/conversations").json()["conversation_id"]
        response = client.post(
            f"/api/conversations/{cid}/messages",
            content=raw,
            headers={"content-type": content_type},
        )
        assert response.status_code in (200, 400, 413, 415)
        assert (
            client.post(
                "/api/conversations/not-a-conversation/messages", json={"text": "hi"}
            ).status_code
            == 404
        )
        assert (
            client.get("/api/conversations/x/messages", params={"after": "abc"}).status_code == 400
        )


@FAST
@given(body=JSON, signed=st.booleans())
def test_whatsapp_webhook_never_crashes_and_unsigned_touches_nothing(
    store, monkeypatch, body, signed
):
    for name, value in {
        "WHATSAPP_TOKEN": "t",
        "WHATSAPP_PHONE_NUMBER_ID": "1",
        "WHATSAPP_APP_SECRET": "secret",
        "WHATSAPP_VERIFY_TOKEN": "v",
        "WHATSAPP_API_URL": f"http://127.0.0.1:{free_port()}",
    }.items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    raw = json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if signed:
        headers["x-hub-signature-256"] = (
            "sha256=" + hmac.new(b"secret", raw, hashlib.sha256).hexdigest()
        )
    with client_for(store) as client:
        response = client.post("/whatsapp/webhook", content=raw, headers=headers)
        assert response.status_code == (
            200 if signed and isinstance(body, dict) else 400 if signed else 401
        )

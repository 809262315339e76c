"""The gateway in-process (Starlette's test client, a fresh SQLite store) when Rasa or the
database is not there: a port nobody listens on, as after a crash."""

from __future__ import annotations

from dataclasses import replace

from sqlalchemy import create_engine
from starlette.testclient import TestClient

from bot import conversations
from bot.gateway.app import create_app
from bot.replies import STORE_DOWN, UNAVAILABLE
from bot.settings import Settings, get_settings
from bot.stack import free_port


def rasa_down() -> Settings:
    """The environment's settings, with Rasa on a port nobody listens on."""
    return replace(get_settings(), rasa_url=f"http://127.0.0.1:{free_port()}")


def test_rasa_down_gets_a_clear_answer_and_the_message_is_kept(store):
    app = create_app(rasa_down(), engine=store)
    with TestClient(app) as client:
        cid = client.post("/api/conversations").json()["conversation_id"]
        response = client.post(f"/api/conversations/{cid}/messages", json={"text": "hello"})
        assert response.status_code == 200
        assert [m["text"] for m in response.json()["messages"]] == [UNAVAILABLE]
    assert [
        (s.sender, s.text)
        for s in conversations.messages(conversations.stored_id(cid), engine=store)
    ] == [
        ("shopper", "hello"),
        ("bot", UNAVAILABLE),
    ]


def test_an_unreachable_database_gets_a_clear_503_and_the_health_check_says_so():
    engine = create_engine(f"postgresql+psycopg://sa@127.0.0.1:{free_port()}/store")
    app = create_app(rasa_down(), engine=engine)
    with TestClient(app) as client:
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["database"] == "unreachable"
        started = client.post("/api/conversations")
        assert started.status_code == 503 and started.json() == {"error": STORE_DOWN}
        assert started.headers["Retry-After"]
        sent = client.post("/api/conversations/abc/messages", json={"text": "hello"})
        assert sent.status_code == 503 and "Traceback" not in sent.text

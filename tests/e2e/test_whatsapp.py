"""WhatsApp end to end: signed webhooks into the gateway, replies out through a fake Graph
API on loopback, on the running stack (Rasa, actions, store)."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json

import httpx
import pytest

from bot.channels.whatsapp import WhatsAppChannel
from bot.clock import utcnow
from bot.conversations import Said
from bot.i18n import texts
from tests.conftest import gateway_with, new_agent
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.server import serving, wait_for

pytestmark = pytest.mark.e2e

TOKEN, PHONE_ID = "graph-token-for-tests", "1098765"
APP_SECRET, VERIFY_TOKEN = "app-secret-for-tests", "verify-me"
numbers = (f"4477009{n:05d}" for n in itertools.count(1))
message_ids = (f"wamid.in.{n}" for n in itertools.count(1))


@pytest.fixture(scope="module")
def whatsapp(stack):
    graph = FakeGraphApi(TOKEN, PHONE_ID)
    with serving(graph.app) as url:
        env = {
            "WHATSAPP_TOKEN": TOKEN,
            "WHATSAPP_PHONE_NUMBER_ID": PHONE_ID,
            "WHATSAPP_APP_SECRET": APP_SECRET,
            "WHATSAPP_VERIFY_TOKEN": VERIFY_TOKEN,
            "WHATSAPP_API_URL": f"{url}/v21.0",
        }
        with gateway_with(stack, env) as gateway:
            graph.gateway = gateway
            yield graph


def webhook(messages: list[dict] | None = None, statuses: list[dict] | None = None) -> bytes:
    value = {"messaging_product": "whatsapp", "metadata": {"phone_number_id": PHONE_ID}}
    if messages:
        value["messages"] = messages
    if statuses:
        value["statuses"] = statuses
    payload = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "waba-1", "changes": [{"field": "messages", "value": value}]}],
    }
    return json.dumps(payload).encode()


def text_message(wa_id: str, text: str, message_id: str | None = None) -> dict:
    return {
        "from": wa_id,
        "id": message_id or next(message_ids),
        "timestamp": "1700000000",
        "type": "text",
        "text": {"body": text},
    }


def post(graph: FakeGraphApi, body: bytes, secret: str | None = APP_SECRET) -> httpx.Response:
    headers = {"content-type": "application/json"}
    if secret is not None:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        headers["x-hub-signature-256"] = f"sha256={digest}"
    return httpx.post(
        f"{graph.gateway.gateway_url}/whatsapp/webhook", content=body, headers=headers
    )


def replies(graph: FakeGraphApi, wa_id: str, count: int) -> list[dict]:
    return wait_for(
        lambda: (sent := graph.sent_to(wa_id)) and len(sent) >= count and sent,
        what=f"{count} messages to {wa_id}",
    )


def body_text(message: dict) -> str:
    if message["type"] == "text":
        return message["text"]["body"]
    return message["interactive"]["body"]["text"]


def test_the_verification_handshake(whatsapp):
    url = f"{whatsapp.gateway.gateway_url}/whatsapp/webhook"
    params = {
        "hub.mode": "subscribe",
        "hub.verify_token": VERIFY_TOKEN,
        "hub.challenge": "1158201444",
    }
    answer = httpx.get(url, params=params)
    assert answer.status_code == 200 and answer.text == "1158201444"
    assert httpx.get(url, params={**params, "hub.verify_token": "wrong"}).status_code == 403


def test_unsigned_or_badly_signed_webhooks_are_refused_untouched(whatsapp):
    wa_id = next(numbers)
    body = webhook([text_message(wa_id, "hi")])
    assert post(whatsapp, body, secret=None).status_code == 401
    assert post(whatsapp, body, secret="not-the-app-secret").status_code == 401
    tampered = body.replace(b"hi", b"yo")
    headers = {
        "x-hub-signature-256": "sha256="
        + hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    }
    assert (
        httpx.post(
            f"{whatsapp.gateway.gateway_url}/whatsapp/webhook", content=tampered, headers=headers
        ).status_code
        == 401
    )
    assert post(whatsapp, b"{not json").status_code == 400
    # None of it reached the conversation: a valid message now gets the first reply.
    assert post(whatsapp, body).status_code == 200
    assert "Northwind" in body_text(replies(whatsapp, wa_id, 1)[0])
    assert len(whatsapp.sent_to(wa_id)) == 1


def test_a_reply_button_press_and_duplicate_delivery(whatsapp):
    wa_id = next(numbers)
    assert post(whatsapp, webhook([text_message(wa_id, "Do you ship to Canada?")])).json() == {
        "accepted": 1
    }
    sent = replies(whatsapp, wa_id, 2)
    assert "We ship to Canada" in body_text(sent[0])
    interactive = sent[1]["interactive"]
    assert interactive["type"] == "button"
    buttons = interactive["action"]["buttons"]
    assert [b["reply"]["title"] for b in buttons] == ["Yes", "No"]
    press = {
        "from": wa_id,
        "id": next(message_ids),
        "timestamp": "1700000001",
        "type": "interactive",
        "interactive": {"type": "button_reply", "button_reply": buttons[0]["reply"]},
    }
    body = webhook([press])
    assert post(whatsapp, body).json() == {"accepted": 1}
    answer = replies(whatsapp, wa_id, 4)  # "Glad I could help!", "anything else?"
    assert "Glad I could help" in body_text(answer[2])
    assert post(whatsapp, body).json() == {"accepted": 0}  # WhatsApp retried: not again
    statuses = [{"id": "wamid.out.1", "status": "delivered", "recipient_id": wa_id}]
    assert post(whatsapp, webhook(statuses=statuses)).json() == {"accepted": 0}
    assert len(whatsapp.sent_to(wa_id)) == 4


def test_an_agent_reply_after_handoff_goes_out_on_whatsapp(whatsapp, stack):
    wa_id = next(numbers)
    post(whatsapp, webhook([text_message(wa_id, "I want to speak to a real person")]))
    assert "reference H-" in body_text(replies(whatsapp, wa_id, 1)[0])
    agent = new_agent(stack, whatsapp.gateway)
    tickets = agent.http.get("/console", params={"q": "speak to a real person"}).json()["tickets"]
    ticket = next(
        t
        for t in tickets
        if agent.http.get(f"/console/tickets/{t['id']}/export").json()["channel_user_id"] == wa_id
    )
    assert (
        agent.post(f"/console/tickets/{ticket['id']}/reply", text="Hi, Sam here.").status_code
        == 200
    )
    assert body_text(replies(whatsapp, wa_id, 2)[1]).endswith("Hi, Sam here.")


def test_more_than_three_buttons_become_a_list():
    buttons = [
        {"title": f"Question number {n} about delivery", "payload": f"/p{n}"} for n in range(5)
    ]
    said = Said(42, "bot", "Did you mean one of these?", utcnow(), buttons)
    (body,) = WhatsAppChannel.bodies("447700900000", said, said.text, texts("en"))
    assert body["interactive"]["type"] == "list"
    rows = body["interactive"]["action"]["sections"][0]["rows"]
    assert [r["id"] for r in rows] == [f"b42.{n}" for n in range(5)]
    assert all(len(r["title"]) <= 24 for r in rows)

"""Hostile HTTP, in-process (Starlette's test client, a fresh SQLite store; Rasa is on a port
nobody listens on): bodies over the cap, JSON nested too deep, numbers past any id, non-ASCII
secrets and periods past the calendar each get a clear 4xx; and whatever reaches any route of
the app, logged in or not, never gets a 5xx. Telegram (webhook mode) and WhatsApp run against
the fakes of their APIs, so their webhook routes are there too."""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, replace
from urllib.parse import quote, urlencode

# Imported before any draw: hypothesis looks numpy up in sys.modules when it checks a
# sampled_from, and the gateway's language warm-up thread may be half-way through importing it.
import numpy  # noqa: F401
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from starlette.convertors import IntegerConvertor, PathConvertor
from starlette.routing import Mount, Route
from starlette.testclient import TestClient

from bot import conversations, staff, tickets
from bot.gateway.app import create_app
from bot.settings import get_settings
from bot.stack import free_port
from bot.store.models import StaffUser
from tests.conftest import PASSWORD
from tests.fakes.graph_api import FakeGraphApi
from tests.fakes.server import serving
from tests.fakes.telegram_api import FakeBotApi

TELEGRAM_TOKEN, TELEGRAM_SECRET = "123456:TEST-token", "s3cret-token-for-tests"
GRAPH_TOKEN, PHONE_ID = "graph-token-for-tests", "1098765"
APP_SECRET, VERIFY_TOKEN = "app-secret-for-tests", "verify-me"
JSON_HEADERS = {"content-type": "application/json"}
ACCEPT_JSON = {"accept": "application/json"}
HUGE = "99999999999999999999"
DEEP = "[" * 100_000 + "]" * 100_000


@dataclass
class Gateway:
    """The app under test and what exists in its store."""

    client: TestClient
    store: object
    cid: str  # a shopper's conversation (the key in its URLs)
    ticket: int  # another conversation's handoff ticket
    user: StaffUser
    session: str = ""
    csrf: str = ""

    def log_in(self) -> dict[str, str]:
        """A session cookie and CSRF token header, as a script would send them (a new session
        if a request logged the last one out)."""
        if not self.session or staff.find_session(self.session, self.store) is None:
            self.session, self.csrf = staff.start_session(self.user, self.store)
        return {"cookie": f"sa_staff={self.session}", "x-csrf-token": self.csrf}


@pytest.fixture
def gateway(store, faq_dir):
    # Staff may add FAQ entries and phrasings from Insights: into a copy (faq_dir), never data/faq.
    bot_api, graph = FakeBotApi(TELEGRAM_TOKEN), FakeGraphApi(GRAPH_TOKEN, PHONE_ID)
    with serving(bot_api.app) as bot_api_url, serving(graph.app) as graph_url:
        configured = replace(
            get_settings(),
            rasa_url=f"http://127.0.0.1:{free_port()}",
            rate_limit_messages_per_minute=100_000,
            rate_limit_conversations_per_minute=100_000,
            stored_messages_per_minute=100_000,
            telegram_bot_token=TELEGRAM_TOKEN,
            telegram_api_url=bot_api_url,
            telegram_webhook_url="https://shop.example/telegram/webhook",
            telegram_webhook_secret=TELEGRAM_SECRET,
            whatsapp_token=GRAPH_TOKEN,
            whatsapp_phone_number_id=PHONE_ID,
            whatsapp_app_secret=APP_SECRET,
            whatsapp_verify_token=VERIFY_TOKEN,
            whatsapp_api_url=f"{graph_url}/v21.0",
        )
        app = create_app(configured, engine=store)
        handed_off = conversations.start("api", engine=store)
        conversations.add(handed_off.id, "shopper", "my parcel is wet", engine=store)
        ticket = tickets.hand_off(handed_off.id, "shopper_request", engine=store)
        user = staff.create_user("alex", PASSWORD, store)
        client = TestClient(app, raise_server_exceptions=False, follow_redirects=False)
        with client:
            assert app.state.telegram is not None and app.state.whatsapp is not None
            cid = client.post("/api/conversations").json()["conversation_id"]  # as a shopper
            said = client.post(f"/api/conversations/{cid}/messages", json={"text": "hi"})
            assert said.status_code == 200
            yield Gateway(client, store, cid, ticket, user)


def signed(body: bytes) -> dict[str, str]:
    digest = hmac.new(APP_SECRET.encode(), body, hashlib.sha256).hexdigest()
    return {"x-hub-signature-256": f"sha256={digest}", **JSON_HEADERS}


def refused(response, status: int, says: str) -> None:
    assert response.status_code == status, (response.status_code, response.text)
    assert says in response.json()["error"], response.text


# --- each request found live, now a clear 4xx ---------------------------------------------


def test_a_body_over_the_cap_is_refused_however_it_is_sent(gateway):
    cap = get_settings().max_request_bytes
    path = f"/api/conversations/{gateway.cid}/messages"
    big = json.dumps({"text": "x" * cap}).encode()
    declared = gateway.client.post(path, content=big, headers=JSON_HEADERS)
    refused(declared, 413, f"larger than {cap} bytes")
    chunked = gateway.client.post(path, content=iter([big]), headers=JSON_HEADERS)
    assert "content-length" not in chunked.request.headers
    refused(chunked, 413, f"larger than {cap} bytes")
    # Only the declared length counts before reading: a lie over the cap is refused unread.
    lied = {**JSON_HEADERS, "content-length": str(cap + 1)}
    refused(gateway.client.post(path, content=b"{}", headers=lied), 413, "larger than")
    bad = {**JSON_HEADERS, "content-length": "12abc"}
    refused(gateway.client.post(path, content=b"{}", headers=bad), 400, "Content-Length")
    # The WhatsApp webhook too, whatever its signature says.
    refused(gateway.client.post("/whatsapp/webhook", content=big, headers=signed(big)), 413, "")
    # Under the cap, as before.
    fine = gateway.client.post(path, json={"text": "where is my order?"})
    assert fine.status_code == 200


def test_json_nested_too_deep_is_refused_everywhere_json_is_read(gateway):
    client, deep = gateway.client, DEEP.encode()
    says = "nested deeper than 32 levels"
    post = client.post(
        f"/api/conversations/{gateway.cid}/messages", content=deep, headers=JSON_HEADERS
    )
    refused(post, 400, says)
    start = client.post("/api/conversations", content=deep, headers=JSON_HEADERS)
    refused(start, 400, says)
    refused(client.post("/whatsapp/webhook", content=deep, headers=signed(deep)), 400, says)
    secret = {"x-telegram-bot-api-secret-token": TELEGRAM_SECRET, **JSON_HEADERS}
    refused(client.post("/telegram/webhook", content=deep, headers=secret), 400, says)
    logged_in = {**gateway.log_in(), **JSON_HEADERS, **ACCEPT_JSON}
    refused(client.post("/api/explain", content=deep, headers=logged_in), 400, says)
    faq = client.post("/console/insights/faq", content=deep, headers=logged_in)
    assert faq.status_code == 400 and says in faq.text
    reply = client.post(f"/console/tickets/{gateway.ticket}/reply", content=deep, headers=logged_in)
    assert 400 <= reply.status_code < 500 and says in reply.text
    # 32 levels are still JSON.
    shallow = {"text": "hi", "x": json.loads("[" * 30 + "]" * 30)}
    ok = client.post(f"/api/conversations/{gateway.cid}/messages", json=shallow)
    assert ok.status_code == 200


def test_a_message_id_past_any_id_is_a_bad_request(gateway):
    client, cid = gateway.client, gateway.cid
    says = "'after' must be a message id"
    refused(client.get(f"/api/conversations/{cid}/messages", params={"after": HUGE}), 400, says)
    refused(client.get(f"/api/conversations/{cid}/messages", params={"after": "-1"}), 400, says)
    refused(client.get(f"/api/conversations/{cid}/events", params={"after": HUGE}), 400, says)
    events = client.get(f"/api/conversations/{cid}/events", headers={"last-event-id": HUGE})
    refused(events, 400, "'Last-Event-ID' must be a message id")
    said = client.get(f"/api/conversations/{cid}/messages", params={"after": "0"})
    assert said.status_code == 200 and said.json()["messages"]
    staff_headers = {**gateway.log_in(), **ACCEPT_JSON}
    live = client.get(
        f"/console/tickets/{gateway.ticket}/messages", params={"after": HUGE}, headers=staff_headers
    )
    refused(live, 400, says)


def test_non_ascii_secrets_are_wrong_secrets(gateway):
    client, odd = gateway.client, "gehéim-✓".encode()
    headers = {**gateway.log_in(), **ACCEPT_JSON, "x-csrf-token": odd}
    assert (
        client.post(f"/console/tickets/{gateway.ticket}/assign", headers=headers).status_code == 403
    )
    assert tickets.get_ticket(gateway.ticket, gateway.store).status == "open"
    body = b'{"entry": []}'
    wrong_signature = {**JSON_HEADERS, "x-hub-signature-256": "sha256=ü".encode() + odd}
    post = client.post("/whatsapp/webhook", content=body, headers=wrong_signature)
    refused(post, 401, "bad signature")
    handshake = {"hub.mode": "subscribe", "hub.verify_token": "vérify-me", "hub.challenge": "42"}
    assert client.get("/whatsapp/webhook", params=handshake).status_code == 403
    right = {**handshake, "hub.verify_token": VERIFY_TOKEN}
    assert client.get("/whatsapp/webhook", params=right).text == "42"
    update = {"update_id": 1}
    wrong_token = {"x-telegram-bot-api-secret-token": odd}
    refused(client.post("/telegram/webhook", json=update, headers=wrong_token), 403, "secret")


def test_ticket_ids_past_any_id_are_no_ticket(gateway):
    client = gateway.client
    headers = {**gateway.log_in(), **ACCEPT_JSON}
    for page in ("", "/messages", "/export"):
        assert client.get(f"/console/tickets/{HUGE}{page}", headers=headers).status_code == 404
    for change in ("assign", "reply", "resolve", "handback"):
        changed = client.post(f"/console/tickets/{HUGE}/{change}", headers=headers)
        refused(changed, 404, "no such ticket")
    assert client.get(f"/console/tickets/{gateway.ticket}", headers=headers).status_code == 200


@pytest.mark.parametrize(
    "query",
    [
        {"from": "99999999999d"},
        {"from": "999999999d"},
        {"to": "9999-12-31"},
        {"from": "yesterday"},
    ],
)
def test_a_period_past_the_calendar_is_a_bad_request(gateway, query):
    headers = {**gateway.log_in(), **ACCEPT_JSON}
    page = gateway.client.get("/console/insights", params=query, headers=headers)
    refused(page, 400, "take a date like 2026-11-01 or a time back from now like 24h, 7d or 2w")


def test_a_period_of_centuries_is_a_bad_request(gateway):
    headers = {**gateway.log_in(), **ACCEPT_JSON}
    page = gateway.client.get("/console/insights", params={"from": "0001-01-01"}, headers=headers)
    refused(page, 400, "a period is at most")


# --- anything at all, on every route: never a 5xx -----------------------------------------

KNOWN_FIELDS = [
    "text", "payload", "language", "channel", "csrf_token", "username", "password", "next",
    "name", "decision", "question", "answer", "alternatives", "phrasings", "entry_id", "since",
]  # fmt: skip
KNOWN_QUERY = [
    "after", "lang", "q", "queue", "since", "from", "to", "channel", "format", "next",
    "hub.mode", "hub.verify_token", "hub.challenge", "added", "taught",
]  # fmt: skip
HEADER_NAMES = [
    "x-csrf-token", "x-hub-signature-256", "x-telegram-bot-api-secret-token", "last-event-id",
    "content-type", "accept", "origin", "accept-language", "x-forwarded-for",
    "x-forwarded-proto", "cookie",
]  # fmt: skip
CONTENT_TYPES = [
    "application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=b",
    "multipart/form-data", "text/plain", "", "application/json; charset=utf-16", "*/*; q=x",
]  # fmt: skip
HOSTILE = st.sampled_from(
    [
        "", " ", "0", "-1", "1.5", "nan", "inf", HUGE, "9" * 5000, "1e400", "١٢٣", "0x10",
        "%", "%ff", "../../../etc/passwd", "<script>", "' OR 1=1 --", "😀" * 50, "é",
        "x" * 100_000, "7d", "0001-01-01", "9999-12-31", "99999999999d", "subscribe",
        "approve", "web", "application/json", "null", "{}", "[]",
    ]
)  # fmt: skip
TEXT = st.text(max_size=40) | HOSTILE
HEADER_TEXT = TEXT.map(lambda t: "".join(c for c in t if c not in "\r\n\x00"))
URL_TEXT = TEXT.map(lambda t: t[:4000])  # clients refuse URLs over 64 KiB
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)
SHAPED_JSON = st.fixed_dictionaries(
    {},
    optional={
        **{name: JSON_VALUES for name in KNOWN_FIELDS},
        "update_id": st.integers() | TEXT,
        "message": JSON_VALUES,
        "callback_query": JSON_VALUES,
        "entry": st.lists(
            st.fixed_dictionaries({}, optional={"changes": JSON_VALUES | st.lists(JSON_VALUES)})
        ),
    },
)
NESTED = st.builds(
    lambda opener, depth: opener * depth + {"[": "]", '{"a":': "}"}[opener] * depth,
    st.sampled_from(["[", '{"a":']),
    st.sampled_from([31, 33, 1000, 100_000]),
)
FORM = st.dictionaries(st.sampled_from(KNOWN_FIELDS) | TEXT, TEXT, max_size=5)
# Never a wait that holds the test (the long poll waits up to 30 s for a message).
WAIT = st.sampled_from(["", "abc", "-5", "0", "nan", "0.01"])
# Never an `after` the live stream accepts: the test client reads a response to its end, and
# that stream has none.
NOT_AN_ID = st.sampled_from([HUGE, "-1", "abc", "١", "1e3", "0x10", "9" * 5000])


def multipart(fields: dict[str, str]) -> bytes:
    parts = [
        f'--b\r\ncontent-disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return ("".join(parts) + "--b--\r\n").encode("utf-8", "surrogatepass")


@st.composite
def bodies(draw) -> tuple[bytes | None, str | None]:
    """(body, content type) of every kind: none, JSON of any shape and depth, a form,
    multipart, bytes; under any content type."""
    kind = draw(st.sampled_from(["none", "json", "shaped", "nested", "form", "multipart", "bytes"]))
    if kind == "none":
        return None, draw(st.none() | st.sampled_from(CONTENT_TYPES))
    if kind in ("json", "shaped"):
        value = draw(JSON_VALUES if kind == "json" else SHAPED_JSON)
        body = json.dumps(value).encode("utf-8", "surrogatepass")
    elif kind == "nested":
        body = draw(NESTED).encode()
    elif kind == "form":
        body = urlencode(draw(FORM)).encode()
    elif kind == "multipart":
        body = multipart(draw(FORM))
    else:
        body = draw(st.binary(max_size=300))
    natural = {"form": CONTENT_TYPES[1], "multipart": CONTENT_TYPES[2]}.get(kind, CONTENT_TYPES[0])
    return body, draw(st.just(natural) | st.sampled_from(CONTENT_TYPES))


def routes_of(app) -> list[tuple[str, list[str], dict]]:
    """(path format, methods, path parameter convertors) of every route of the app."""
    found = []
    for route in app.routes:
        if isinstance(route, Route):
            found.append(
                (route.path_format, sorted(route.methods or ["GET"]), route.param_convertors)
            )
        elif isinstance(route, Mount):
            found.append((route.path + "/{path}", ["GET", "HEAD"], {"path": PathConvertor()}))
    return found


def path_value(data, name: str, convertor, gateway: Gateway) -> str:
    if isinstance(convertor, IntegerConvertor):
        number = data.draw(
            st.sampled_from([gateway.ticket, 0, 1, 2**63 - 1, 2**63, int(HUGE), 10**40])
            | st.integers(min_value=0),
            label=name,
        )
        return str(number)
    if isinstance(convertor, PathConvertor):
        chosen = data.draw(
            st.sampled_from(["console.css", "../app.py", "%2e%2e/x"]) | URL_TEXT, label=name
        )
        return quote(chosen, safe="/%")
    chosen = data.draw(st.just(gateway.cid) | URL_TEXT, label=name)
    return quote(chosen, safe="")


def draw_request(data, gateway: Gateway, routes) -> dict:
    path_format, methods, convertors = data.draw(st.sampled_from(routes), label="route")
    values = {name: path_value(data, name, c, gateway) for name, c in convertors.items()}
    path = path_format.format(**values)
    other_method = data.draw(st.integers(0, 9), label="other method") == 0  # 1 in 10: a 405
    others = ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
    method = data.draw(st.sampled_from(others if other_method else methods), label="method")
    query = data.draw(
        st.dictionaries(st.sampled_from(KNOWN_QUERY) | URL_TEXT, URL_TEXT, max_size=4),
        label="query",
    )
    headers = data.draw(
        st.dictionaries(st.sampled_from(HEADER_NAMES), HEADER_TEXT, max_size=4), label="headers"
    )
    body, content_type = data.draw(bodies(), label="body")
    if content_type is not None:
        headers["content-type"] = content_type
    if path.endswith("/messages") and path.startswith("/api/"):
        query["wait"] = data.draw(WAIT, label="wait")
    if path.endswith("/events"):
        query["after"] = data.draw(NOT_AN_ID, label="after")
        headers["last-event-id"] = data.draw(NOT_AN_ID, label="last-event-id")
    if data.draw(st.integers(0, 3), label="logged in") > 0:  # most routes are the console's
        headers.update(gateway.log_in())
    if data.draw(st.booleans(), label="with the right secrets"):
        signature = hmac.new(APP_SECRET.encode(), body or b"", hashlib.sha256).hexdigest()
        headers["x-hub-signature-256"] = f"sha256={signature}"
        headers["x-telegram-bot-api-secret-token"] = TELEGRAM_SECRET
        query.setdefault("hub.verify_token", VERIFY_TOKEN)
    # Header values travel as bytes: a non-ASCII one arrives as it would from any client.
    raw_headers = {name: value.encode("utf-8", "surrogatepass") for name, value in headers.items()}
    return {
        "route": f"{method} {path_format}",
        "method": method,
        "path": path,
        "query": query,
        "headers": raw_headers,
        "body": body,
    }


def acceptable(request: dict, response) -> bool:
    """Under 500; a 503 only where the answer needs Rasa, which is down here."""
    if response.status_code < 500:
        return True
    rasa_down = response.status_code == 503 and "Rasa is not available" in response.text
    return request["path"] == "/api/explain" and rasa_down


@settings(
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_no_request_to_any_route_gets_a_server_error(gateway, data):
    routes = routes_of(gateway.client.app)
    request = draw_request(data, gateway, routes)
    query = urlencode(request["query"], encoding="utf-8", errors="surrogatepass")
    url = request["path"] + (f"?{query}" if query else "")
    response = gateway.client.request(
        request["method"], url, headers=request["headers"], content=request["body"]
    )
    gateway.client.cookies.clear()  # a login or logout here is not the next request's
    event(f"{request['route']} -> {response.status_code}")  # --hypothesis-show-statistics
    assert acceptable(request, response), (response.status_code, response.text[:500])


def test_every_route_is_in_the_generated_requests(gateway):
    """The property test draws from app.routes: the channels' webhooks are among them."""
    paths = {path for path, _, _ in routes_of(gateway.client.app)}
    assert {"/telegram/webhook", "/whatsapp/webhook", "/api/explain", "/health"} <= paths
    assert len(paths) > 20

"""nginx in front of the gateways (bot/proxy.py): the config it writes, and Debian's nginx
running it in front of two stand-in gateways over real HTTP on loopback: event streams pass
through as they are written, the gateways learn the client's address from nginx alone, a
gateway that is down is skipped, a body a little over MAX_REQUEST_BYTES reaches the gateway,
and nothing is logged per request."""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from bot import proxy
from bot.channels import web
from bot.gateway import alerts
from bot.stack import free_port, port_in_use
from tests.fakes.server import serving

MAX_BYTES = 1_048_576
KEY = "conversation-key-in-the-url"  # stands for a shopper's key: never in a log


def config(tmp_path: Path, upstreams: list[str] | None = None) -> str:
    upstreams = upstreams or ["http://127.0.0.1:9001", "http://127.0.0.1:9002"]
    return proxy.write_config(tmp_path, 8080, upstreams, MAX_BYTES).read_text()


def block(text: str, opening: str) -> str:
    """The body of the `{ ... }` block that starts with `opening`."""
    start = text.index(opening + " {") + len(opening) + 2
    depth, end = 1, start
    while depth:
        depth += {"{": 1, "}": -1}.get(text[end], 0)
        end += 1
    return text[start : end - 1]


def directives(text: str) -> list[str]:
    """The block's own directives (not those of blocks inside it), comments left out."""
    found, depth = [], 0
    for raw in text.splitlines():
        line = raw.split("#")[0].strip()
        if depth == 0 and line and not line.endswith("{") and line != "}":
            found.append(line.rstrip(";"))
        depth += line.count("{") - line.count("}")
    return found


def test_config_streams_unbuffered_logs_nothing_and_forwards_the_client(tmp_path):
    text = config(tmp_path)
    http, server = block(text, "http"), block(text, "server")
    assert "access_log off" in directives(http)
    # Every response, event streams first, goes out as the gateway writes it.
    assert "proxy_buffering off" in directives(server)
    assert "proxy_request_buffering off" in directives(server)
    streams = block(server, "location ~ /events$")
    assert f"proxy_read_timeout {proxy.STREAM_TIMEOUT_SECONDS}s" in directives(streams)
    assert proxy.STREAM_TIMEOUT_SECONDS >= 3600
    # The gateways' event streams are the ones that location takes.
    streams = {route.path for route in web.routes + alerts.routes if route.name == "events"}
    assert streams == {"/api/conversations/{cid}/events", "/console/events"}
    # Set from the connection, not appended to what a client claims.
    assert "proxy_set_header X-Forwarded-For $remote_addr" in directives(server)
    assert "proxy_set_header X-Forwarded-Proto $scheme" in directives(server)
    assert "proxy_set_header Host $http_host" in directives(server)
    assert "listen 127.0.0.1:8080" in directives(server)


def test_config_lets_the_gateway_refuse_big_bodies_and_skips_a_gateway_that_is_down(tmp_path):
    text = config(tmp_path)
    (size,) = [d for d in directives(block(text, "http")) if d.startswith("client_max_body_size")]
    assert MAX_BYTES < int(size.split()[1]) <= MAX_BYTES + 128 * 1024
    upstream = directives(block(text, "upstream gateways"))
    for port in (9001, 9002):
        assert f"server 127.0.0.1:{port} max_fails=1 fail_timeout=10s" in upstream
    server = directives(block(text, "server"))
    assert "proxy_next_upstream error timeout" in server  # never non_idempotent
    assert "proxy_next_upstream_tries 2" in server


def test_config_keeps_everything_under_its_own_directory(tmp_path):
    text = config(tmp_path)
    paths = [d.split()[1] for d in directives(text) + directives(block(text, "http"))]
    paths = [p for p in paths if p.startswith("/")]
    assert paths and all(p.startswith(str(tmp_path)) for p in paths)
    assert "error_log stderr crit" in directives(text)  # nginx's request errors quote the URL
    proxy.check_config(tmp_path / "nginx.conf")  # nginx -t accepts it


def test_config_refuses_what_is_not_a_gateway_url(tmp_path):
    with pytest.raises(ValueError):
        config(tmp_path, ["127.0.0.1:9001"])
    with pytest.raises(ValueError):
        proxy.write_config(tmp_path, 8080, [], MAX_BYTES)


# --- nginx running in front of two stand-in gateways --------------------------------------


def stand_in_gateway(name: str, gate: threading.Event) -> Starlette:
    """Answers with what it received; its event stream sends one event, then the second only
    once `gate` is set (a buffering proxy would hold the first back)."""

    async def echo(request: Request) -> JSONResponse:
        body = await request.body()
        return JSONResponse(
            {
                "gateway": name,
                "host": request.headers.get("host"),
                "forwarded_for": request.headers.get("x-forwarded-for"),
                "forwarded_proto": request.headers.get("x-forwarded-proto"),
                "bytes": len(body),
            }
        )

    async def events(request: Request) -> StreamingResponse:
        async def stream():
            yield "retry: 2000\n\ndata: first\n\n"
            while not gate.is_set():
                await asyncio.sleep(0.05)
            yield "data: second\n\n"

        # No X-Accel-Buffering header: nginx's own config must not buffer.
        return StreamingResponse(stream(), media_type="text/event-stream")

    return Starlette(
        routes=[
            Route("/api/conversations/{cid}/events", events),
            Route("/api/{rest:path}", echo, methods=["GET", "POST"]),
        ]
    )


@pytest.fixture
def gate() -> Iterator[threading.Event]:
    opened = threading.Event()
    yield opened
    opened.set()  # lets a stream still held end


@pytest.fixture
def nginx(tmp_path, gate) -> Iterator[tuple[str, Path]]:
    """nginx on a free port in front of two stand-in gateways and one port nobody listens on
    (a gateway that is down). Yields nginx's URL and its log."""
    down = f"http://127.0.0.1:{free_port()}"
    with (
        serving(stand_in_gateway("one", gate)) as one,
        serving(stand_in_gateway("two", gate)) as two,
    ):
        port = free_port()
        conf = proxy.write_config(tmp_path / "run", port, [one, down, two], MAX_BYTES)
        log_path = tmp_path / "nginx.log"
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                proxy.nginx_command(conf), stdout=log, stderr=subprocess.STDOUT
            )
        try:
            deadline = time.monotonic() + 10
            while not port_in_use(port):
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.05)
            yield f"http://127.0.0.1:{port}", log_path
        finally:
            process.terminate()
            process.wait(timeout=10)


def test_event_streams_pass_through_as_they_are_written(nginx, gate):
    url, _ = nginx
    with (
        httpx.Client(base_url=url, timeout=httpx.Timeout(10, read=5)) as http,
        http.stream("GET", f"/api/conversations/{KEY}/events") as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = response.iter_lines()
        assert next(lines).startswith("retry:")
        assert [next(lines), next(lines)] == ["", "data: first"]  # before the gate opens
        gate.set()
        assert [next(lines), next(lines)] == ["", "data: second"]


def test_the_gateways_get_the_client_from_nginx_and_a_gateway_down_is_skipped(nginx):
    url, _ = nginx
    answered = set()
    with httpx.Client(base_url=url, timeout=10) as http:
        for n in range(6):  # round robin over three, one of them down
            # A client's own X-Forwarded-For is not passed on: nginx says who connected.
            headers = {"x-forwarded-for": "203.0.113.9"}
            if n % 2:
                response = http.post(f"/api/{KEY}/messages", json={"n": n}, headers=headers)
            else:
                response = http.get(f"/api/{KEY}/messages", headers=headers)
            assert response.status_code == 200
            said = response.json()
            answered.add(said["gateway"])
            assert said["forwarded_for"] == "127.0.0.1"
            assert said["forwarded_proto"] == "http"
            assert said["host"] == url.removeprefix("http://")  # with the port: same-origin
    assert answered == {"one", "two"}


def test_a_body_a_little_over_the_cap_reaches_the_gateway(nginx):
    url, _ = nginx
    body = b"x" * (MAX_BYTES + 1000)  # the gateway, not nginx, answers 413 for this
    response = httpx.post(f"{url}/api/{KEY}/messages", content=body, timeout=10)
    assert response.status_code == 200 and response.json()["bytes"] == len(body)
    far_too_big = httpx.post(f"{url}/api/{KEY}/messages", content=body * 2, timeout=10)
    assert far_too_big.status_code == 413


def test_nothing_is_logged_per_request(nginx, tmp_path):
    url, log_path = nginx
    for _ in range(3):
        assert httpx.get(f"{url}/api/{KEY}/messages", timeout=10).status_code == 200
    assert httpx.get(f"{url}/nowhere/{KEY}", timeout=10).status_code == 404
    for path in [log_path, *(tmp_path / "run").rglob("*")]:
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert (
        not Path("/var/log/nginx/access.log").exists()
        or KEY.encode() not in Path("/var/log/nginx/access.log").read_bytes()
    )

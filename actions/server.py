"""The action server: rasa-sdk's endpoints (/webhook, /health, /actions) and Rasa's NLG
endpoint (/nlg, actions/nlg.py), on loopback unless told otherwise.

rasa-sdk trusts whoever posts a tracker: a made-up one with `verified_orders` set would get
another shopper's order, or cancel it. So every request but `GET /health` must carry
`Authorization: Bearer <ACTION_SERVER_SECRET>` (Rasa sends it, endpoints.yml) and every POST
must be JSON (rasa-sdk would read any body as JSON).

`python -m actions.server --port 5055` (bot/stack.py starts it)."""

from __future__ import annotations

import argparse
import hmac
import logging
from collections.abc import Awaitable, Callable

from rasa_sdk.endpoint import create_app_for_serve
from rasa_sdk.executor import ActionExecutor
from sanic import Request, Sanic, response
from sanic.worker.loader import AppLoader

from actions.nlg import render
from bot.shared_secrets import action_server_secret

logger = logging.getLogger(__name__)


async def nlg(request: Request) -> response.HTTPResponse:
    body = request.json
    if not isinstance(body, dict):
        return response.json({"error": "expected a JSON object"}, status=400)
    return response.json(render(body))


def require_key(expected: bytes) -> Callable[[Request], Awaitable[response.HTTPResponse | None]]:
    """A request middleware: 401 without the key, 415 for a POST that is not JSON."""

    async def check(request: Request) -> response.HTTPResponse | None:
        if request.method == "GET" and request.path == "/health":
            return None
        try:
            given = request.headers.get("authorization", "").encode("ascii")
        except UnicodeEncodeError:  # a non-ASCII header is simply a wrong key
            given = b""
        if not hmac.compare_digest(given, expected):
            return response.json({"error": "unauthorized"}, status=401)
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if request.method == "POST" and media_type != "application/json":
            return response.json({"error": "expected application/json"}, status=415)
        return None

    return check


def create_app() -> Sanic:
    executor = ActionExecutor()
    executor.register_package("actions")
    app = create_app_for_serve(executor, cors_origins=[])
    app.add_route(nlg, "/nlg", methods=["POST"])
    expected = f"Bearer {action_server_secret()}".encode()
    app.register_middleware(require_key(expected), "request", priority=1000)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5055)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    loader = AppLoader(factory=create_app)
    app = loader.load()
    app.prepare(host=args.host, port=args.port, workers=1, access_log=False)
    Sanic.serve(primary=app, app_loader=loader)


if __name__ == "__main__":
    main()

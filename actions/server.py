"""The action server: rasa-sdk's endpoints (/webhook, /health, /actions) and Rasa's NLG
endpoint (/nlg, actions/nlg.py), on loopback unless told otherwise.

`python -m actions.server --port 5055` (bot/stack.py starts it)."""

from __future__ import annotations

import argparse
import logging

from rasa_sdk.endpoint import create_app_for_serve
from rasa_sdk.executor import ActionExecutor
from sanic import Request, Sanic, response
from sanic.worker.loader import AppLoader

from actions.nlg import render

logger = logging.getLogger(__name__)


async def nlg(request: Request) -> response.HTTPResponse:
    body = request.json
    if not isinstance(body, dict):
        return response.json({"error": "expected a JSON object"}, status=400)
    return response.json(render(body))


def create_app() -> Sanic:
    executor = ActionExecutor()
    executor.register_package("actions")
    app = create_app_for_serve(executor, cors_origins=[])
    app.add_route(nlg, "/nlg", methods=["POST"])
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

"""A fake of Meta's Graph API for WhatsApp: records what the gateway sends to
POST /{version}/{phone_number_id}/messages, and checks the bearer token."""

from __future__ import annotations

import itertools
import threading
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


class FakeGraphApi:
    def __init__(self, token: str, phone_number_id: str) -> None:
        self.token = token
        self.phone_number_id = phone_number_id
        self.lock = threading.Lock()
        self.messages: list[dict[str, Any]] = []
        self._ids = itertools.count(1)
        self.app = Starlette(routes=[Route("/v21.0/{phone}/messages", self.send, methods=["POST"])])

    async def send(self, request: Request) -> JSONResponse:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return JSONResponse({"error": {"message": "Invalid OAuth access token"}}, 401)
        if request.path_params["phone"] != self.phone_number_id:
            return JSONResponse({"error": {"message": "Unknown phone number id"}}, 400)
        body = await request.json()
        with self.lock:
            self.messages.append(body)
        wa_id = body.get("to")
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": wa_id, "wa_id": wa_id}],
                "messages": [{"id": f"wamid.out.{next(self._ids)}"}],
            }
        )

    def sent_to(self, wa_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [m for m in self.messages if m.get("to") == wa_id]

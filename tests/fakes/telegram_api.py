"""A fake Telegram Bot API server: enough of getMe, getUpdates (long polling),
set/deleteWebhook, sendMessage, answerCallbackQuery and editMessageReplyMarkup for
python-telegram-bot to run against it. Tests play the Telegram user."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

BOT_USER = {"id": 777000, "is_bot": True, "first_name": "Shop", "username": "shop_test_bot"}


class FakeBotApi:
    def __init__(self, token: str) -> None:
        self.token = token
        self.lock = threading.Lock()
        self.updates: list[dict[str, Any]] = []
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self.failing_sends = 0  # answer this many sendMessage calls with HTTP 500
        self.app = Starlette(
            routes=[Route("/bot{token}/{method}", self.handle, methods=["GET", "POST"])]
        )

    # --- the user's side ------------------------------------------------------------------
    def _push(self, **update: Any) -> None:
        with self.lock:
            self.updates.append({"update_id": next(self._update_ids), **update})

    def _message(self, chat_id: int, **content: Any) -> dict[str, Any]:
        user = {"id": chat_id, "is_bot": False, "first_name": "Shopper"}
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private", "first_name": "Shopper"},
            "from": user,
            **content,
        }

    def user_says(self, chat_id: int, text: str) -> None:
        self._push(message=self._message(chat_id, text=text))

    def user_sends_sticker(self, chat_id: int) -> None:
        sticker = {
            "file_id": "sticker-1",
            "file_unique_id": "s1",
            "type": "regular",
            "width": 512,
            "height": 512,
            "is_animated": False,
            "is_video": False,
        }
        self._push(message=self._message(chat_id, sticker=sticker))

    def user_presses(self, chat_id: int, sent: dict[str, Any], data: str) -> None:
        """Press a button on a message the bot sent (`sent` is its sendMessage parameters)."""
        message = self._message(chat_id, text=sent["text"])
        message["from"] = BOT_USER
        query = {
            "id": str(next(self._update_ids)),
            "from": {"id": chat_id, "is_bot": False, "first_name": "Shopper"},
            "chat_instance": "ci-1",
            "message": message,
            "data": data,
        }
        self._push(callback_query=query)

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        with self.lock:
            return [
                params
                for method, params in self.calls
                if method == "sendMessage"
                and (chat_id is None or int(params["chat_id"]) == chat_id)
            ]

    def called(self, method: str) -> list[dict[str, Any]]:
        with self.lock:
            return [params for name, params in self.calls if name == method]

    # --- the Bot API side -----------------------------------------------------------------
    async def handle(self, request: Request) -> JSONResponse:
        if request.path_params["token"] != self.token:
            return JSONResponse(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, 401
            )
        method = request.path_params["method"]
        params = await self.params(request)
        with self.lock:
            self.calls.append((method, params))
        if method == "getMe":
            return self.ok(BOT_USER)
        if method == "getUpdates":
            return self.ok(await self.get_updates(params))
        if method == "sendMessage" and self.failing_sends > 0:
            with self.lock:
                self.failing_sends -= 1
                self.calls.pop()  # not sent
            return JSONResponse(
                {"ok": False, "error_code": 500, "description": "Internal Server Error"}, 500
            )
        if method == "sendMessage":
            message = {
                "message_id": next(self._message_ids),
                "date": int(time.time()),
                "chat": {"id": int(params["chat_id"]), "type": "private"},
                "from": BOT_USER,
                "text": params.get("text", ""),
            }
            return self.ok(message)
        if method in (
            "deleteWebhook",
            "setWebhook",
            "answerCallbackQuery",
            "editMessageReplyMarkup",
        ):
            return self.ok(True)
        return JSONResponse({"ok": False, "error_code": 404, "description": "Not Found"}, 404)

    @staticmethod
    async def params(request: Request) -> dict[str, Any]:
        if "json" in request.headers.get("content-type", ""):
            return await request.json()
        form = await request.form()
        params = {}
        for key, value in form.items():
            try:
                params[key] = json.loads(value) if value[:1] in "[{" else value
            except (ValueError, TypeError):
                params[key] = value
        return params

    async def get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset") or 0)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 1.0)
        while True:
            with self.lock:
                self.updates = [u for u in self.updates if u["update_id"] >= offset]
                ready = list(self.updates)
            if ready or time.monotonic() >= deadline:
                return ready
            await asyncio.sleep(0.05)

    @staticmethod
    def ok(result: Any) -> JSONResponse:
        return JSONResponse({"ok": True, "result": result})

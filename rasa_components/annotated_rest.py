"""Rasa's REST channel, plus what the NLU read in the message.

The reply ends with a hidden custom message saying what the NLU read (`bot.contract.nlu_read`)
that the gateway notes on the stored shopper message (for the insights report) and never shows. The
message is parsed once, here, and the parse handed to Rasa with it, so this costs nothing
over the plain REST channel. Same URL (`/webhooks/rest/webhook`) and body; registered in
credentials.yml instead of `rest`. Unlike Rasa's own, it never logs the shopper's text.
"""

from __future__ import annotations

import logging
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import contract

logger = logging.getLogger(__name__)


class AnnotatedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            sender_id = await self._extract_sender(request)
            text = self._extract_message(request)
            collector = CollectingOutputChannel()
            read: dict[str, Any] | None = None
            try:
                parse_data = await request.app.ctx.agent.parse_message(text)
                intent = parse_data.get("intent") or {}
                if intent.get("name"):
                    read = contract.nlu_read(intent["name"], intent.get("confidence"))
                await on_new_message(
                    UserMessage(
                        text,
                        collector,
                        sender_id,
                        parse_data=parse_data,
                        input_channel=self._extract_input_channel(request),
                        metadata=self.get_metadata(request),
                    )
                )
            except CancelledError:
                logger.error("a message timed out")
            except Exception:
                logger.exception("a message could not be handled")
            if read:
                collector.messages.append({"recipient_id": sender_id, "custom": read})
            return response.json(collector.messages)

        return hook

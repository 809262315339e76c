"""Rasa's REST channel, plus what the NLU read in the message, and the only door into Rasa.

The reply ends with a hidden custom message saying what the NLU read (`bot.contract.nlu_read`)
that the gateway notes on the stored shopper message (for the insights report) and never shows. The
message is parsed once, here, and the parse handed to Rasa with it, so this costs nothing
over the plain REST channel. Same URL (`/webhooks/rest/webhook`) and body; registered in
credentials.yml instead of `rest`. Unlike Rasa's own, it never logs the shopper's text.

Rasa runs without its HTTP API (anyone on the host could read every tracker, proofs included,
and set slots), so the two things the gateway used it for live here too:
`POST /webhooks/rest/trigger {"sender", "intent"}` (an intent nobody typed: a conversation
handed back to the bot) and `POST /webhooks/rest/parse {"text"}` (the NLU's reading of a
text, without the sentence vectors the featurizer adds for the FAQ search: nobody calling it
needs their 4.8 kB). Every route but the health check (`GET /webhooks/rest/`) needs
`Authorization: Bearer <RASA_SECRET>` (from Rasa's environment; without it everything is
refused) and a JSON body.

Loading this channel also makes Rasa check the schemas it validates every action server answer
and every NLG response against once, instead of on every call (`check_schemas_once`).
"""

from __future__ import annotations

import hmac
import logging
import os
from asyncio import CancelledError
from collections.abc import Awaitable, Callable
from typing import Any

from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.lock_store import LockError
from rasa.core.nlg.callback import CallbackNaturalLanguageGenerator, nlg_response_format_spec
from redis.exceptions import RedisError
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from bot import contract

logger = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[HTTPResponse]]


def _checked_validator(schema: dict[str, Any]) -> Any:
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def check_schemas_once() -> None:
    """Rasa validates each action server answer and each NLG response with
    `jsonschema.validate`, which first checks the schema itself against JSON Schema's
    meta-schema: the same constant schema, every time, 13 ms of every custom action call and 4
    ms of every response (the FAQ search itself takes 2 ms). Here each schema is checked once;
    every answer is still validated against it, and one that fails goes to Rasa's own check,
    which raises its usual error."""
    rasa_action_check = RemoteAction._validate_action_result
    rasa_nlg_check = CallbackNaturalLanguageGenerator.validate_response
    action_answer = _checked_validator(RemoteAction.action_response_format_spec())
    nlg_response = _checked_validator(nlg_response_format_spec())

    def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
        return action_answer.is_valid(result) or rasa_action_check(self, result)

    def validate_response(content: dict[str, Any] | None) -> bool:
        if content is None or content == "" or nlg_response.is_valid(content):
            return True
        return rasa_nlg_check(content)

    RemoteAction._validate_action_result = validate_action_result
    CallbackNaturalLanguageGenerator.validate_response = staticmethod(validate_response)


check_schemas_once()


def expected_authorization() -> bytes | None:
    """The whole header a caller must send, or None when RASA_SECRET is not set."""
    secret = os.environ.get("RASA_SECRET", "")
    if not secret:
        logger.error("RASA_SECRET is not set: every request to the REST channel is refused")
        return None
    return f"Bearer {secret}".encode()


def authorized(request: Request, expected: bytes | None) -> bool:
    if expected is None:
        return False
    try:
        given = request.headers.get("authorization", "").encode("ascii")
    except UnicodeEncodeError:  # a non-ASCII header is simply a wrong key
        return False
    return hmac.compare_digest(given, expected)


def is_json(request: Request) -> bool:
    return request.content_type.split(";")[0].strip().lower() == "application/json"


def error(message: str, status: int) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def agent_ready(request: Request) -> Any:
    agent = getattr(request.app.ctx, "agent", None)
    return agent if agent is not None and agent.is_ready() else None


class AnnotatedRestInput(RestInput):
    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        hook = Blueprint(f"custom_webhook_{type(self).__name__}", __name__)
        expected = expected_authorization()

        def guarded(handler: Callable[[Request, dict], Awaitable[HTTPResponse]]) -> Handler:
            """The key, then a JSON object, before `handler(request, body)` sees anything."""

            async def checked(request: Request) -> HTTPResponse:
                if not authorized(request, expected):
                    return error("unauthorized", 401)
                if not is_json(request):
                    return error("expected application/json", 415)
                try:
                    body = request.json
                except Exception:
                    body = None
                if not isinstance(body, dict):
                    return error("expected a JSON object", 400)
                if agent_ready(request) is None:
                    return error("the model is not loaded yet", 503)
                return await handler(request, body)

            checked.__name__ = handler.__name__  # Sanic names the route after it
            return checked

        @hook.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            if expected is None:
                return response.json({"status": "refusing: RASA_SECRET is not set"}, status=503)
            if agent_ready(request) is None:
                return response.json({"status": "loading"}, status=503)
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        @guarded
        async def receive(request: Request, body: dict) -> HTTPResponse:
            sender_id, text = body.get("sender"), body.get("message")
            if not isinstance(sender_id, str) or not isinstance(text, str):
                return error("'sender' and 'message' must be strings", 400)
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
            except (LockError, RedisError) as gone:
                # Redis, the lock store, is unreachable: the message was not handled here. The
                # gateway keeps it and tries another server, or tells the shopper to try again.
                logger.warning("conversation lock unavailable: %r", gone)
                return error("the conversation lock store is unavailable", 503)
            except Exception:
                logger.exception("a message could not be handled")
            if read:
                collector.messages.append({"recipient_id": sender_id, "custom": read})
            return response.json(collector.messages)

        @hook.route("/trigger", methods=["POST"])
        @guarded
        async def trigger(request: Request, body: dict) -> HTTPResponse:
            """What the HTTP API's `/conversations/<id>/trigger_intent` did (rasa/server.py),
            answering with the bot's `messages` only (not the whole tracker)."""
            sender_id, intent = body.get("sender"), body.get("intent")
            if not isinstance(sender_id, str) or not sender_id or not isinstance(intent, str):
                return error("'sender' and 'intent' must be strings", 400)
            agent = request.app.ctx.agent
            if intent not in agent.domain.intents:
                return error("no such intent in the domain", 404)
            collector = CollectingOutputChannel()
            try:
                async with agent.lock_store.lock(sender_id):
                    tracker = await agent.processor.fetch_tracker_and_update_session(sender_id)
                    await agent.trigger_intent(
                        intent_name=intent, entities=[], output_channel=collector, tracker=tracker
                    )
            except (LockError, RedisError) as gone:
                logger.warning("conversation lock unavailable: %r", gone)
                return error("the conversation lock store is unavailable", 503)
            except Exception:
                logger.exception("an intent could not be triggered")
                return error("the intent could not be triggered", 500)
            return response.json({"messages": collector.messages})

        @hook.route("/parse", methods=["POST"])
        @guarded
        async def parse(request: Request, body: dict) -> HTTPResponse:
            """What the HTTP API's `/model/parse` returned, touching no conversation."""
            text = body.get("text")
            if not isinstance(text, str):
                return error("'text' must be a string", 400)
            try:
                parse_data = await request.app.ctx.agent.parse_message(text)
                parse_data.pop(contract.SENTENCE_VECTORS, None)
                return response.json(parse_data)
            except Exception:
                logger.exception("a text could not be parsed")
                return error("the text could not be parsed", 500)

        return hook

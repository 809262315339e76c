"""Talking to the Rasa server through its REST channel (rasa_components/annotated_rest.py):
shopper messages, intents the gateway triggers (a conversation handed back to the bot) and the
NLU's reading of a text. Rasa's own HTTP API is off; every call carries `RASA_SECRET`."""

from __future__ import annotations

from typing import Any

import httpx

from bot.settings import get_settings
from bot.shared_secrets import rasa_secret


class RasaUnavailable(Exception):
    """Rasa could not be reached or failed to answer."""


class RasaClient:
    def __init__(
        self, base_url: str | None = None, timeout: float = 30.0, secret: str | None = None
    ) -> None:
        """`secret` defaults to this checkout's `RASA_SECRET` (bot/shared_secrets.py)."""
        self.http = httpx.AsyncClient(
            base_url=base_url or get_settings().rasa_url,
            timeout=timeout,
            headers={"Authorization": f"Bearer {secret or rasa_secret()}"},
        )

    async def send(
        self, sender: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The bot's replies to one shopper message (Rasa's REST channel format)."""
        body = {"sender": sender, "message": text, "metadata": metadata or {}}
        return await self._post("/webhooks/rest/webhook", body)

    async def trigger(self, sender: str, intent: str) -> list[dict[str, Any]]:
        """Run an external event (an intent nobody typed) and return the bot's replies."""
        answer = await self._post("/webhooks/rest/trigger", {"sender": sender, "intent": intent})
        return answer.get("messages", [])

    async def parse(self, text: str) -> dict[str, Any]:
        """Rasa's NLU reading of a text, without touching any conversation."""
        return await self._post("/webhooks/rest/parse", {"text": text})

    async def _post(self, path: str, body: dict[str, Any]) -> Any:
        try:
            response = await self.http.post(path, json=body)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, ValueError) as error:
            raise RasaUnavailable(f"{type(error).__name__} from Rasa on {path}") from error

    async def aclose(self) -> None:
        await self.http.aclose()

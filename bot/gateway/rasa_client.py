"""Talking to the Rasa servers through their REST channel (rasa_components/annotated_rest.py):
shopper messages, intents the gateway triggers (a conversation handed back to the bot) and the
NLU's reading of a text. Rasa's own HTTP API is off; every call carries `RASA_SECRET`.

With several Rasa servers (RASA_URL, comma-separated) each conversation goes to one of them,
chosen by a stable hash of its id (rendezvous hashing: a server going away moves only its own
conversations), and to the next in its order while that one cannot be reached. Any server can
continue any conversation: they share the tracker store and Redis's lock store."""

from __future__ import annotations

import hashlib
import itertools
import logging
import time
from collections.abc import Sequence
from typing import Any

import httpx

from bot.settings import get_settings
from bot.shared_secrets import rasa_secret

logger = logging.getLogger(__name__)

# Errors that mean the server did not take the message (or died with it): another may. A
# timeout is not one of them: the server may still be answering, and asking a second would
# answer twice.
GONE = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)
GONE_STATUS = {502, 503, 504}
DOWN_SECONDS = 5.0  # a server that failed is tried last for this long


class RasaUnavailable(Exception):
    """No Rasa server could be reached, or one failed to answer."""


class RasaClient:
    def __init__(
        self,
        base_urls: str | Sequence[str] | None = None,
        timeout: float = 30.0,
        secret: str | None = None,
    ) -> None:
        """`base_urls`: one URL or several (default RASA_URL); `secret` defaults to this
        checkout's `RASA_SECRET` (bot/shared_secrets.py)."""
        if isinstance(base_urls, str):
            base_urls = [base_urls]
        urls = list(base_urls or get_settings().rasa_urls)
        if not urls:
            raise ValueError("RASA_URL names no Rasa server")
        headers = {"Authorization": f"Bearer {secret or rasa_secret()}"}
        self.servers = {
            url: httpx.AsyncClient(base_url=url, timeout=timeout, headers=headers) for url in urls
        }
        self._down_until: dict[str, float] = {}
        self._turns = itertools.cycle(urls)  # requests of no conversation: round robin

    def order_for(self, sender: str | None) -> list[str]:
        """The servers to try for a conversation, its own first; those that failed lately
        last."""
        if sender is None:
            first = next(self._turns)
            urls = [first, *(url for url in self.servers if url != first)]
        else:
            urls = sorted(self.servers, key=lambda url: _weight(url, sender), reverse=True)
        now = time.monotonic()
        return sorted(urls, key=lambda url: self._down_until.get(url, 0) > now)

    async def send(
        self, sender: str, text: str, metadata: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """The bot's replies to one shopper message (Rasa's REST channel format)."""
        body = {"sender": sender, "message": text, "metadata": metadata or {}}
        return await self._post("/webhooks/rest/webhook", body, sender)

    async def trigger(self, sender: str, intent: str) -> list[dict[str, Any]]:
        """Run an external event (an intent nobody typed) and return the bot's replies."""
        body = {"sender": sender, "intent": intent}
        answer = await self._post("/webhooks/rest/trigger", body, sender)
        return answer.get("messages", [])

    async def parse(self, text: str) -> dict[str, Any]:
        """Rasa's NLU reading of a text, without touching any conversation."""
        return await self._post("/webhooks/rest/parse", {"text": text}, None)

    async def _post(self, path: str, body: dict[str, Any], sender: str | None) -> Any:
        failure: Exception | None = None
        for url in self.order_for(sender):
            try:
                response = await self.servers[url].post(path, json=body)
                if response.status_code in GONE_STATUS:
                    raise httpx.HTTPStatusError(
                        f"{response.status_code}", request=response.request, response=response
                    )
                response.raise_for_status()
                self._down_until.pop(url, None)
                return response.json()
            except (*GONE, httpx.HTTPStatusError) as error:
                gone = isinstance(error, GONE) or error.response.status_code in GONE_STATUS
                if not gone:
                    raise RasaUnavailable(f"{type(error).__name__} from Rasa on {path}") from error
                failure = error
                self._down_until[url] = time.monotonic() + DOWN_SECONDS
                if len(self.servers) > 1:
                    logger.warning("Rasa at %s failed (%r); trying another", url, error)
            except (httpx.HTTPError, ValueError) as error:
                raise RasaUnavailable(f"{type(error).__name__} from Rasa on {path}") from error
        raise RasaUnavailable(f"{type(failure).__name__} from Rasa on {path}") from failure

    async def aclose(self) -> None:
        for client in self.servers.values():
            await client.aclose()


def _weight(url: str, sender: str) -> bytes:
    return hashlib.sha256(f"{url}\n{sender}".encode()).digest()

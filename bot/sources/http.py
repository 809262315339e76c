"""A small synchronous client for an outside platform's HTTP API, with the retry rules an
order source needs.

Why the rules differ: a read can be repeated freely, so it is retried on 429, 5xx and transport
errors. A change (cancel, re-address, return) must never be made twice, so it is retried only
when it surely was not applied: a 429 (refused before it ran), or a connection that was never
made. After a timeout or a 5xx the platform may have applied it, so the caller gives up and the
shopper is handed to a person. Giving up is always `OrderSourceUnavailable`, never an httpx
error. Logs name the platform, the outcome and the attempt only: no bodies, URLs with data,
emails or tokens.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from bot.orders import OrderSourceUnavailable
from bot.settings import Settings

log = logging.getLogger(__name__)

MAX_WAIT_SECONDS = 3.0  # the longest a Retry-After (or a throttle) is honoured
BACKOFF_SECONDS = 0.2  # first backoff; doubles each retry, capped at MAX_WAIT_SECONDS

# A hook on a 200 answer: seconds to wait before retrying it as if it were a 429 (the platform
# refused it before running it, e.g. Shopify's THROTTLED), or None when the answer stands.
ThrottleCheck = Callable[[Any], float | None]


class _Retry(Exception):
    def __init__(self, reason: str, wait: float | None = None) -> None:
        super().__init__(reason)
        self.reason, self.wait = reason, wait


@dataclass(frozen=True)
class Answer:
    """A platform's answer: its HTTP status, decoded JSON body and headers (for paging)."""

    status: int
    data: Any
    headers: Mapping[str, str]


def required(source: str, **values: tuple[str, str]) -> None:
    """A clear ValueError for the first setting that is empty: `VARIABLE=(value, hint)`."""
    for variable, (value, hint) in values.items():
        if not value:
            raise ValueError(f"ORDER_SOURCE={source} needs {variable} ({hint})")


class PlatformClient:
    @classmethod
    def for_settings(
        cls, name: str, base_url: str, headers: Mapping[str, str], settings: Settings
    ) -> PlatformClient:
        """A client with the settings' timeout and retries (ORDER_SOURCE_TIMEOUT_SECONDS,
        ORDER_SOURCE_RETRIES)."""
        return cls(
            name,
            base_url,
            headers,
            timeout=settings.order_source_timeout_seconds,
            retries=settings.order_source_retries,
        )

    def __init__(
        self,
        name: str,
        base_url: str,
        headers: Mapping[str, str],
        timeout: float,
        retries: int,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.name, self.retries = name, retries
        self.http = httpx.Client(
            base_url=base_url, headers=dict(headers), timeout=timeout, transport=transport
        )

    def close(self) -> None:
        self.http.close()

    def post_json(
        self,
        path: str,
        body: Any,
        *,
        change: bool = False,
        throttled: ThrottleCheck | None = None,
    ) -> Any:
        """POST `body` as JSON and return the decoded JSON answer of a 2xx."""
        return self.request("POST", path, body=body, change=change, throttled=throttled).data

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        params: Mapping[str, Any] | None = None,
        change: bool = False,
        throttled: ThrottleCheck | None = None,
        allow: tuple[int, ...] = (),
    ) -> Answer:
        """Send one request under the retry rules above. A 4xx in `allow` (a REST API's 404
        for a missing record, say) is handed back for the caller to read instead of raised."""
        for attempt in range(self.retries + 1):
            try:
                return self._once(method, path, body, params, change, throttled, allow)
            except _Retry as retry:
                if attempt >= self.retries:
                    log.warning(
                        "%s: giving up after %d attempts (%s)", self.name, attempt + 1, retry.reason
                    )
                    raise OrderSourceUnavailable(
                        f"{self.name} did not answer ({retry.reason})"
                    ) from None
                wait = retry.wait if retry.wait is not None else BACKOFF_SECONDS * 2**attempt
                wait = min(max(wait, 0.0), MAX_WAIT_SECONDS)
                log.info("%s: %s, retry %d in %.1f s", self.name, retry.reason, attempt + 1, wait)
                time.sleep(wait)
        raise AssertionError("unreachable")

    def _once(
        self,
        method: str,
        path: str,
        body: Any,
        params: Mapping[str, Any] | None,
        change: bool,
        throttled: ThrottleCheck | None,
        allow: tuple[int, ...],
    ) -> Answer:
        try:
            response = self.http.request(
                method, path, json=body, params=dict(params) if params else None
            )
        except (httpx.ConnectError, httpx.ConnectTimeout) as error:
            # No connection was made: nothing was sent, so even a change may be retried.
            raise _Retry(f"no connection: {type(error).__name__}") from None
        except httpx.TransportError as error:
            reason = f"transport error: {type(error).__name__}"
            if change:  # it may have been applied: never send it again
                log.warning("%s: change not retried after %s", self.name, reason)
                raise OrderSourceUnavailable(f"{self.name} did not answer ({reason})") from None
            raise _Retry(reason) from None
        status = response.status_code
        if status == 429:
            raise _Retry("429 too many requests", _retry_after(response))
        if status >= 500:
            if change:
                log.warning("%s: change not retried after HTTP %d", self.name, status)
                raise OrderSourceUnavailable(f"{self.name} answered HTTP {status}")
            raise _Retry(f"HTTP {status}")
        if status >= 400 and status not in allow:
            # A wrong token, a wrong shop URL: retrying will not help.
            log.warning("%s: refused with HTTP %d", self.name, status)
            raise OrderSourceUnavailable(f"{self.name} refused the request (HTTP {status})")
        try:
            answer = response.json()
        except ValueError:
            if status >= 400:
                return Answer(status, None, response.headers)
            if change:
                raise OrderSourceUnavailable(f"{self.name} answered with no JSON") from None
            raise _Retry("an answer that is not JSON") from None
        if throttled is not None and (wait := throttled(answer)) is not None:
            raise _Retry("throttled", wait)
        return Answer(status, answer, response.headers)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return float(response.headers.get("retry-after", ""))
    except ValueError:
        return None

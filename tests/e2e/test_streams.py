"""Open event streams (the web widget's live updates) are capped per conversation and per
gateway, on a real gateway process: one more is refused with a 429, and a slot comes back when
its client goes away."""

from __future__ import annotations

from contextlib import ExitStack

import httpx
import pytest

from tests.conftest import gateway_with
from tests.fakes.server import wait_for

CAPS = {"STREAMS_PER_CONVERSATION": "2", "STREAMS_TOTAL": "3"}


class Streams:
    """Event streams held open against one gateway, each closable on its own."""

    def __init__(self, gateway_url: str) -> None:
        self.http = httpx.Client(base_url=gateway_url, timeout=httpx.Timeout(10, read=30))
        self.open: dict[int, ExitStack] = {}
        self.lines: list = []

    def conversation(self) -> str:
        started = self.http.post("/api/conversations")
        assert started.status_code == 201
        return started.json()["conversation_id"]

    def listen(self, cid: str) -> httpx.Response:
        """Open a stream; if it was accepted, keep it open (its first line read, so the
        gateway is surely sending it) until `close`."""
        held = ExitStack()
        response = held.enter_context(self.http.stream("GET", f"/api/conversations/{cid}/events"))
        if response.status_code != 200:
            response.read()
            held.close()
            return response
        lines = response.iter_lines()  # kept: dropping it would close the connection
        assert next(lines).startswith("retry:")
        self.open[id(response)] = held
        self.lines.append(lines)
        return response

    def close(self, response: httpx.Response) -> None:
        """Hang up on the gateway in the middle of the stream."""
        self.open.pop(id(response)).close()

    def close_all(self) -> None:
        for held in self.open.values():
            held.close()
        self.open.clear()
        self.http.close()


def refused(response: httpx.Response) -> bool:
    return (
        response.status_code == 429
        and int(response.headers["retry-after"]) > 0
        and "too many" in response.json()["error"]
    )


@pytest.mark.e2e
def test_streams_are_capped_per_conversation_and_per_gateway(stack):
    with gateway_with(stack, CAPS) as gateway:
        streams = Streams(gateway.gateway_url)
        try:
            one, two, three = (streams.conversation() for _ in range(3))
            first, second = streams.listen(one), streams.listen(one)
            assert first.status_code == second.status_code == 200
            assert refused(streams.listen(one))  # a third on the same conversation

            # A client that goes away frees its slot: a new stream gets in.
            streams.close(first)
            again = wait_for(
                lambda: (r := streams.listen(one)).status_code == 200 and r,
                what="the closed stream's slot to come back",
            )
            assert refused(streams.listen(one))

            # The gateway's total: two on `one`, a third on `two`, then nobody else.
            assert streams.listen(two).status_code == 200
            assert refused(streams.listen(two)) and refused(streams.listen(three))

            # Slots freed on one conversation serve another, and none leak.
            streams.close(second)
            streams.close(again)
            later = [
                wait_for(
                    lambda: (r := streams.listen(three)).status_code == 200 and r,
                    what="a freed slot for another conversation",
                )
                for _ in range(2)
            ]
            assert all(r.status_code == 200 for r in later)
            assert refused(streams.listen(three)) and refused(streams.listen(one))
        finally:
            streams.close_all()

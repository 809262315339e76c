"""Load on the running stack, on loopback: simulated shoppers at 1, 10 and 50 at once, each
asking an order question (verified by email) and a store question, through the gateway and,
in the same run, straight to Rasa's REST channel. Bounded in messages and time.

Prints a table; writes benchmarks/results/load.json. Also the peak memory (VmHWM) of each
process once the load is over.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field

import httpx
import yaml

from benchmarks.common import (
    NO_RATE_LIMITS,
    fresh_work_dir,
    memory_mb,
    trained_model,
    write_results,
)
from benchmarks.stats import latency_summary
from bot.conversations import stored_id
from bot.gateway.rasa_client import RasaClient
from bot.settings import PROJECT_ROOT
from bot.stack import Stack, free_port

CONCURRENCY = (1, 10, 50)
MESSAGES_PER_PHASE = 240
SECONDS_PER_PHASE = 60.0
# Each simulated shopper says these, in order: (kind, text); {number} and {email} are filled in.
SCRIPT = [
    ("canned", "where is my order {number}?"),
    ("canned", "{email}"),
    ("faq", "do you ship to Canada?"),
    ("canned", "thanks"),
]


def orders() -> list[tuple[str, str]]:
    seed = yaml.safe_load((PROJECT_ROOT / "data" / "shop" / "seed.yml").read_text())
    emails = {c["id"]: c["email"] for c in seed["customers"]}
    return [(o["number"], emails[o["customer"]]) for o in seed["orders"]]


@dataclass
class Transcripts:
    """What the shoppers of gateway phases sent and the bot messages they got back, by the
    store's conversation id: what benchmarks/scale.py audits against the store."""

    sent: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    answers: dict[str, list[dict]] = field(default_factory=lambda: defaultdict(list))


async def phase(
    stack: Stack,
    target: str,
    shoppers: int,
    *,
    messages: int = MESSAGES_PER_PHASE,
    seconds: float = SECONDS_PER_PHASE,
    transcripts: Transcripts | None = None,
) -> dict:
    """`shoppers` concurrent shoppers until `messages` messages or `seconds` are up. Through
    the gateway: `stack.gateway_url` (nginx's with several gateways). Straight to Rasa: each
    conversation to the Rasa server the gateway would pick (one of `stack.rasa_urls`)."""
    timings: dict[str, list[float]] = {"canned": [], "faq": []}
    errors = 0
    sent = 0
    stop_at = time.monotonic() + seconds
    known = orders()
    limits = httpx.Limits(max_connections=shoppers + 5)
    servers = RasaClient(stack.rasa_urls, secret=stack.env["RASA_SECRET"])

    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def say(conversation: str, text: str) -> httpx.Response:
            headers = None
            if target == "gateway":
                url = f"{stack.gateway_url}/api/conversations/{conversation}/messages"
                body = {"text": text}
            else:
                rasa_url = servers.order_for(conversation)[0]
                url = f"{rasa_url}/webhooks/rest/webhook"
                body = {"sender": conversation, "message": text}
                headers = stack.rasa_headers()
            response = await client.post(url, json=body, headers=headers)
            response.raise_for_status()
            return response

        def note(conversation: str, text: str, response: httpx.Response) -> None:
            if transcripts is None or target != "gateway":
                return
            said = response.json()["messages"]
            transcripts.sent[stored_id(conversation)].append(text)
            transcripts.answers[stored_id(conversation)] += [
                m for m in said if m["sender"] == "bot"
            ]

        async def shopper(n: int) -> None:
            nonlocal errors, sent
            round_ = 0
            while sent < messages and time.monotonic() < stop_at:
                number, email = known[(n * 7 + round_) % len(known)]
                if target == "gateway":
                    started = await client.post(f"{stack.gateway_url}/api/conversations")
                    conversation = started.json()["conversation_id"]
                else:
                    conversation = f"load-{target}-{shoppers}-{n}-{round_}"
                for kind, template in SCRIPT:
                    if sent >= messages or time.monotonic() >= stop_at:
                        return
                    sent += 1
                    text = template.format(number=number, email=email)
                    begin = time.perf_counter()
                    try:
                        response = await say(conversation, text)
                        timings[kind].append((time.perf_counter() - begin) * 1000)
                        note(conversation, text, response)
                    except httpx.HTTPError:
                        errors += 1
                round_ += 1

        started = time.perf_counter()
        await asyncio.gather(*(shopper(n) for n in range(shoppers)))
        elapsed = time.perf_counter() - started
    await servers.aclose()
    done = sum(len(t) for t in timings.values())
    return {
        "target": target,
        "shoppers": shoppers,
        "messages": done,
        "errors": errors,
        "seconds": round(elapsed, 1),
        "messages_per_s": round(done / elapsed, 1),
        "canned": latency_summary(timings["canned"]) if timings["canned"] else None,
        "faq": latency_summary(timings["faq"]) if timings["faq"] else None,
    }


def main() -> int:
    model = trained_model()
    if model is None:
        return 2
    work = fresh_work_dir("bench-load")
    env = {"STORE_DATABASE_URL": f"sqlite:///{work / 'store.db'}", **NO_RATE_LIMITS}
    tracker = f"sqlite:///{work / 'tracker.db'}"
    phases = []
    with Stack(model, free_port(), free_port(), free_port(), work, env, tracker) as stack:
        httpx.post(
            f"{stack.rasa_url}/webhooks/rest/webhook",
            json={"sender": "warm", "message": "do you ship to Canada?"},
            headers=stack.rasa_headers(),
            timeout=120,
        )
        for shoppers in CONCURRENCY:
            for target in ("gateway", "rasa_rest"):
                print(f"{target}: {shoppers} shoppers...", flush=True)
                phases.append(asyncio.run(phase(stack, target, shoppers)))
        memory = memory_mb(stack)
    results = {
        "phases": phases,
        "peak_memory_mb": memory,
        "script": [text for _, text in SCRIPT],
        "limits": {
            "messages_per_phase": MESSAGES_PER_PHASE,
            "seconds_per_phase": SECONDS_PER_PHASE,
        },
    }
    written = write_results("load", results, model)
    header = f"{'target':<10} {'shoppers':>8} {'msg/s':>7} {'errors':>6}"
    print(f"{header}   canned p50/p95/p99 ms   faq p50/p95/p99 ms")
    for p in phases:
        canned = p["canned"] or {}
        faq = p["faq"] or {}
        print(
            f"{p['target']:<10} {p['shoppers']:>8} {p['messages_per_s']:>7} {p['errors']:>6}   "
            f"{canned.get('p50_ms')}/{canned.get('p95_ms')}/{canned.get('p99_ms'):<12}"
            f"{faq.get('p50_ms')}/{faq.get('p95_ms')}/{faq.get('p99_ms')}"
        )
    print("peak memory (MB):", ", ".join(f"{k} {v}" for k, v in memory.items()))
    print(f"written: {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

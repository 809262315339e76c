"""Soak: minutes of mixed traffic through the gateway on loopback, then an audit.

Simulated shoppers (SOAK_SHOPPERS, 20 by default) keep starting conversations for
SOAK_SECONDS (180): order questions with verification, store questions, small talk, odd input
(emoji, other languages, markup, long text), and requests for a person. A simulated agent
works the console queue: takes each ticket, replies, resolves it.

Afterwards: every shopper message and agent reply is in the stored transcripts exactly once,
in order; no process died; and no process grew by more than MEMORY_BOUND_MB of resident
memory between the end of the warm-up (the first fifth) and the end. Prints the figures,
writes benchmarks/results/soak.json, and exits 1 if the audit fails.
"""

from __future__ import annotations

import asyncio
import os
import random
import sys
import time
from collections import defaultdict

import httpx
from sqlalchemy import select

from benchmarks.common import (
    NO_RATE_LIMITS,
    fresh_work_dir,
    memory_mb,
    print_table,
    trained_model,
    write_results,
)
from benchmarks.load import orders
from benchmarks.stats import latency_summary
from bot import staff
from bot.conversations import stored_id
from bot.stack import Stack, free_port
from bot.store.db import get_engine, session_scope
from bot.store.models import Message

SECONDS = float(os.environ.get("SOAK_SECONDS", 180))
SHOPPERS = int(os.environ.get("SOAK_SHOPPERS", 20))
MEMORY_BOUND_MB = 60.0
AGENT = ("soak-agent", "soak-agent-password-1")
SCRIPTS = {
    "order": ["hi", "where is my order {number}?", "{email}", "when will it arrive?", "thanks"],
    "faq": ["do you ship to Canada?", "how long do refunds take?", "👍", "bye"],
    "person": ["I want to talk to a person", "it's about order {number}", "are you there?"],
    "odd": [
        "¿Dónde está mi pedido {number}?",
        "🙂🙂🙂",
        "<script>alert(1)</script> ' OR 1=1 --",
        "please help " * 300,
        "Wo ist meine Bestellung?",
    ],
}
WEIGHTS = {"order": 4, "faq": 3, "person": 2, "odd": 2}


class Soak:
    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.sent: dict[str, list[str]] = defaultdict(list)  # conversation -> shopper texts
        self.replies: dict[str, list[str]] = defaultdict(list)  # conversation -> agent texts
        self.latencies: list[float] = []
        self.errors = 0
        self.handled_tickets = 0
        self.memory: list[tuple[float, dict[str, float]]] = []
        self.stop_at = time.monotonic() + SECONDS

    async def shopper(self, client: httpx.AsyncClient, n: int) -> None:
        rng = random.Random(n)
        known = orders()
        url = self.stack.gateway_url
        while time.monotonic() < self.stop_at:
            script = rng.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
            number, email = known[rng.randrange(len(known))]
            try:
                started = await client.post(f"{url}/api/conversations", json={"channel": "web"})
                started.raise_for_status()
            except httpx.HTTPError:
                self.errors += 1
                continue
            conversation = started.json()["conversation_id"]
            for template in SCRIPTS[script]:
                if time.monotonic() >= self.stop_at:
                    return
                text = template.format(number=number, email=email).strip()
                begin = time.perf_counter()
                try:
                    response = await client.post(
                        f"{url}/api/conversations/{conversation}/messages", json={"text": text}
                    )
                    response.raise_for_status()
                    self.sent[stored_id(conversation)].append(text)  # the store's name
                    self.latencies.append((time.perf_counter() - begin) * 1000)
                except httpx.HTTPError:
                    self.errors += 1
                await asyncio.sleep(rng.uniform(0.2, 1.5))  # reading, typing

    async def agent(self) -> None:
        base = self.stack.gateway_url
        headers = {"accept": "application/json"}
        async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers) as http:
            await http.post("/console/login", data={"username": AGENT[0], "password": AGENT[1]})
            csrf = {"x-csrf-token": (await http.get("/console/session")).json()["csrf_token"]}
            while time.monotonic() < self.stop_at:
                queue = (await http.get("/console", params={"queue": "open"})).json()["tickets"]
                for ticket in queue:
                    path = f"/console/tickets/{ticket['id']}"
                    text = f"Hi, this is support about ticket {ticket['id']}."
                    await http.post(f"{path}/assign", json={}, headers=csrf)
                    reply = await http.post(f"{path}/reply", json={"text": text}, headers=csrf)
                    if reply.status_code == 200:
                        self.replies[ticket["conversation_id"]].append(text)
                    else:
                        self.errors += 1
                    await http.post(f"{path}/resolve", json={}, headers=csrf)
                    self.handled_tickets += 1
                await asyncio.sleep(1.0)

    async def sample_memory(self) -> None:
        begin = time.monotonic()
        while time.monotonic() < self.stop_at:
            self.memory.append((time.monotonic() - begin, memory_mb(self.stack, "VmRSS")))
            await asyncio.sleep(5)
        self.memory.append((time.monotonic() - begin, memory_mb(self.stack, "VmRSS")))

    async def run(self) -> None:
        limits = httpx.Limits(max_connections=SHOPPERS + 5)
        async with httpx.AsyncClient(timeout=120, limits=limits) as client:
            await asyncio.gather(
                self.agent(),
                self.sample_memory(),
                *(self.shopper(client, n) for n in range(SHOPPERS)),
            )


def audit(sent: dict[str, list[str]], replies: dict[str, list[str]], engine) -> dict:
    """Compare what was sent (shopper texts, agent replies: by the store's conversation id)
    with what was stored, conversation by conversation."""
    stored: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    with session_scope(engine) as session:
        for cid, sender, text in session.execute(
            select(Message.conversation_id, Message.sender, Message.text).order_by(Message.id)
        ):
            stored[cid][sender].append(text)
    lost = duplicated = reordered = 0
    for expected, sender in ((sent, "shopper"), (replies, "agent")):
        for cid, texts in expected.items():
            got = stored[cid][sender]
            lost += sum(max(0, texts.count(t) - got.count(t)) for t in set(texts))
            duplicated += sum(max(0, got.count(t) - texts.count(t)) for t in set(got))
            if got != texts:
                reordered += 1
    return {
        "conversations": len(sent),
        "shopper_messages": sum(len(t) for t in sent.values()),
        "agent_replies": sum(len(t) for t in replies.values()),
        "bot_messages": sum(len(s["bot"]) for s in stored.values()),
        "lost": lost,
        "duplicated": duplicated,
        "conversations_out_of_order": reordered,
    }


def growth(samples: list[tuple[float, dict[str, float]]]) -> dict[str, dict[str, float]]:
    warm = next(m for t, m in samples if t >= SECONDS / 5)
    end = samples[-1][1]
    return {
        name: {
            "after_warm_up_mb": warm[name],
            "end_mb": end[name],
            "growth_mb": end[name] - warm[name],
        }
        for name in end
        if name in warm
    }


def main() -> int:
    model = trained_model()
    if model is None:
        return 2
    work = fresh_work_dir("bench-soak")
    db_url = f"sqlite:///{work / 'store.db'}"
    env = {"STORE_DATABASE_URL": db_url, **NO_RATE_LIMITS}
    engine = get_engine(db_url)
    staff.create_user(*AGENT, engine)
    tracker = f"sqlite:///{work / 'tracker.db'}"
    with Stack(model, free_port(), free_port(), free_port(), work, env, tracker) as stack:
        httpx.post(
            f"{stack.rasa_url}/webhooks/rest/webhook",
            json={"sender": "warm", "message": "hi"},
            headers=stack.rasa_headers(),
            timeout=120,
        )
        print(f"soak: {SHOPPERS} shoppers for {SECONDS:.0f} s...", flush=True)
        soak = Soak(stack)
        started = time.perf_counter()
        asyncio.run(soak.run())
        elapsed = time.perf_counter() - started
        time.sleep(2)  # the last replies are stored
        alive = {name: p.poll() is None for name, p in stack.processes.items()}
    figures = audit(soak.sent, soak.replies, engine)
    memory = growth(soak.memory)
    passed = (
        figures["lost"] == 0
        and figures["duplicated"] == 0
        and figures["conversations_out_of_order"] == 0
        and all(alive.values())
        and all(m["growth_mb"] <= MEMORY_BOUND_MB for m in memory.values())
    )
    results = {
        **figures,
        "http_errors": soak.errors,
        "tickets_handled": soak.handled_tickets,
        "seconds": round(elapsed, 1),
        "shopper_messages_per_s": round(figures["shopper_messages"] / elapsed, 2),
        "latency": latency_summary(soak.latencies) if soak.latencies else None,
        "memory_rss": memory,
        "memory_bound_mb": MEMORY_BOUND_MB,
        "processes_alive": alive,
        "passed": passed,
        "shoppers": SHOPPERS,
    }
    written = write_results("soak", results, model)
    latency = results["latency"] or {}
    print_table(
        [
            ("conversations", str(figures["conversations"])),
            (
                "shopper messages",
                f"{figures['shopper_messages']} ({results['shopper_messages_per_s']}/s)",
            ),
            ("agent replies / tickets", f"{figures['agent_replies']} / {soak.handled_tickets}"),
            (
                "lost / duplicated / out of order",
                f"{figures['lost']} / {figures['duplicated']} / "
                f"{figures['conversations_out_of_order']}",
            ),
            ("HTTP errors", str(soak.errors)),
            (
                "reply p50 / p95 / p99 ms",
                f"{latency.get('p50_ms')} / {latency.get('p95_ms')} / {latency.get('p99_ms')}",
            ),
            *(
                (
                    f"RSS {name} MB (warm -> end)",
                    f"{m['after_warm_up_mb']} -> {m['end_mb']} "
                    f"({m['growth_mb']:+.1f}, bound {MEMORY_BOUND_MB:.0f})",
                )
                for name, m in memory.items()
            ),
            ("processes alive", ", ".join(f"{k} {v}" for k, v in alive.items())),
            ("audit", "passed" if passed else "FAILED"),
        ]
    )
    print(f"written: {written}")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())

"""Gateway overhead: the same conversations sent through the gateway and straight to Rasa's
REST channel, message by message in turn, on one running stack, so both see the same load.
Then the store questions alone (issue #19): FAQ answers one at a time on the idle stack, in
English, Turkish and Hebrew, each the first message of a new conversation, through Rasa's REST
channel and through the gateway.

Run with `make bench`; prints a table and writes benchmarks/results/gateway.json.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
import yaml

from benchmarks.common import NO_RATE_LIMITS, fresh_work_dir, trained_model, write_results
from benchmarks.foundation import conversation_script
from benchmarks.stats import latency_summary
from bot.settings import PROJECT_ROOT
from bot.stack import Stack, free_port

MESSAGES = 300  # per path
# Store questions the FAQ answers outright, in three languages and scripts (Hebrew: the one
# use-m3 cannot read, scored by e5 alone).
FAQ_QUESTIONS = [
    "do you ship to canada?",
    "how much does shipping cost?",
    "can I pay with paypal?",
    "what is your return policy?",
    "Kanada'ya gönderim yapıyor musunuz?",
    "Kargo ücreti ne kadar?",
    "İade politikanız nedir?",
    "אתם שולחים לקנדה?",
    "כמה עולה המשלוח?",
    "מה מדיניות ההחזרות שלכם?",
]
FAQ_ROUNDS = 6  # each question this many times per path


def measure(model: Path, work: Path, messages: int = MESSAGES) -> dict:
    seed = yaml.safe_load((PROJECT_ROOT / "data" / "shop" / "seed.yml").read_text())
    emails = {c["id"]: c["email"] for c in seed["customers"]}
    orders = [(o["number"], emails[o["customer"]]) for o in seed["orders"]]
    env = {"STORE_DATABASE_URL": f"sqlite:///{work / 'store.db'}", **NO_RATE_LIMITS}
    tracker = f"sqlite:///{work / 'tracker.db'}"
    timings: dict[str, list[float]] = {"gateway": [], "rasa_rest": []}
    with (
        Stack(model, free_port(), free_port(), free_port(), work, env, tracker) as stack,
        httpx.Client(timeout=60) as client,
    ):

        def timed(path: str, url: str, body: dict, headers: dict | None = None) -> None:
            started = time.perf_counter()
            client.post(url, json=body, headers=headers).raise_for_status()
            timings[path].append((time.perf_counter() - started) * 1000)

        rasa = f"{stack.rasa_url}/webhooks/rest/webhook"
        key = stack.rasa_headers()
        warm = client.post(rasa, json={"sender": "warm-up", "message": "hi"}, headers=key)
        warm.raise_for_status()
        turn = 0
        while len(timings["gateway"]) < messages:
            number, email = orders[turn % len(orders)]
            cid = client.post(f"{stack.gateway_url}/api/conversations").json()["conversation_id"]
            gateway = f"{stack.gateway_url}/api/conversations/{cid}/messages"
            for text in conversation_script(number, email):
                if len(timings["gateway"]) == messages:
                    break
                timed("gateway", gateway, {"text": text})
                timed("rasa_rest", rasa, {"sender": f"direct-{turn}", "message": text}, key)
            turn += 1
        faq = faq_latency(client, stack)
    through, direct = latency_summary(timings["gateway"]), latency_summary(timings["rasa_rest"])
    return {
        "gateway": through,
        "rasa_rest": direct,
        "overhead_p50_ms": round(through["p50_ms"] - direct["p50_ms"], 1),
        "overhead_p95_ms": round(through["p95_ms"] - direct["p95_ms"], 1),
        "mix": "7-turn conversations (greet, order status, verification by email, ETA, "
        "off-topic, thanks, bye); each message sent through the gateway and then straight to "
        "Rasa, sequential, one client, SQLite store and tracker",
        "faq_answer": faq,
    }


def faq_latency(client: httpx.Client, stack: Stack, rounds: int = FAQ_ROUNDS) -> dict:
    """FAQ answers one at a time: each question as a new conversation's first message, straight
    to Rasa's REST channel and then through the gateway (a new conversation, not timed)."""
    rasa, key = f"{stack.rasa_url}/webhooks/rest/webhook", stack.rasa_headers()
    timings: dict[str, list[float]] = {"rasa_rest": [], "gateway": []}
    answered = {"rasa_rest": 0, "gateway": 0}
    for round_ in range(rounds):
        for number, question in enumerate(FAQ_QUESTIONS):
            started = time.perf_counter()
            reply = client.post(
                rasa, json={"sender": f"faq-{round_}-{number}", "message": question}, headers=key
            )
            timings["rasa_rest"].append((time.perf_counter() - started) * 1000)
            reply.raise_for_status()
            outcomes = [(m.get("custom") or {}).get("outcome") or {} for m in reply.json()]
            answered["rasa_rest"] += any(o.get("outcome") == "faq_answer" for o in outcomes)
            cid = client.post(f"{stack.gateway_url}/api/conversations").json()["conversation_id"]
            started = time.perf_counter()
            reply = client.post(
                f"{stack.gateway_url}/api/conversations/{cid}/messages", json={"text": question}
            )
            timings["gateway"].append((time.perf_counter() - started) * 1000)
            reply.raise_for_status()
            buttons = [b for m in reply.json()["messages"] for b in m.get("buttons") or []]
            # An answer ends with "Did that help?" and its yes/no.
            answered["gateway"] += any(b.get("payload") == "/affirm" for b in buttons)
    return {
        **{path: latency_summary(found) for path, found in timings.items()},
        "answered": answered,
        "questions": len(FAQ_QUESTIONS),
        "mix": f"{len(FAQ_QUESTIONS)} store questions (en, tr, he), {rounds} rounds, each the "
        "first message of a new conversation, one at a time on the idle stack",
    }


def main() -> int:
    model = trained_model()
    if model is None:
        return 2
    work = fresh_work_dir("bench-gateway")
    print(f"Gateway overhead: {MESSAGES} messages each way...", flush=True)
    results = measure(model, work)
    written = write_results("gateway", results, model)
    rows = [(name, results[name]) for name in ("gateway", "rasa_rest")]
    rows.append(
        ("overhead", {"p50_ms": results["overhead_p50_ms"], "p95_ms": results["overhead_p95_ms"]})
    )
    for name, r in rows:
        figures = "   ".join(
            f"{k[:3]} {r[k]:>6} ms" for k in ("p50_ms", "p95_ms", "p99_ms") if k in r
        )
        print(f"{name:<10} {figures}")
    faq = results["faq_answer"]
    for path in ("rasa_rest", "gateway"):
        r = faq[path]
        print(f"FAQ answer via {path:<10} p50 {r['p50_ms']:>6} ms   p95 {r['p95_ms']:>6} ms")
    print(f"written: {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

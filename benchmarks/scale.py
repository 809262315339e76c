"""Scale (issue #19): one against two Rasa servers, one against two gateways, on this machine.

Set-ups, each a fresh stack on Redis (the gateways' shared state, Rasa's lock store) and
PostgreSQL (the store and Rasa's trackers, one new database each per set-up), so every set-up
runs like for like: 1 Rasa + 1 gateway, 2 Rasa + 1 gateway, 2 Rasa + 2 gateways (nginx in
front) and 1 Rasa + 2 gateways. Each Rasa server (and its action server) and each gateway is
warmed up first. Then benchmarks/load.py's shoppers, at 10 and 50 at once, through the
gateway(s) and straight to Rasa's REST channel (each conversation to the Rasa server the
gateway would pick), each phase bounded in messages and seconds; rate limits off.

Per phase: messages/s, errors, p50/p95/p99 of order answers and store questions, and the CPU
seconds each process (with its children: Sanic's worker, nginx's) used, Redis and PostgreSQL
included, and what the rest of the machine used meanwhile. Per set-up: the peak memory of each
process (with its children), and an audit through the gateways: every message a shopper sent
stored exactly once and in order (benchmarks/soak.py's audit), every bot answer the shopper
got stored, no answer saying the assistant was unavailable or failed.

Prints a table and the ratios the issue's targets name (met or not: the benchmark is never
tuned to meet them); writes benchmarks/results/scale.json. `SCALE_SETUPS=1r1g,2r1g` runs
only those set-ups, `SCALE_MESSAGES` bounds a phase in messages (400 by default).

Run with `python -m benchmarks.scale` (needs SA_MODEL).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy import Engine, select

from benchmarks import load
from benchmarks.common import (
    NO_RATE_LIMITS,
    cpu_seconds,
    fresh_work_dir,
    machine_busy_seconds,
    memory_mb,
    trained_model,
    write_results,
)
from benchmarks.soak import audit
from bot import replies
from bot.redis_server import RedisServer
from bot.stack import Stack, free_port
from bot.store.db import get_engine, session_scope
from bot.store.models import Message
from tests.postgres_server import PostgresServer


@dataclass(frozen=True)
class Setup:
    key: str
    rasa: int
    gateways: int

    @property
    def label(self) -> str:
        return f"{self.rasa} Rasa + {self.gateways} gateway{'s' if self.gateways > 1 else ''}"


SETUPS = (Setup("1r1g", 1, 1), Setup("2r1g", 2, 1), Setup("2r2g", 2, 2), Setup("1r2g", 1, 2))
CONCURRENCY = (10, 50)
TARGETS = ("gateway", "rasa_rest")
MESSAGES_PER_PHASE = int(os.environ.get("SCALE_MESSAGES", 400))
SECONDS_PER_PHASE = 45.0
# The targets.
GATEWAY_SHARE = 0.9  # gateway messages/s at least this share of Rasa REST's
ORDER_P50_MS_AT_10 = 300.0
TWO_RASA_GAIN = 1.4
# What the gateway says instead of the assistant's answer when something failed.
DEGRADED = {
    replies.UNAVAILABLE: "unavailable (no Rasa server answered within the gateway's timeout)",
    replies.SOMETHING_WENT_WRONG: "something went wrong (an action failed)",
    replies.SLOW_DOWN: "slow down (a rate limit)",
    replies.STORE_DOWN: "store down",
    replies.NOT_STORED: "not stored (a flood limit)",
}


def selected() -> list[Setup]:
    wanted = os.environ.get("SCALE_SETUPS", "")
    keys = [k.strip() for k in wanted.split(",") if k.strip()]
    return [s for s in SETUPS if not keys or s.key in keys]


def warm_up(stack: Stack) -> None:
    """One order dialogue and a store question on every Rasa server (and so its action
    server), then on every gateway: nothing measured pays for a first request."""
    number, email = load.orders()[0]
    texts = (f"where is my order {number}?", email, "do you ship to Canada?")
    with httpx.Client(timeout=120) as client:
        for index, url in enumerate(stack.rasa_urls):
            for text in texts:
                client.post(
                    f"{url}/webhooks/rest/webhook",
                    json={"sender": f"warm-{index}", "message": text},
                    headers=stack.rasa_headers(),
                ).raise_for_status()
        for url in stack.gateway_urls:
            started = client.post(f"{url}/api/conversations")
            started.raise_for_status()
            conversation = started.json()["conversation_id"]
            for text in texts:
                client.post(
                    f"{url}/api/conversations/{conversation}/messages", json={"text": text}
                ).raise_for_status()


def measured(
    stack: Stack, others: dict[str, int], target: str, shoppers: int, log: load.Transcripts
) -> dict:
    """One load phase, with the CPU each process used during it and, through the gateway,
    the answers that said something failed (they count as messages in msg/s)."""
    own = load.Transcripts()
    pids = {name: process.pid for name, process in stack.processes.items()} | others
    before, machine = cpu_seconds(pids), machine_busy_seconds()
    client = cpu_seconds({"client": os.getpid()}, tree=False)
    result = asyncio.run(
        load.phase(
            stack,
            target,
            shoppers,
            messages=MESSAGES_PER_PHASE,
            seconds=SECONDS_PER_PHASE,
            transcripts=own if target == "gateway" else None,
        )
    )
    after = cpu_seconds(pids) | cpu_seconds({"client": os.getpid()}, tree=False)
    used = {  # a process that died meanwhile: what it used is lost with it
        name: round(after.get(name, start) - start, 2) for name, start in (before | client).items()
    }
    ours = sum(used.values())
    busy = machine_busy_seconds() - machine
    if target == "gateway":
        answers = [a for said in own.answers.values() for a in said]
        result["failure_answers"] = sum(a["text"] in DEGRADED for a in answers)
    log.sent.update(own.sent)  # new conversations in every phase
    log.answers.update(own.answers)
    result["cpu_s"] = used
    result["cpu_s_ours"] = round(ours, 1)  # of 2 x seconds on two cores
    result["cpu_s_others"] = round(max(0.0, busy - ours), 1)  # other people's programs
    result["cpu_ms_per_message"] = {
        name: round(1000 * s / max(1, result["messages"]), 1) for name, s in used.items()
    }
    return result


def bot_answers_missing(log: load.Transcripts, engine: Engine) -> dict:
    """Every bot message the gateway returned, stored as returned (same id, conversation and
    text) and in the order returned; and how many said the assistant failed."""
    with session_scope(engine) as session:
        stored = {
            mid: (cid, text)
            for mid, cid, text in session.execute(
                select(Message.id, Message.conversation_id, Message.text).where(
                    Message.sender == "bot"
                )
            )
        }
    missing = reordered = 0
    degraded: dict[str, int] = {}
    for cid, answers in log.answers.items():
        ids = [answer["id"] for answer in answers]
        missing += sum(stored.get(a["id"]) != (cid, a["text"]) for a in answers)
        reordered += ids != sorted(ids)
        for answer in answers:
            if answer["text"] in DEGRADED:
                what = DEGRADED[answer["text"]]
                degraded[what] = degraded.get(what, 0) + 1
    return {
        "bot_answers_received": sum(len(a) for a in log.answers.values()),
        "bot_answers_not_stored": missing,
        "conversations_bot_answers_out_of_order": reordered,
        "failure_answers": sum(degraded.values()),
        "failure_answers_by_kind": degraded,
    }


def run_setup(setup: Setup, model: Path, work: Path, postgres: PostgresServer) -> dict:
    store_url = postgres.create_database(f"store_{setup.key}")
    tracker_url = postgres.create_database(f"tracker_{setup.key}")
    engine = get_engine(store_url)  # schema and demo shop before any process starts
    redis_dir = work / f"redis-{setup.key}"
    shutil.rmtree(redis_dir, ignore_errors=True)
    log = load.Transcripts()
    phases = []
    with RedisServer(redis_dir) as redis:
        stack = Stack(
            model,
            free_port(),
            free_port(),
            free_port(),
            work / setup.key,
            {"STORE_DATABASE_URL": store_url, **NO_RATE_LIMITS},
            tracker_url,
            rasa_replicas=setup.rasa,
            gateways=setup.gateways,
            redis_url=redis.url,
        )
        print(f"{setup.label}: starting...", flush=True)
        with stack:
            warm_up(stack)
            others = {"redis": redis.process.pid, "postgres": postmaster_pid(postgres)}
            for shoppers in CONCURRENCY:
                for target in TARGETS:
                    print(f"  {target}: {shoppers} shoppers...", flush=True)
                    phases.append(measured(stack, others, target, shoppers, log))
            memory = memory_mb(stack, tree=True)
            alive = {name: p.poll() is None for name, p in stack.processes.items()}
    figures = audit(log.sent, {}, engine) | bot_answers_missing(log, engine)
    engine.dispose()
    figures.pop("agent_replies")
    return {
        "setup": setup.key,
        "label": setup.label,
        "rasa_servers": setup.rasa,
        "gateways": setup.gateways,
        "phases": phases,
        "peak_memory_mb": memory,
        "processes_alive": alive,
        "audit": figures,
    }


def postmaster_pid(postgres: PostgresServer) -> int:
    return int((postgres.data / "postmaster.pid").read_text().split()[0])


def phase_of(results: list[dict], key: str, target: str, shoppers: int) -> dict | None:
    for setup in results:
        if setup["setup"] == key:
            for p in setup["phases"]:
                if p["target"] == target and p["shoppers"] == shoppers:
                    return p
    return None


def ratio(a: dict | None, b: dict | None) -> float | None:
    if a is None or b is None or not b["messages_per_s"]:
        return None
    return round(a["messages_per_s"] / b["messages_per_s"], 2)


def targets(results: list[dict]) -> list[dict]:
    """Each figure a target names: its value, the target, met or not."""
    checks = []
    for setup in results:
        for shoppers in CONCURRENCY:
            gateway = phase_of(results, setup["setup"], "gateway", shoppers)
            rest = phase_of(results, setup["setup"], "rasa_rest", shoppers)
            value = ratio(gateway, rest)
            checks.append(
                {
                    "what": f"{setup['setup']} gateway / Rasa REST msg/s, {shoppers} shoppers",
                    "value": value,
                    "target": f">= {GATEWAY_SHARE}",
                    "met": value is not None and value >= GATEWAY_SHARE,
                }
            )
        p50 = ((phase_of(results, setup["setup"], "gateway", 10) or {}).get("canned") or {}).get(
            "p50_ms"
        )
        checks.append(
            {
                "what": f"{setup['setup']} order answer p50 ms through the gateway, 10 shoppers",
                "value": p50,
                "target": f"<= {ORDER_P50_MS_AT_10:.0f}",
                "met": p50 is not None and p50 <= ORDER_P50_MS_AT_10,
            }
        )
    for two, one in (("2r1g", "1r1g"), ("2r2g", "1r2g")):
        for target in TARGETS:
            for shoppers in CONCURRENCY:
                value = ratio(
                    phase_of(results, two, target, shoppers),
                    phase_of(results, one, target, shoppers),
                )
                if value is not None:
                    checks.append(
                        {
                            "what": f"{two} / {one} msg/s, {target}, {shoppers} shoppers",
                            "value": value,
                            "target": f">= {TWO_RASA_GAIN}",
                            "met": value >= TWO_RASA_GAIN,
                        }
                    )
    errors = sum(p["errors"] for s in results for p in s["phases"])
    failed = sum(
        s["audit"][k]
        for s in results
        for k in (
            "lost",
            "duplicated",
            "conversations_out_of_order",
            "bot_answers_not_stored",
            "conversations_bot_answers_out_of_order",
            "failure_answers",
        )
    )
    died = sum(not alive for s in results for alive in s["processes_alive"].values())
    checks.append(
        {
            "what": "errors: HTTP, failure answers, audit misses, processes died",
            "value": errors + failed + died,
            "target": "0",
            "met": errors + failed + died == 0,
        }
    )
    return checks


def gateway_gains(results: list[dict]) -> list[dict]:
    """Two gateways against one (no target: what the second gateway adds on this machine)."""
    gains = []
    for two, one in (("2r2g", "2r1g"), ("1r2g", "1r1g")):
        for shoppers in CONCURRENCY:
            value = ratio(
                phase_of(results, two, "gateway", shoppers),
                phase_of(results, one, "gateway", shoppers),
            )
            if value is not None:
                gains.append(
                    {"what": f"{two} / {one} gateway msg/s, {shoppers} shoppers", "value": value}
                )
    return gains


def kind(name: str) -> str:
    return name.partition("-")[0]


def cpu_split(setup: dict, target: str) -> tuple[dict[str, float], float, float]:
    """CPU ms per message by kind of process over the set-up's `target` phases; our CPU
    seconds and the rest of the machine's."""
    phases = [p for p in setup["phases"] if p["target"] == target]
    messages = max(1, sum(p["messages"] for p in phases))
    split: dict[str, float] = {}
    for p in phases:
        for name, seconds in p["cpu_s"].items():
            split[kind(name)] = split.get(kind(name), 0.0) + seconds
    ours = sum(split.values())
    others = sum(p["cpu_s_others"] for p in phases)
    return {k: round(1000 * s / messages, 1) for k, s in split.items()}, ours, others


def report(results: list[dict], checks: list[dict], gains: list[dict]) -> None:
    print(
        f"\n{'set-up':<6} {'target':<10} {'shoppers':>8} {'msg/s':>6} {'errors':>6} "
        f"{'failed':>6}   "
        f"{'canned p50/p95 ms':<20} faq p50/p95 ms"
    )
    for setup in results:
        for p in setup["phases"]:
            canned = p["canned"] or {}
            faq = p["faq"] or {}
            print(
                f"{setup['setup']:<6} {p['target']:<10} {p['shoppers']:>8} "
                f"{p['messages_per_s']:>6} {p['errors']:>6} {p.get('failure_answers', '-'):>6}   "
                f"{str(canned.get('p50_ms')) + '/' + str(canned.get('p95_ms')):<20} "
                f"{faq.get('p50_ms')}/{faq.get('p95_ms')}"
            )
    print("\ntargets:")
    for check in checks:
        met = "met" if check["met"] else "NOT met"
        print(f"  {check['what']:<62} {check['value']!s:>7}  ({check['target']}: {met})")
    for gain in gains:
        print(f"  {gain['what']:<62} {gain['value']!s:>7}  (no target)")
    print("\nCPU ms per message, by process (gateway phases; Rasa REST phases), others' CPU s:")
    for setup in results:
        for target in TARGETS:
            split, ours, others = cpu_split(setup, target)
            parts = ", ".join(f"{k} {v}" for k, v in sorted(split.items(), key=lambda i: -i[1]))
            line = f"  {setup['setup']} {target:<10} {parts}"
            print(f"{line}; ours {ours:.0f} s, others {others:.0f} s")
    print("\npeak memory MB (with children):")
    for setup in results:
        print(
            f"  {setup['setup']}: "
            + ", ".join(f"{k} {v}" for k, v in setup["peak_memory_mb"].items())
        )
    print(
        "\naudit through the gateways (shopper messages lost/duplicated/out of order; "
        "bot answers not stored; failure answers):"
    )
    for setup in results:
        a = setup["audit"]
        print(
            f"  {setup['setup']}: {a['conversations']} conversations, {a['shopper_messages']} "
            f"shopper messages: {a['lost']}/{a['duplicated']}/{a['conversations_out_of_order']}; "
            f"{a['bot_answers_received']} bot answers: {a['bot_answers_not_stored']} not stored, "
            f"{a['conversations_bot_answers_out_of_order']} out of order; "
            f"{a['failure_answers']} failure answers {a['failure_answers_by_kind'] or ''}; "
            "all alive: "
            f"{all(setup['processes_alive'].values())}"
        )


def main() -> int:
    model = trained_model()
    if model is None:
        return 2
    work = fresh_work_dir("bench-scale")
    started = time.monotonic()
    postgres = PostgresServer()
    results = []
    try:
        for setup in selected():
            results.append(run_setup(setup, model, work, postgres))
    finally:
        postgres.stop(check=False)
        shutil.rmtree(postgres.data, ignore_errors=True)
    checks = targets(results)
    gains = gateway_gains(results)
    written = write_results(
        "scale",
        {
            "setups": results,
            "targets": checks,
            "two_gateways_against_one": gains,
            "script": [text for _, text in load.SCRIPT],
            "limits": {
                "messages_per_phase": MESSAGES_PER_PHASE,
                "seconds_per_phase": SECONDS_PER_PHASE,
            },
            "store_and_trackers": "PostgreSQL",
            "shared_state_and_lock_store": "Redis",
            "seconds": round(time.monotonic() - started),
        },
        model,
    )
    report(results, checks, gains)
    print(f"\nwritten: {written} ({time.monotonic() - started:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Foundation benchmark: held-out intent accuracy and macro-F1 on our own NLU data, full
training time (cold and unchanged), and REST latency over 200 messages to a running server.

Run with `make bench`; prints a table and writes benchmarks/results/foundation.json.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import httpx
import yaml

from benchmarks.common import print_table, trained_model, write_results
from benchmarks.stats import latency_summary
from bot.settings import PROJECT_ROOT
from bot.stack import RASA_BIN, Stack, free_port

NLU_FILES = sorted((PROJECT_ROOT / "data" / "nlu").glob("*.yml")) + sorted(
    (PROJECT_ROOT / "data" / "nlu" / "languages").glob("*.yml")
)
RULE_FILES = [PROJECT_ROOT / "data" / "rules.yml", PROJECT_ROOT / "data" / "stories.yml"]
ENV = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "PYTHONPATH": str(PROJECT_ROOT)}
HELD_OUT_SHARE = 0.2


def split_nlu(out: Path, seed: int = 13) -> tuple[Path, Path, int]:
    """Stratified split of our NLU examples (per intent), keeping regexes in training."""
    train, test = [], []
    for path in NLU_FILES:
        for block in yaml.safe_load(path.read_text())["nlu"]:
            if "intent" not in block:
                train.append(block)
                continue
            examples = [line[2:] for line in block["examples"].splitlines() if line.strip()]
            random.Random(f"{seed}-{block['intent']}").shuffle(examples)
            cut = max(1, round(len(examples) * HELD_OUT_SHARE))
            for part, rows in ((test, examples[:cut]), (train, examples[cut:])):
                part.append(
                    {"intent": block["intent"], "examples": "".join(f"- {row}\n" for row in rows)}
                )
    paths = []
    for name, blocks in (("train", train), ("test", test)):
        path = out / f"nlu-{name}.yml"
        path.write_text(yaml.safe_dump({"version": "3.1", "nlu": blocks}, sort_keys=False))
        paths.append(path)
    held_out = sum(len(b["examples"].splitlines()) for b in test)
    return paths[0], paths[1], held_out


def held_out_accuracy(work: Path) -> dict:
    train, test, count = split_nlu(work)
    subprocess.run(
        [
            str(RASA_BIN),
            "train",
            "nlu",
            "--nlu",
            str(train),
            "-c",
            "config.yml",
            "--out",
            str(work),
            "--fixed-model-name",
            "heldout",
        ],
        cwd=PROJECT_ROOT,
        env=ENV,
        check=True,
        capture_output=True,
    )
    if not (work / "heldout.tar.gz").is_file():  # rasa test would fall back to another model
        raise RuntimeError("training the held-out NLU model produced no model")
    subprocess.run(
        [
            str(RASA_BIN),
            "test",
            "nlu",
            "-m",
            str(work / "heldout.tar.gz"),
            "--nlu",
            str(test),
            "--out",
            str(work / "nlu-results"),
        ],
        cwd=PROJECT_ROOT,
        env=ENV,
        check=True,
        capture_output=True,
    )
    report = json.loads((work / "nlu-results" / "intent_report.json").read_text())
    return {
        "held_out_examples": count,
        "accuracy": round(report["accuracy"], 4),
        "macro_f1": round(report["macro avg"]["f1-score"], 4),
        "note": "nlu_fallback predictions count as errors",
    }


def training_times(work: Path) -> dict:
    """Cold: an empty Rasa cache and no model. Unchanged: `make train` with the model there."""
    env = {**ENV, "RASA_CACHE_DIRECTORY": str(work / "empty-cache")}
    data = [str(p) for p in NLU_FILES + RULE_FILES]
    started = time.perf_counter()
    subprocess.run(
        [str(RASA_BIN), "train", "--data", *data, "--out", str(work / "cold"), "--force"],
        cwd=PROJECT_ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    cold = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run(["make", "-s", "train"], cwd=PROJECT_ROOT, check=True, capture_output=True)
    unchanged = time.perf_counter() - started
    return {"cold_s": round(cold, 1), "unchanged_s": round(unchanged, 2)}


def conversation_script(order_number: str, email: str) -> list[str]:
    return [
        "hi",
        f"where is my order #{order_number}?",
        email,
        "when will it arrive?",
        "what's the weather tomorrow",
        "thanks",
        "bye",
    ]


def rest_latency(model: Path, work: Path, messages: int = 200) -> dict:
    seed = yaml.safe_load((PROJECT_ROOT / "data" / "shop" / "seed.yml").read_text())
    emails = {c["id"]: c["email"] for c in seed["customers"]}
    orders = [(o["number"], emails[o["customer"]]) for o in seed["orders"]]
    timings: list[float] = []
    env = {"STORE_DATABASE_URL": f"sqlite:///{work / 'bench-store.db'}"}
    with (
        Stack(model, free_port(), free_port(), None, log_dir=work, env=env) as stack,
        httpx.Client(timeout=60, headers=stack.rasa_headers()) as client,
    ):
        url = f"{stack.rasa_url}/webhooks/rest/webhook"
        client.post(url, json={"sender": "warm-up", "message": "hi"}).raise_for_status()
        turn = 0
        while len(timings) < messages:
            number, email = orders[turn % len(orders)]
            for text in conversation_script(number, email):
                if len(timings) == messages:
                    break
                started = time.perf_counter()
                response = client.post(url, json={"sender": f"bench-{turn}", "message": text})
                response.raise_for_status()
                timings.append((time.perf_counter() - started) * 1000)
            turn += 1
    return {
        **latency_summary(timings),
        "mix": "7-turn conversations: greet, order status with number, verification by email "
        "(database), ETA, off-topic, thanks, bye; sequential, one client",
    }


def main() -> int:
    model = trained_model()
    if model is None:
        return 2
    results: dict = defaultdict(dict)
    work = PROJECT_ROOT / "var" / "bench"  # kept for inspection (nlu-results/intent_errors.json)
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    print("NLU held-out split: training and testing...", flush=True)
    results["nlu_held_out"] = held_out_accuracy(work)
    print("Training time (cold cache)...", flush=True)
    results["training"] = training_times(work)
    print("REST latency: 200 messages...", flush=True)
    results["rest_latency"] = rest_latency(model, work)
    written = write_results("foundation", results, model)

    nlu, train, rest = results["nlu_held_out"], results["training"], results["rest_latency"]
    rows = [
        (
            "intent accuracy (held-out, own data)",
            f"{nlu['accuracy']:.3f} on {nlu['held_out_examples']}",
        ),
        ("intent macro-F1 (held-out, own data)", f"{nlu['macro_f1']:.3f}"),
        ("training, cold", f"{train['cold_s']} s"),
        ("training, unchanged inputs", f"{train['unchanged_s']} s"),
        ("REST latency p50 / p95", f"{rest['p50_ms']} / {rest['p95_ms']} ms"),
    ]
    print_table(rows)
    print(f"written: {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`bot faq eval`: retrieval quality and decisions on a CSV of `query,expected_id` rows
(an empty expected_id means the question should not be answered)."""

from __future__ import annotations

import csv
import time
from collections import Counter
from pathlib import Path

from bot.faq.decide import Calibration, decide
from bot.faq.index import FaqIndex


def read_queries(path: Path) -> list[tuple[str, str]]:
    with Path(path).open(encoding="utf-8", newline="") as file:
        reader = csv.DictReader(file)
        if not reader.fieldnames or not {"query", "expected_id"} <= set(reader.fieldnames):
            raise ValueError(f"{path}: needs the columns query,expected_id")
        return [(row["query"], (row["expected_id"] or "").strip()) for row in reader]


def evaluate(
    index: FaqIndex,
    queries: list[tuple[str, str]],
    calibration: Calibration,
) -> dict:
    hits1 = hits3 = 0
    reciprocal = 0.0
    wrong_answers = answered_in_scope_wrong = 0
    decisions: Counter[str] = Counter()
    latencies = []
    in_scope = [q for q in queries if q[1]]
    out_of_scope = [q for q in queries if not q[1]]
    for query, expected in queries:
        started = time.perf_counter()
        matches = index.search(query, 5)
        latencies.append((time.perf_counter() - started) * 1000)
        decision = decide(matches, calibration)
        decisions[decision.kind] += 1
        ids = [m.entry.id for m in matches]
        if expected:
            hits1 += ids[:1] == [expected]
            hits3 += expected in ids[:3]
            reciprocal += 1 / (ids.index(expected) + 1) if expected in ids else 0
            answered_in_scope_wrong += decision.kind == "answer" and ids[0] != expected
        else:
            wrong_answers += decision.kind == "answer"
    latencies.sort()
    n = len(in_scope)
    return {
        "queries": len(queries),
        "in_scope": n,
        "hit@1": round(hits1 / n, 4) if n else None,
        "hit@3": round(hits3 / n, 4) if n else None,
        "mrr": round(reciprocal / n, 4) if n else None,
        "wrong_answer_rate_off_topic": round(wrong_answers / len(out_of_scope), 4)
        if out_of_scope
        else None,
        "wrong_answer_rate_in_scope": round(answered_in_scope_wrong / n, 4) if n else None,
        "decisions": dict(decisions),
        "latency_ms_p50": round(latencies[len(latencies) // 2], 2) if latencies else None,
        "latency_ms_p95": round(latencies[max(0, int(len(latencies) * 0.95) - 1)], 2)
        if latencies
        else None,
    }

"""The FAQ on data nobody here wrote: Bitext's customer-service development split (../shared).

For each of Bitext's 27 intents, one FAQ entry answers it (benchmarks/faq/bitext-answers.yml,
our own words); 1, then 3, development utterances per intent, drawn with a fixed seed, are the
entry's question and alternatives, and the remaining development utterances are the queries,
with CLINC150's `oos_val` and its off-domain `val` queries as off-topic ones. Every candidate
configuration runs on the same FAQs and queries, beside the plainest baseline
(all-MiniLM-L6-v2 + faiss over the phrasings). Part of benchmarks.faq (`make bench`).
"""

from __future__ import annotations

import csv
import json
import random
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import yaml

from benchmarks.faq_calibrate import reliability
from bot.faq.decide import calibration, decide
from bot.faq.encoders import get_encoder
from bot.faq.index import FaqIndex
from bot.settings import PROJECT_ROOT

EVAL = PROJECT_ROOT.parent / "shared" / "eval"
ANSWERS = Path(__file__).parent / "faq" / "bitext-answers.yml"
SEED = 15
# CLINC150 intents that are ours (small talk, order status) or a shop's (`order`): not off-topic.
CLINC_NOT_OFF_TOPIC = {
    "greeting",
    "goodbye",
    "thank_you",
    "are_you_a_bot",
    "yes",
    "no",
    "order_status",
    "order",
}
# A ranker takes the query and, when its index encoded the queries in a batch, its vector.
Ranker = Callable[[str, "np.ndarray | None"], list[tuple[str, float]]]
TIMED = 200  # queries timed one at a time, as a shopper's would be


def bitext_by_intent() -> dict[str, list[str]]:
    by_intent: dict[str, list[str]] = defaultdict(list)
    with (EVAL / "bitext" / "dev.csv").open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            by_intent[row["intent"]].append(row["utterance"])
    return dict(by_intent)


def off_topic() -> list[str]:
    data = json.loads((EVAL / "clinc150" / "dev.json").read_text(encoding="utf-8"))
    chosen = [text for text, intent in data["val"] if intent not in CLINC_NOT_OFF_TOPIC]
    return chosen + [text for text, _ in data["oos_val"]]


def entry_id(intent: str) -> str:
    return intent.replace("_", "-")


def protocol(phrasings: int, work: Path) -> tuple[Path, list[tuple[str, str]]]:
    """Writes the FAQ (work/bitext-<n>/faq.yml) and returns it with the in-scope queries."""
    answers = yaml.safe_load(ANSWERS.read_text(encoding="utf-8"))["answers"]
    rng = random.Random(SEED)
    entries, queries = [], []
    for intent, utterances in sorted(bitext_by_intent().items()):
        shuffled = utterances[:]
        rng.shuffle(shuffled)
        chosen, rest = shuffled[:phrasings], shuffled[phrasings:]
        entry = {"id": entry_id(intent), "question": chosen[0], "answer": answers[intent]}
        if chosen[1:]:
            entry["alternatives"] = chosen[1:]
        entries.append(entry)
        queries += [(text, entry_id(intent)) for text in rest]
    path = work / f"bitext-{phrasings}" / "faq.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"entries": entries}, allow_unicode=True, sort_keys=False))
    return path, queries


def baseline(faq: Path) -> Ranker:
    """all-MiniLM-L6-v2 + faiss, as a Haystack FAQ pipeline does it: every phrasing embedded,
    the entry of the closest phrasing first."""
    import faiss

    entries = yaml.safe_load(faq.read_text(encoding="utf-8"))["entries"]
    texts, ids = [], []
    for entry in entries:
        for text in (entry["question"], *entry.get("alternatives", [])):
            texts.append(text)
            ids.append(entry["id"])
    encoder = get_encoder("minilm")
    index = faiss.IndexFlatIP(encoder.encode(["probe"], "query").shape[1])
    index.add(encoder.encode(texts, "document"))

    def rank(query: str, vector: np.ndarray | None = None) -> list[tuple[str, float]]:
        if vector is None:
            vector = encoder.encode([query], "query")
        scores, rows = index.search(vector.reshape(1, -1), len(texts))
        best: dict[str, float] = {}
        for score, row in zip(scores[0], rows[0], strict=True):
            best.setdefault(ids[row], float(score))
        return list(best.items())[:5]

    return rank


def ours(index: FaqIndex) -> Ranker:
    def rank(query: str, vector: np.ndarray | None = None) -> list[tuple[str, float]]:
        return [(m.entry.id, m.score) for m in index.search(query, 5, vector)]

    return rank


def reranked(index: FaqIndex, candidates: int = 10) -> Ranker:
    """A second stage learned per FAQ from its own texts: a logistic regression over the
    vectors of each entry's phrasings and its prototype reorders the first stage's top ten."""
    from sklearn.linear_model import LogisticRegression

    features = np.vstack([index.vectors, index.prototypes])
    labels = np.concatenate([index.rows, np.arange(len(index.entries))])
    model = LogisticRegression(C=10.0, max_iter=2000).fit(features, labels)
    number = {entry.id: i for i, entry in enumerate(index.entries)}

    def rank(query: str, vector: np.ndarray | None = None) -> list[tuple[str, float]]:
        if vector is None:
            vector = index.encoder.encode([query], "query")
        matches = index.search(query, candidates, vector)
        probability = model.predict_proba(vector.reshape(1, -1))[0]
        scored = [(m.entry.id, float(probability[number[m.entry.id]])) for m in matches]
        return sorted(scored, key=lambda pair: pair[1], reverse=True)[:5]

    return rank


def measure(
    rank: Ranker,
    queries: list[tuple[str, str]],
    vectors: np.ndarray,
    index: FaqIndex | None = None,
    model: str | None = None,
) -> dict:
    """Ranking for every configuration (the queries encoded in a batch: `vectors`), latency on
    TIMED queries encoded one at a time, and the decision (answered directly, wrong answers)
    where the scores are the index's own, which its calibration knows."""
    calibrated = calibration(model) if index is not None and model else None
    ranks, probability, right, decisions = [], [], [], []
    for (query, expected), vector in zip(queries, vectors, strict=True):
        if calibrated is not None:
            matches = index.search(query, 5, vector)
            ids = [m.entry.id for m in matches]
            decision = decide(matches, calibrated)
            decisions.append((decision.kind, bool(expected), ids[:1] == [expected]))
            probability.append(decision.probability)
            right.append(bool(expected) and ids[:1] == [expected])
        else:
            ids = [entry for entry, _ in rank(query, vector)]
        if expected:
            ranks.append(ids.index(expected) if expected in ids else None)
    latencies = []
    for query, _ in random.Random(SEED).sample(queries, min(TIMED, len(queries))):
        started = time.perf_counter()
        rank(query, None)
        latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    found = np.array([r if r is not None else 99 for r in ranks])
    result = {
        "hit@1": round(float(np.mean(found == 0)), 4),
        "hit@3": round(float(np.mean(found < 3)), 4),
        "mrr": round(float(np.mean([1 / (r + 1) if r is not None else 0 for r in ranks])), 4),
        "latency_ms_p50": round(latencies[len(latencies) // 2], 2),
        "latency_ms_p95": round(latencies[int(len(latencies) * 0.95) - 1], 2),
    }
    if decisions:
        in_scope = [d for d in decisions if d[1]]
        off = [d for d in decisions if not d[1]]
        result.update(
            {
                "answered_directly": round(
                    sum(kind == "answer" and ok for kind, _, ok in in_scope) / len(in_scope), 4
                ),
                "wrong_answers_in_scope": round(
                    sum(kind == "answer" and not ok for kind, _, ok in in_scope) / len(in_scope),
                    4,
                ),
                "suggested_in_scope": round(
                    sum(kind == "suggest" for kind, _, _ in in_scope) / len(in_scope), 4
                ),
                "off_topic_answered": round(
                    sum(kind == "answer" for kind, *_ in off) / len(off), 4
                ),
                "calibration": reliability(np.array(probability), np.array(right)),
            }
        )
    return result


def encode_all(model: str, texts: list[str]) -> np.ndarray:
    encoder = get_encoder(model)
    return np.vstack([encoder.encode(texts[i : i + 64], "query") for i in range(0, len(texts), 64)])


def run(work: Path) -> dict:
    offtopic = [(text, "") for text in off_topic()]
    results: dict = {"seed": SEED, "off_topic_queries": len(offtopic)}
    for phrasings in (1, 3):
        faq, in_scope = protocol(phrasings, work)
        queries = in_scope + offtopic
        cache = work / "cache"
        default = FaqIndex.load_or_build(faq, "e5-small+use-m3", cache_dir=cache)
        closest_only = FaqIndex.load_or_build(faq, "e5-small+use-m3", cache_dir=cache)
        closest_only.phrasing_weight = closest_only.single_phrasing_weight = 1.0
        minilm = FaqIndex.load_or_build(faq, "minilm", cache_dir=cache)
        fused = encode_all("e5-small+use-m3", [q for q, _ in queries])
        english = encode_all("minilm", [q for q, _ in queries])
        configurations = {
            "baseline: all-MiniLM-L6-v2 + faiss, closest phrasing": (baseline(faq), english),
            "e5-small+use-m3, closest phrasing (before)": (ours(closest_only), fused),
            "e5-small+use-m3, whole entries (default)": (
                ours(default),
                fused,
                default,
                "e5-small+use-m3",
            ),
            "e5-small+use-m3, whole entries + per-FAQ reranker": (reranked(default), fused),
            "minilm, whole entries (English only)": (ours(minilm), english, minilm, "minilm"),
        }
        results[f"{phrasings}_phrasing"] = {
            "in_scope_queries": len(in_scope),
            "configurations": {
                name: measure(rank, queries, *rest)
                for name, (rank, *rest) in configurations.items()
            },
        }
        print(f"Bitext protocol, {phrasings} phrasing(s) per entry: done", flush=True)
    return results


def table(results: dict) -> str:
    lines = [
        f"{'configuration':<56}{'hit@1':>7}{'hit@3':>7}{'MRR':>7}{'direct':>8}{'wrong':>7}"
        f"{'off-topic':>10}{'p95 ms':>8}"
    ]
    for phrasings in (1, 3):
        lines.append(f"-- {phrasings} phrasing(s) per entry")
        for name, r in results[f"{phrasings}_phrasing"]["configurations"].items():
            direct = f"{r['answered_directly']:.3f}" if "answered_directly" in r else "-"
            wrong = f"{r['wrong_answers_in_scope']:.3f}" if "answered_directly" in r else "-"
            off = f"{r['off_topic_answered']:.3f}" if "answered_directly" in r else "-"
            lines.append(
                f"{name:<56}{r['hit@1']:>7.3f}{r['hit@3']:>7.3f}{r['mrr']:>7.3f}{direct:>8}"
                f"{wrong:>7}{off:>10}{r['latency_ms_p95']:>8.1f}"
            )
    return "\n".join(lines)

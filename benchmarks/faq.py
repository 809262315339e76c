"""FAQ benchmark: retrieval and decisions on our paraphrase sets (English, other languages,
off-topic) for every packaged model, query latency, and index build time and memory for a
10,000-entry FAQ. Run with `make bench`; writes benchmarks/results/faq.json."""

from __future__ import annotations

import json
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import write_results
from bot.faq.decide import THRESHOLDS, faq_model
from bot.faq.evaluate import evaluate, read_queries
from bot.faq.index import FaqIndex
from bot.settings import PROJECT_ROOT

SETS = Path(__file__).parent / "faq"
WORK = PROJECT_ROOT / "var" / "bench-faq"
TOPICS = [
    "shipping",
    "returns",
    "sizing",
    "payment",
    "gift cards",
    "warranty",
    "pickup",
    "accounts",
    "privacy",
    "promo codes",
    "care",
    "restocks",
    "exchanges",
    "refunds",
]
PRODUCTS = [
    "tee",
    "hoodie",
    "rain jacket",
    "sneakers",
    "socks",
    "cap",
    "tote",
    "bottle",
    "scarf",
    "belt",
    "beanie",
    "gift card",
    "backpack",
    "gloves",
    "shorts",
    "parka",
]


def large_faq(path: Path, entries: int = 10_000) -> Path:
    """A synthetic FAQ of many distinct entries, each with one alternative phrasing."""
    rng = random.Random(7)
    lines = ["entries:"]
    for number in range(entries):
        topic, product = rng.choice(TOPICS), rng.choice(PRODUCTS)
        lines += [
            f"  - id: q{number}",
            f"    question: What is the {topic} policy for the {product} model {number}?",
            "    alternatives:",
            f"      - How does {topic} work for {product} {number}?",
            f"    answer: Entry {number} answer about {topic} for the {product}.",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def build_large(model: str) -> dict:
    """Runs in its own process so its peak memory is its own."""
    faq = large_faq(WORK / "faq-10k.yml")
    shutil.rmtree(WORK / "cache-10k", ignore_errors=True)  # measure a cold build
    started = time.perf_counter()
    index = FaqIndex.load_or_build(faq, model, cache_dir=WORK / "cache-10k")
    build = time.perf_counter() - started
    timings = []
    for query in ("how do returns work for the parka", "sizing of sneakers 4411"):
        t = time.perf_counter()
        index.search(query, 5)
        timings.append((time.perf_counter() - t) * 1000)
    return {
        "entries": len(index.entries),
        "phrasings": len(index.phrasings),
        "build_s": round(build, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "index_mb": round(index.index.ntotal * index.index.d * 4 / 2**20, 1),
        "query_ms": round(max(timings), 1),
    }


def main() -> int:
    if sys.argv[1:2] == ["--build-10k"]:
        print(json.dumps(build_large(sys.argv[2])))
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    default = faq_model()
    results: dict = {"default_model": default, "models": {}}
    for model in THRESHOLDS:
        answer_at, suggest_at, margin, sure_at = THRESHOLDS[model]
        index = FaqIndex.load_or_build(model=model, cache_dir=WORK / "cache")
        results["models"][model] = {
            name: evaluate(
                index, read_queries(SETS / f"{name}.csv"), answer_at, suggest_at, margin, sure_at
            )
            for name in ("paraphrases-en", "paraphrases-other", "offtopic")
        }
        print(f"evaluated {model}", flush=True)
    print(f"building a 10,000-entry index with {default}...", flush=True)
    large = subprocess.run(
        [sys.executable, "-m", "benchmarks.faq", "--build-10k", default],
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    results["index_10k"] = json.loads(large.stdout.strip().splitlines()[-1])
    written = write_results("faq", results)

    header = (
        f"{'model':<17}{'EN hit@1':>9}{'MRR':>7}{'other hit@1':>12}{'MRR':>7}"
        f"{'off-topic answered':>19}{'in-scope unknown':>17}{'p50 ms':>8}{'p95 ms':>8}"
    )
    print(header)
    for model, sets in results["models"].items():
        en, other, off = sets["paraphrases-en"], sets["paraphrases-other"], sets["offtopic"]
        unknown = en["decisions"].get("unknown", 0) + other["decisions"].get("unknown", 0)
        print(
            f"{model + (' *' if model == default else ''):<17}{en['hit@1']:>9.2f}"
            f"{en['mrr']:>7.2f}{other['hit@1']:>12.2f}{other['mrr']:>7.2f}"
            f"{off['wrong_answer_rate_off_topic']:>19.2f}"
            f"{unknown:>11}/{en['in_scope'] + other['in_scope']}"
            f"{en['latency_ms_p50']:>8.1f}{en['latency_ms_p95']:>8.1f}"
        )
    big = results["index_10k"]
    print(
        f"10,000 entries ({big['phrasings']} phrasings): build {big['build_s']} s, "
        f"peak memory {big['peak_rss_mb']} MB, index {big['index_mb']} MB, "
        f"query {big['query_ms']} ms"
    )
    print(f"written: {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

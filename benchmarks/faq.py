"""FAQ benchmark: the Bitext protocol (benchmarks/faq_bitext.py: data nobody here wrote, every
candidate configuration beside the MiniLM + faiss baseline), retrieval and decisions on our
paraphrase sets (English, other languages, off-topic) for every packaged model, query latency,
and index build time, memory and latency for a 10,000-entry FAQ. Run with `make bench`;
writes benchmarks/results/faq.json and faq-bitext-calibration.png."""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

from benchmarks import faq_bitext
from benchmarks.common import RESULTS, write_results
from benchmarks.faq_calibrate import plot
from bot.faq.decide import CALIBRATIONS, calibration, faq_model
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
    return {
        "entries": len(index.entries),
        "phrasings": len(index.phrasings),
        "build_s": round(time.perf_counter() - started, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "index_mb": round((index.vectors.nbytes + index.prototypes.nbytes) / 2**20, 1),
    }


def query_large(model: str, queries: int = 200) -> dict:
    """Query latency on the 10,000-entry index just built, one question at a time with the
    servers' one thread per encoder."""
    index = FaqIndex.load_or_build(WORK / "faq-10k.yml", model, cache_dir=WORK / "cache-10k")
    rng = random.Random(11)
    timings = []
    for _ in range(queries):
        topic, product = rng.choice(TOPICS), rng.choice(PRODUCTS)
        query = f"how does {topic} work for the {product} {rng.randrange(10_000)}"
        started = time.perf_counter()
        index.search(query, 5)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {
        "query_ms_p50": round(timings[len(timings) // 2], 1),
        "query_ms_p95": round(timings[int(len(timings) * 0.95) - 1], 1),
    }


def main() -> int:
    if sys.argv[1:2] == ["--build-10k"]:
        print(json.dumps(build_large(sys.argv[2])))
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    default = faq_model()
    results: dict = {"default_model": default, "models": {}}
    results["bitext"] = faq_bitext.run(WORK)
    print(faq_bitext.table(results["bitext"]), flush=True)
    default_name = "e5-small+use-m3, whole entries (default)"
    plot(
        {
            f"Bitext, {n} phrasing(s) per entry": results["bitext"][f"{n}_phrasing"][
                "configurations"
            ][default_name]["calibration"]
            for n in (1, 3)
        },
        RESULTS / "faq-bitext-calibration.png",
        "FAQ decision on Bitext (not calibrated on it)",
    )
    for model in CALIBRATIONS:
        index = FaqIndex.load_or_build(model=model, cache_dir=WORK / "cache")
        results["models"][model] = {
            name: evaluate(index, read_queries(SETS / f"{name}.csv"), calibration(model))
            for name in ("paraphrases-en", "paraphrases-other", "offtopic")
        }
        print(f"evaluated {model}", flush=True)
    print(f"building a 10,000-entry index with {default}...", flush=True)
    large = subprocess.run(
        [sys.executable, "-m", "benchmarks.faq", "--build-10k", default],
        cwd=PROJECT_ROOT,
        # As `bot faq build` does: every core encodes.
        env={**os.environ, "FAQ_ENCODER_THREADS": str(os.cpu_count() or 1)},
        check=True,
        capture_output=True,
        text=True,
    )
    results["index_10k"] = json.loads(large.stdout.strip().splitlines()[-1])
    results["index_10k"].update(query_large(default))
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
        f"query p50 {big['query_ms_p50']} ms, p95 {big['query_ms_p95']} ms"
    )
    print(f"written: {written}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

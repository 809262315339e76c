"""Derives the FAQ thresholds of a model from benchmarks/faq/calibration.csv.

    python -m benchmarks.faq_calibrate [MODEL ...]

suggest: the top score that best separates in-scope from off-topic questions (Youden's J);
answer: the lowest score above which every calibration question's top match was right.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from bot.faq.evaluate import read_queries
from bot.faq.index import FaqIndex

CALIBRATION = Path(__file__).parent / "faq" / "calibration.csv"


def calibrate(model: str, cache_dir: Path | None = None) -> dict:
    index = FaqIndex.load_or_build(model=model, cache_dir=cache_dir)
    tops = []
    for query, expected in read_queries(CALIBRATION):
        best = index.search(query, 1)[0]
        tops.append((best.score, expected, best.entry.id))
    in_scope = np.array([s for s, expected, _ in tops if expected])
    off_topic = np.array([s for s, expected, _ in tops if not expected])
    candidates = np.unique(np.concatenate([in_scope, off_topic]))
    j, suggest = max((np.mean(in_scope >= t) - np.mean(off_topic >= t), t) for t in candidates)
    wrong = [s for s, expected, got in tops if expected != got]
    answer = float(np.nextafter(max(wrong), 1)) if wrong else float(candidates.min())
    return {
        "model": model,
        "suggest": round(float(suggest), 3),
        "answer": round(max(answer, float(suggest)), 3),
        "youden_j": round(float(j), 3),
        "in_scope": len(in_scope),
        "off_topic": len(off_topic),
        "top1_right": sum(1 for _, expected, got in tops if expected and expected == got),
    }


def main() -> int:
    for model in sys.argv[1:] or ["e5-small", "use-m3", "minilm"]:
        print(calibrate(model))
    return 0


if __name__ == "__main__":
    sys.exit(main())

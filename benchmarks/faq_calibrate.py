"""Derives the FAQ thresholds of a model from the calibration questions: benchmarks/faq/
calibration.csv and calibration/<code>.csv (two new questions per entry and ten off-topic ones
in every shipped language, written apart from the FAQ and from every benchmark set).

    python -m benchmarks.faq_calibrate [MODEL ...]

suggest: the top score that best separates in-scope from off-topic questions (Youden's J);
sure: the score above which no calibration question's top match was wrong (answered whatever
the lead); answer and margin: the pair (the best entry's score, its lead over the second entry)
that, with `sure`, answers the most calibration questions right while answering at most
WRONG_BUDGET of them wrong (an off-topic question answered counts as wrong).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from bot.faq.evaluate import read_queries
from bot.faq.index import FaqIndex

CALIBRATION = Path(__file__).parent / "faq" / "calibration.csv"
CALIBRATION_DIR = Path(__file__).parent / "faq" / "calibration"
WRONG_BUDGET = 0.02  # the most wrong answers the product allows itself
MARGINS = [round(m, 3) for m in np.arange(0.0, 0.0501, 0.0025)]


def calibration_queries() -> list[tuple[str, str]]:
    queries = read_queries(CALIBRATION)
    for path in sorted(CALIBRATION_DIR.glob("*.csv")):
        queries += read_queries(path)
    return queries


def calibrate(model: str, cache_dir: Path | None = None, budget: float = WRONG_BUDGET) -> dict:
    index = FaqIndex.load_or_build(model=model, cache_dir=cache_dir)
    rows = []  # (top score, lead over the second, expected, got)
    for query, expected in calibration_queries():
        matches = index.search(query, 2)
        lead = matches[0].score - matches[1].score if len(matches) > 1 else 1.0
        rows.append((matches[0].score, lead, expected, matches[0].entry.id))
    scores = np.array([r[0] for r in rows])
    leads = np.array([r[1] for r in rows])
    in_scope = np.array([bool(r[2]) for r in rows])
    right = np.array([bool(r[2]) and r[2] == r[3] for r in rows])
    candidates = np.unique(scores)
    j, suggest = max(
        (np.mean(scores[in_scope] >= t) - np.mean(scores[~in_scope] >= t), t) for t in candidates
    )
    # sure: above the highest score any wrong top match reached, answered whatever the lead.
    wrong_scores = scores[~right]
    sure = float(np.nextafter(wrong_scores.max(), 1)) if len(wrong_scores) else 0.0
    # (answered right, answer, margin); ties go to the stricter pair.
    best = (-1, 1.0, 0.0)
    for margin in MARGINS:
        for answer in candidates:  # ascending: the first within budget answers the most
            answered = ((scores >= answer) & (leads >= margin)) | (scores >= sure)
            if np.sum(answered & ~right) <= budget * len(rows):
                best = max(best, (int(np.sum(answered & right)), float(answer), margin))
                break
    answered_right, answer, margin = best
    return {
        "model": model,
        "answer": round(max(answer, float(suggest)), 3),
        "suggest": round(float(suggest), 3),
        "margin": round(float(margin), 4),
        "sure": round(sure, 3),
        "youden_j": round(float(j), 3),
        "questions": len(rows),
        "in_scope": int(in_scope.sum()),
        "top1_right": int(right.sum()),
        "answered_right": answered_right,
    }


def main() -> int:
    for model in sys.argv[1:] or ["e5-small+use-m3", "e5-small"]:
        print(calibrate(model))
    return 0


if __name__ == "__main__":
    sys.exit(main())

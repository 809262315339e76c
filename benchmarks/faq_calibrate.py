"""Fits the FAQ decision of a model (bot/faq/decide.py) on the calibration questions, which are
kept apart from the FAQs and from every benchmark set:
- benchmarks/faq/calibration.csv and calibration/<code>.csv: new questions for our FAQ
  (data/faq) in every shipped language, off-topic ones among them;
- benchmarks/faq/second-shop/: another shop's FAQ (home goods) with its own questions.

    python -m benchmarks.faq_calibrate [MODEL ...]

For each question: the best entry's score, its lead over the second, and whether the best
entry is right (an off-topic question's never is). A logistic regression on (score, lead)
gives the probability that the best entry is right; `answer` is the lowest probability at
which at most WRONG_BUDGET of all questions are answered wrong, `suggest` the one that best
separates in-scope from off-topic questions (Youden's J). It prints the Calibration line for
decide.py, and writes benchmarks/results/faq-calibration.{json,png}: the reliability curve
fitted on all questions, and fitted on one FAQ and checked on the other (does a probability
carry over to a FAQ it was not fitted on?).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from benchmarks.common import RESULTS, write_results
from bot.faq.decide import CALIBRATIONS, Calibration, lead_of
from bot.faq.evaluate import read_queries
from bot.faq.index import FaqIndex
from bot.settings import DEFAULT_FAQ

SETS = Path(__file__).parent / "faq"
CALIBRATION = SETS / "calibration.csv"
CALIBRATION_DIR = SETS / "calibration"
SECOND_SHOP = SETS / "second-shop"
WRONG_BUDGET = 0.02  # the most wrong answers the product allows itself


def calibration_queries() -> list[tuple[str, str]]:
    queries = read_queries(CALIBRATION)
    for path in sorted(CALIBRATION_DIR.glob("*.csv")):
        queries += read_queries(path)
    return queries


def observations(model: str, cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Per question: score, lead, in scope, right; and which FAQ it was asked of (0 ours, 1
    the second shop)."""
    rows = []
    for faq_number, (faq, queries) in enumerate(
        [
            (DEFAULT_FAQ, calibration_queries()),
            (SECOND_SHOP / "faq.yml", read_queries(SECOND_SHOP / "questions.csv")),
        ]
    ):
        index = FaqIndex.load_or_build(faq, model, cache_dir=cache_dir)
        for query, expected in queries:
            matches = index.search(query, 2)
            right = bool(expected) and matches[0].entry.id == expected
            rows.append((matches[0].score, lead_of(matches), bool(expected), right, faq_number))
    table = np.array(rows, dtype=np.float64)
    return {
        "score": table[:, 0],
        "lead": table[:, 1],
        "in_scope": table[:, 2].astype(bool),
        "right": table[:, 3].astype(bool),
        "faq": table[:, 4].astype(int),
    }


def fit(seen: dict[str, np.ndarray], budget: float = WRONG_BUDGET) -> Calibration:
    from sklearn.linear_model import LogisticRegression

    features = np.column_stack([seen["score"], seen["lead"]])
    regression = LogisticRegression(C=100.0, max_iter=1000).fit(features, seen["right"])
    (score_weight, lead_weight), intercept = regression.coef_[0], regression.intercept_[0]
    draft = Calibration(float(intercept), float(score_weight), float(lead_weight), 1.0, 1.0)
    p = probabilities(draft, seen)
    right, in_scope = seen["right"], seen["in_scope"]
    candidates = np.unique(p)
    answer = 1.0
    for level in candidates:  # ascending: the first within budget answers the most
        if np.sum((p >= level) & ~right) <= budget * len(p):
            answer = float(level)
            break
    _, suggest = max(
        (np.mean(p[in_scope] >= t) - np.mean(p[~in_scope] >= t), float(t)) for t in candidates
    )
    return Calibration(
        round(float(intercept), 3),
        round(float(score_weight), 3),
        round(float(lead_weight), 3),
        round(answer, 3),
        round(min(suggest, answer), 3),
    )


def probabilities(calibration: Calibration, seen: dict[str, np.ndarray]) -> np.ndarray:
    return np.array(
        [
            calibration.probability(s, lead)
            for s, lead in zip(seen["score"], seen["lead"], strict=True)
        ]
    )


def reliability(p: np.ndarray, right: np.ndarray, bins: int = 10) -> dict:
    """Per probability bin: mean predicted, share right, count; and the expected calibration
    error (the count-weighted gap)."""
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    curve = []
    for b in range(bins):
        chosen = which == b
        if chosen.any():
            curve.append(
                {
                    "predicted": round(float(p[chosen].mean()), 3),
                    "right": round(float(right[chosen].mean()), 3),
                    "n": int(chosen.sum()),
                }
            )
    ece = sum(c["n"] * abs(c["predicted"] - c["right"]) for c in curve) / max(len(p), 1)
    return {"curve": curve, "ece": round(float(ece), 4)}


def _subset(seen: dict[str, np.ndarray], chosen: np.ndarray) -> dict[str, np.ndarray]:
    return {key: values[chosen] for key, values in seen.items()}


def report(model: str, cache_dir: Path | None = None) -> dict:
    seen = observations(model, cache_dir)
    calibration = fit(seen)
    curves = {
        "all questions (fitted on them)": reliability(
            probabilities(calibration, seen), seen["right"]
        )
    }
    names = ("our FAQ", "the second shop's FAQ")
    for held_out in (0, 1):
        fitted = fit(_subset(seen, seen["faq"] != held_out))
        other = _subset(seen, seen["faq"] == held_out)
        label = f"{names[held_out]} (fitted on {names[1 - held_out]})"
        curves[label] = reliability(probabilities(fitted, other), other["right"])
    return {
        "model": model,
        "calibration": calibration.__dict__,
        "questions": len(seen["score"]),
        "in_scope": int(seen["in_scope"].sum()),
        "top1_right": int(seen["right"].sum()),
        "curves": curves,
    }


def plot(curves: dict[str, dict], path: Path, title: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6, 5))
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
    for label, found in curves.items():
        points = found["curve"]
        axes.plot(
            [c["predicted"] for c in points],
            [c["right"] for c in points],
            marker="o",
            label=f"{label}, ECE {found['ece']:.3f}",
        )
    axes.set_xlabel("predicted probability that the best entry is right")
    axes.set_ylabel("share of questions whose best entry was right")
    axes.set_title(title, fontsize=10)
    axes.legend(fontsize=7, loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def main() -> int:
    reports = {}
    for model in sys.argv[1:] or list(CALIBRATIONS):
        found = report(model)
        reports[model] = found
        c = found["calibration"]
        print(
            f'    "{model}": Calibration({c["intercept"]}, {c["score_weight"]}, '
            f"{c['lead_weight']}, {c['answer']}, {c['suggest']}),"
        )
        for label, curve in found["curves"].items():
            print(f"      ECE {curve['ece']:.3f}  {label}")
    first = next(iter(reports))
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(
        reports[first]["curves"],
        RESULTS / "faq-calibration.png",
        f"FAQ decision calibration ({first})",
    )
    write_results("faq-calibration", reports)
    return 0


if __name__ == "__main__":
    sys.exit(main())

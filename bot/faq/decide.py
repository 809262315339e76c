"""Answer, suggest or admit not knowing, from one calibrated number: the probability that the
best entry is the right one.

The probability is a logistic function of the best entry's score and its lead over the second
(two entries about as close are for the shopper to pick from), fitted per model with
`python -m benchmarks.faq_calibrate` on questions written apart from the FAQs and from every
benchmark set: benchmarks/faq/calibration*.csv against our FAQ in eleven languages, and
benchmarks/faq/second-shop/ against another shop's FAQ. Because it is fitted on two FAQs and
eleven languages, "0.9" means about the same everywhere; the benchmark plots how well it
holds (benchmarks/results/faq-calibration.png).
- answer: the lowest probability at which at most 2 % of the calibration questions were
  answered wrong (an off-topic question answered counts as wrong);
- suggest: the probability that best separates in-scope from off-topic questions (Youden's J).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from bot.faq.encoders import UseEncoder
from bot.faq.index import Match
from bot.settings import get_settings


@dataclass(frozen=True)
class Calibration:
    intercept: float
    score_weight: float
    lead_weight: float
    answer: float  # answer at this probability or more
    suggest: float  # offer entries at this probability or more

    def probability(self, score: float, lead: float) -> float:
        z = self.intercept + self.score_weight * score + self.lead_weight * lead
        return 1 / (1 + math.exp(-max(-50.0, min(50.0, z))))


CALIBRATIONS: dict[str, Calibration] = {
    "e5-small+use-m3": Calibration(-18.469, 23.23, 57.205, 0.844, 0.499),
    "e5-small": Calibration(-27.095, 31.9, 56.328, 0.838, 0.436),
    "use-m3": Calibration(-3.645, 5.654, 29.419, 0.831, 0.605),
    # English only, calibrated on eleven languages: carries over between FAQs worst.
    "minilm": Calibration(-2.238, 2.024, 36.029, 0.759, 0.36),
}
SUGGESTIONS = 3


def faq_model() -> str:
    """`FAQ_MODEL`: e5-small+use-m3 (default), e5-small, use-m3, minilm or st:/path/to/model."""
    return get_settings().faq_model


def calibration(model: str) -> Calibration:
    """The model's calibration; `FAQ_ANSWER_THRESHOLD` and `FAQ_SUGGEST_THRESHOLD` (as
    probabilities) override where it answers and suggests."""
    settings = get_settings()
    found = CALIBRATIONS.get(model)
    if found is None:
        raise ValueError(
            f"no calibration for FAQ model {model!r}: add one to bot/faq/decide.py "
            "(python -m benchmarks.faq_calibrate MODEL)"
        )
    return replace(
        found,
        answer=settings.faq_answer_threshold or found.answer,
        suggest=settings.faq_suggest_threshold or found.suggest,
    )


def calibration_for(model: str, question: str) -> Calibration:
    """The calibration that fits how `question` is scored: a question in a script use-m3
    cannot read (Hebrew) is scored by e5 alone (bot/faq/encoders.FusedEncoder), so e5's."""
    first, _, second = model.partition("+")
    if second == UseEncoder.name and not UseEncoder.reads(question):
        return calibration(first)
    return calibration(model)


def lead_of(matches: list[Match]) -> float:
    return matches[0].score - matches[1].score if len(matches) > 1 else 1.0


@dataclass(frozen=True)
class Decision:
    kind: str  # "answer", "suggest" or "unknown"
    matches: tuple[Match, ...]
    probability: float = 0.0  # that the best entry is the right one

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None


def decide(matches: list[Match], calibrated: Calibration) -> Decision:
    if not matches:
        return Decision("unknown", ())
    probability = calibrated.probability(matches[0].score, lead_of(matches))
    if probability >= calibrated.answer:
        return Decision("answer", (matches[0],), probability)
    if probability >= calibrated.suggest:
        # The best entry, and the next ones that would be as likely without the best.
        others = [
            m
            for m in matches[1:SUGGESTIONS]
            if calibrated.probability(m.score, 0.0) >= calibrated.suggest
        ]
        return Decision("suggest", (matches[0], *others), probability)
    return Decision("unknown", (), probability)

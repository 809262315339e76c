"""Answer, suggest or admit not knowing: the FAQ decision, with thresholds per model.

The thresholds of the two default encoders were derived with `python -m benchmarks.faq_calibrate`
on benchmarks/faq/calibration.csv and calibration/<code>.csv (1,376 questions in eleven
languages, 125 of them off-topic), written apart from the FAQ and from the benchmark sets:
- suggest: the score that best separates in-scope from off-topic questions (Youden's J);
- answer and margin: the best entry's score and its lead over the second that answer the most
  calibration questions right with at most 2 % of them answered wrong.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.faq.encoders import UseEncoder
from bot.faq.index import Match
from bot.settings import get_settings

# model: (answer, suggest, margin, sure). An answer needs the best entry at `answer` or more
# and `margin` ahead of the second (two entries about as close are for the shopper to pick
# from), or at `sure` or more, where no calibration question was answered wrong.
THRESHOLDS: dict[str, tuple[float, float, float, float]] = {
    "e5-small+use-m3": (0.764, 0.747, 0.048, 0.916),
    "e5-small": (0.85, 0.827, 0.032, 0.916),
    "use-m3": (0.677, 0.474, 0.05, 0.897),
    "minilm": (0.786, 0.632, 0.04, 0.943),  # English only: calibrated on eleven languages
}
SUGGESTIONS = 3


def faq_model() -> str:
    """`FAQ_MODEL`: e5-small+use-m3 (default), e5-small, use-m3, minilm or st:/path/to/model."""
    return get_settings().faq_model


def thresholds(model: str) -> tuple[float, float, float, float]:
    """Per-model (answer, suggest, margin, sure); `FAQ_ANSWER_THRESHOLD`,
    `FAQ_SUGGEST_THRESHOLD` and `FAQ_ANSWER_MARGIN` override the first three."""
    answer, suggest, margin, sure = THRESHOLDS.get(model, (None, None, 0.0, 1.0))
    settings = get_settings()
    answer = settings.faq_answer_threshold or answer or 0
    suggest = settings.faq_suggest_threshold or suggest or 0
    if settings.faq_answer_margin is not None:
        margin = settings.faq_answer_margin
    if not answer or not suggest:
        raise ValueError(
            f"no thresholds for FAQ model {model!r}: set FAQ_ANSWER_THRESHOLD "
            "and FAQ_SUGGEST_THRESHOLD (calibrate with benchmarks.faq_calibrate)"
        )
    return answer, suggest, margin, sure


def thresholds_for(model: str, question: str) -> tuple[float, float, float, float]:
    """The thresholds that fit how `question` is scored: a question in a script use-m3
    cannot read (Hebrew) is scored by e5 alone (bot/faq/encoders.FusedEncoder), so e5's."""
    first, _, second = model.partition("+")
    if second == UseEncoder.name and not UseEncoder.reads(question):
        return thresholds(first)
    return thresholds(model)


@dataclass(frozen=True)
class Decision:
    kind: str  # "answer", "suggest" or "unknown"
    matches: tuple[Match, ...]

    @property
    def best(self) -> Match | None:
        return self.matches[0] if self.matches else None


def decide(
    matches: list[Match],
    answer_at: float,
    suggest_at: float,
    margin: float = 0.0,
    sure_at: float = 1.0,
) -> Decision:
    if matches:
        score = matches[0].score
        lead = score - matches[1].score if len(matches) > 1 else 1.0
        if (score >= answer_at and lead >= margin) or score >= sure_at:
            return Decision("answer", (matches[0],))
    suggestions = tuple(m for m in matches[:SUGGESTIONS] if m.score >= suggest_at)
    if suggestions:
        return Decision("suggest", suggestions)
    return Decision("unknown", ())

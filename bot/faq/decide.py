"""Answer, suggest or admit not knowing: the FAQ decision, with thresholds per model.

The thresholds were derived with `python -m benchmarks.faq_calibrate` on
benchmarks/faq/calibration.csv (41 in-scope questions in 8 languages, 15 off-topic ones),
kept apart from the benchmark sets; the README gives the numbers.
- suggest: the score that best separates in-scope from off-topic questions (Youden's J).
- answer: the lowest score above which the top match was right for every calibration question.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.faq.index import Match
from bot.settings import get_settings

# model: (answer, suggest, margin). margin: how far the best entry must lead the second for
# an answer; two entries about as close are a question the shopper should pick from.
THRESHOLDS: dict[str, tuple[float, float, float]] = {
    "e5-small+use-m3": (0.867, 0.789, 0.0),
    "e5-small": (0.915, 0.875, 0.0),
    "use-m3": (0.726, 0.477, 0.0),
    "minilm": (0.683, 0.528, 0.0),
}
SUGGESTIONS = 3


def faq_model() -> str:
    """`FAQ_MODEL`: e5-small+use-m3 (default), e5-small, use-m3, minilm or st:/path/to/model."""
    return get_settings().faq_model


def thresholds(model: str) -> tuple[float, float, float]:
    """Per-model (answer, suggest, margin); `FAQ_ANSWER_THRESHOLD`, `FAQ_SUGGEST_THRESHOLD`
    and `FAQ_ANSWER_MARGIN` override them."""
    answer, suggest, margin = THRESHOLDS.get(model, (None, None, 0.0))
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
    return answer, suggest, margin


def thresholds_for(model: str, question: str) -> tuple[float, float, float]:
    """The thresholds that fit how `question` is scored: a question in a script use-m3
    cannot read (Hebrew) is scored by e5 alone (bot/faq/encoders.FusedEncoder), so e5's."""
    from bot.faq.encoders import UseEncoder

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
    matches: list[Match], answer_at: float, suggest_at: float, margin: float = 0.0
) -> Decision:
    lead = matches[0].score - matches[1].score if len(matches) > 1 else 1.0
    if matches and matches[0].score >= answer_at and lead >= margin:
        return Decision("answer", (matches[0],))
    suggestions = tuple(m for m in matches[:SUGGESTIONS] if m.score >= suggest_at)
    if suggestions:
        return Decision("suggest", suggestions)
    return Decision("unknown", ())

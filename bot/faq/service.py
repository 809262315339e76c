"""What the assistant says for a store question: a FAQ answer, a few suggestions, or an
honest "I don't know". Used by the actions and by `bot faq ask`."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from bot.faq.decide import SUGGESTIONS, Decision, calibration_for, decide, faq_model
from bot.faq.entries import FaqEntry, faq_path
from bot.faq.index import Match, get_index


@dataclass(frozen=True)
class FaqReply:
    kind: str  # "answer", "suggest" or "unknown"
    text: str = ""
    entry_id: str | None = None
    suggestions: list[FaqEntry] = field(default_factory=list)
    language: str | None = None  # the shopper's, for suggestions' titles
    # False: the entry has no answer in the shopper's language, so `text` is the shop's own
    # and the shopper is told so.
    translated: bool = True


_warmed: set[str] = set()
_warming = threading.Lock()


def warm_up() -> None:
    """Load the model and index now (again if the FAQ changed); a broken FAQ is reported when
    a question comes. The encoders run once per model to warm up, not before every question:
    that was a whole encoding of "warm up" per FAQ action, more than the question's own."""
    with contextlib.suppress(Exception), _warming:
        model = faq_model()
        index = get_index(faq_path(), model)
        if model not in _warmed:
            index.search("warm up")
            _warmed.add(model)


def language_of(text: str) -> str:
    """For a question asked outside a conversation (`bot faq ask`)."""
    from bot.language import identify
    from bot.settings import get_settings

    found = identify(text)
    return found.language if found else get_settings().shop_language


def _answer(entry: FaqEntry, language: str | None) -> FaqReply:
    return FaqReply(
        "answer",
        entry.answer_in(language),
        entry.id,
        language=language,
        translated=entry.speaks(language),
    )


def search(
    question: str,
    path: Path | None = None,
    intent: str | None = None,
    known: Mapping[str, np.ndarray] | None = None,
) -> Decision:
    """`known`: the encoders' vectors Rasa computed for the question (bot.faq.index.search)."""
    matches, decision = search_with_matches(question, path, known=known)
    return for_intent(decision, matches, intent, question)


def kind_for_intent(kind: str, has_matches: bool, intent: str | None) -> str:
    """The FAQ's decision as the NLU's reading shapes it. A store question (intent `faq`) is
    offered the closest entries rather than a bare "I don't know"; a message the NLU called
    off-topic (`out_of_scope`) is offered entries but never answered outright: the NLU and the
    FAQ must agree before the assistant answers ("check my rewards for my chase card" is close
    to the gift-card entry, and still not about this shop)."""
    if intent == "faq" and kind == "unknown" and has_matches:
        return "suggest"
    if intent == "out_of_scope" and kind == "answer":
        return "suggest"
    return kind


def for_intent(
    decision: Decision, matches: list[Match], intent: str | None, question: str
) -> Decision:
    kind = kind_for_intent(decision.kind, bool(matches), intent)
    if kind == decision.kind:
        return decision
    if intent == "faq":
        return Decision("suggest", tuple(matches[:SUGGESTIONS]), decision.probability)
    calibrated = calibration_for(faq_model(), question)
    offered = decide(matches, replace(calibrated, answer=1.1))  # never an answer
    return Decision("suggest", offered.matches, decision.probability)


def search_with_matches(
    question: str,
    path: Path | None = None,
    k: int = 5,
    known: Mapping[str, np.ndarray] | None = None,
) -> tuple[list[Match], Decision]:
    """The top `k` entries with their scores, and the decision taken on them."""
    model = faq_model()
    matches = get_index(path or faq_path(), model).search(question, k, known=known)
    return matches, decide(matches, calibration_for(model, question))


def reply_to(
    question: str,
    path: Path | None = None,
    intent: str | None = None,
    language: str | None = None,
    known: Mapping[str, np.ndarray] | None = None,
) -> FaqReply:
    """`intent`: what the NLU read (kind_for_intent); `language`: the conversation's, guessed
    from the question when not given; `known`: the encoders' vectors Rasa computed for it."""
    decision = search(question, path, intent, known)
    language = language or language_of(question)
    if decision.kind == "answer":
        return _answer(decision.best.entry, language)
    if decision.kind == "suggest":
        suggestions = [m.entry for m in decision.matches]
        return FaqReply("suggest", suggestions=suggestions, language=language)
    return FaqReply("unknown", language=language)


def answer_entry(entry_id: str, language: str | None = None, path: Path | None = None) -> FaqReply:
    """The answer of one entry (a suggestion the shopper picked); unknown if it is gone."""
    for entry in get_index(path or faq_path(), faq_model()).entries:
        if entry.id == entry_id:
            return _answer(entry, language)
    return FaqReply("unknown")

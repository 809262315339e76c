"""FAQ gaps: what shoppers asked that the assistant could not answer, grouped by meaning.

The messages are embedded with the FAQ's own model (so a group is what one new entry would
answer) and clustered with complete linkage on cosine distance: every two messages in a
group are at least SAME_QUESTION_SIMILARITY alike, so one near pair cannot chain unrelated
questions together.
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, replace

import numpy as np
from sklearn.cluster import AgglomerativeClustering

from bot.faq.decide import faq_model
from bot.faq.encoders import get_encoder
from bot.faq.index import ENCODER_LOCK

# Chosen with the default model on tests/unit/test_report.py's PARAPHRASES (12 questions, 28
# phrasings): pairs put together 1.00 right, 0.85 of the true pairs found, 10 of 12 groups
# exact (average linkage: 0.68 / 0.85 / 8; 0.76: 0.89 / 0.85 / 10; 0.80: 1.00 / 0.55 / 7).
SAME_QUESTION_SIMILARITY = 0.78
EXAMPLES = 5
# Complete linkage costs time and memory quadratic in the messages: past this many, a fixed
# random sample is grouped (group sizes are then the sample's), and one grouping runs at a time.
MAX_GROUPED = 2000
GROUPING_LOCK = threading.Lock()


def sample_for_grouping(texts: list, limit: int = MAX_GROUPED) -> list:
    """At most `limit` of the texts, the same ones for the same input (a seeded sample)."""
    return texts if len(texts) <= limit else random.Random(0).sample(texts, limit)


@dataclass(frozen=True)
class GapGroup:
    size: int
    question: str  # the message closest to the group's centre: a draft FAQ question
    examples: tuple[str, ...]  # up to EXAMPLES distinct messages, closest to the centre first
    language: str | None = None


def group_gaps_by_language(
    texts: list[tuple[str, str]], model: str | None = None
) -> list[GapGroup]:
    """Groups within each language (a group is one FAQ entry to write in one language, so
    groups never mix languages), largest first; of a sample past MAX_GROUPED messages."""
    by_language: dict[str, list[str]] = {}
    for text, language in sample_for_grouping(texts):
        by_language.setdefault(language, []).append(text)
    with GROUPING_LOCK:
        groups = [
            replace(group, language=language)
            for language, same in by_language.items()
            for group in group_gaps(same, model)
        ]
    return sorted(groups, key=lambda g: (-g.size, g.question))


def group_gaps(texts: list[str], model: str | None = None) -> list[GapGroup]:
    """Groups of the texts by meaning, largest first (ties: the more common question first)."""
    texts = [t for t in (" ".join(t.split()) for t in texts) if t]
    if not texts:
        return []
    with ENCODER_LOCK:
        vectors = get_encoder(model or faq_model()).encode(texts, "query")
    if len(texts) == 1:
        labels = np.zeros(1, dtype=int)
    else:
        labels = AgglomerativeClustering(
            n_clusters=None,
            metric="cosine",
            linkage="complete",
            distance_threshold=1 - SAME_QUESTION_SIMILARITY,
        ).fit_predict(vectors)
    groups = []
    for label in set(labels.tolist()):
        members = np.flatnonzero(labels == label)
        centre = vectors[members].mean(axis=0)
        closeness = vectors[members] @ centre
        ordered = [texts[i] for i in members[np.argsort(-closeness)]]
        distinct = list(dict.fromkeys(ordered))
        groups.append(GapGroup(len(members), distinct[0], tuple(distinct[:EXAMPLES])))
    return sorted(groups, key=lambda g: (-g.size, g.question))

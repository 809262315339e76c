"""The FAQ search index. Every entry is scored as a whole from everything it says: its
closest phrasing (the question and its alternatives, in every language) and its prototype, the
mean of the vectors of all its phrasings and its answers. Both live in faiss (inner product on
normalised vectors, i.e. cosine); the vectors are cached on disk by FAQ content and model and
rebuilt by themselves when the FAQ changes.

Why the prototype: one phrasing is one way of asking, and the shopper's words are often
closer to the answer ("do you take amex" and "...Visa, Mastercard, American Express...") or
to the entry's phrasings together than to any one of them. Measured on the calibration
questions (benchmarks/faq/calibration/, 11 languages) and a second shop's FAQ
(benchmarks/faq/second-shop/), top-1 right with e5-small+use-m3:
    closest phrasing only           0.718   0.764
    prototype only                  0.766   0.849
    0.3 phrasing + 0.7 prototype    0.818   0.849   (chosen; off-topic AUC 0.886 -> 0.923)
Adding each answer sentence as a phrasing, or centring the vectors, gained nothing. An entry
with a single phrasing is scored by its prototype alone: on the Bitext protocol with one
phrasing per entry, top-1 0.715 with the blend, 0.766 without.

The entry's score is then blended with how much its closest phrasing shares the question's
character n-grams (TF-IDF): the words a shopper uses in Arabic, Hebrew or Turkish often match
a phrasing's forms better than the encoders do."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from tqdm import tqdm

from bot.faq.encoders import Encoder, get_encoder, query_vector
from bot.faq.entries import FaqEntry, content_hash, faq_files, load_faq
from bot.settings import DEFAULT_FAQ, DEFAULT_FAQ_MODEL, PROJECT_ROOT

CACHE_DIR = PROJECT_ROOT / "var" / "faq-index"
# Part of a cached index's name: raised whenever the encoders' vectors change (2: a text
# use-m3 cannot read is encoded by e5 alone).
ENCODING_VERSION = 2
PHRASING_WEIGHT = 0.3  # the rest is the prototype's
LEXICAL_WEIGHT = 0.1
_DIGIT = re.compile(r"\d")


def _lexical_text(text: str) -> str:
    return _DIGIT.sub("0", text.lower())


@dataclass(frozen=True)
class Match:
    entry: FaqEntry
    score: float
    phrasing: str


class FaqIndex:
    def __init__(self, entries: list[FaqEntry], encoder: Encoder, vectors: np.ndarray):
        """`vectors`: one row per phrasing (entries' `phrasings`, in order), then one
        prototype row per entry."""
        self.entries = entries
        self.encoder = encoder
        self.phrasings = [p for entry in entries for p in entry.phrasings]
        # row i of the phrasing index is a phrasing of entries[rows[i]]
        self.rows = np.array(
            [i for i, entry in enumerate(entries) for _ in entry.phrasings], dtype=np.int64
        )
        self.vectors = vectors[: len(self.phrasings)]
        self.prototypes = vectors[len(self.phrasings) :]
        dim = vectors.shape[1] if vectors.ndim == 2 else 1
        self.index, self.prototype_index = faiss.IndexFlatIP(dim), faiss.IndexFlatIP(dim)
        if self.phrasings:
            self.index.add(self.vectors)
            self.prototype_index.add(self.prototypes)
        self.widest = max((len(entry.phrasings) for entry in entries), default=1)
        self.phrasing_weight, self.single_phrasing_weight = PHRASING_WEIGHT, 0.0
        self.first_row = np.searchsorted(self.rows, np.arange(len(entries) + 1))
        self.ngrams = self.lexical = None
        if self.phrasings:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self.ngrams = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
            self.lexical = self.ngrams.fit_transform([_lexical_text(p) for p in self.phrasings])

    @classmethod
    def load_or_build(
        cls,
        path: Path = DEFAULT_FAQ,
        model: str = DEFAULT_FAQ_MODEL,
        cache_dir: Path | None = None,
    ) -> FaqIndex:
        entries = load_faq(path)
        encoder = get_encoder(model)
        safe_model = re.sub(r"[^A-Za-z0-9_.-]+", "_", model)[-60:]
        name = f"{content_hash(path)}-{safe_model}-v{ENCODING_VERSION}.index.npy"
        cached = Path(cache_dir or CACHE_DIR) / name
        vectors = None
        if cached.exists():
            try:
                vectors = np.load(cached)
            except (OSError, ValueError):
                vectors = None
        if vectors is None:
            known = Path(cache_dir or CACHE_DIR) / f"vectors-{safe_model}-v{ENCODING_VERSION}"
            vectors = build_vectors(entries, encoder, known)
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(cached.name + ".tmp.npy")
            np.save(partial, vectors)
            partial.replace(cached)  # never leave a half-written index behind
        return cls(entries, encoder, vectors)

    def search(
        self,
        query: str,
        k: int = 5,
        vector: np.ndarray | None = None,
        known: Mapping[str, np.ndarray] | None = None,
    ) -> list[Match]:
        """The k best entries for the query, each scored as a whole (the module's doc).
        `vector`: the query's, when the caller encoded it already (a batch); `known`: the
        encoders' vectors Rasa computed for it (bot.faq.encoders.parse_vectors), used where
        they fit this index's encoder."""
        if not self.entries or not query.strip():
            return []
        # One search at a time: the actions run in threads, and the encoders' buffers are not
        # known to be thread-safe (one BLAS thread each, so nothing is lost on 2 cores).
        with ENCODER_LOCK:
            if vector is None:
                vector = query_vector(self.encoder, query, known or {})
            vector = vector.reshape(1, -1).astype(np.float32)
            # Candidates from both indexes, wide enough that the k best wholes are among them
            # however many phrasings (languages) each entry has.
            _, rows = self.index.search(vector, min(len(self.rows), k * self.widest))
            _, closest = self.prototype_index.search(vector, min(len(self.entries), 4 * k))
        candidates = sorted({int(self.rows[r]) for r in rows[0] if r >= 0} | set(closest[0]))
        candidates = [c for c in candidates if c >= 0]
        query_row = vector[0]
        # Every phrasing's n-gram overlap in one product: slicing the sparse matrix per
        # candidate cost more than the rest of the search together.
        lexical = self.ngrams.transform([_lexical_text(query)]).toarray().ravel()
        overlaps = self.lexical @ lexical
        matches = []
        for number in candidates:
            first, last = self.first_row[number], self.first_row[number + 1]
            similarities = self.vectors[first:last] @ query_row
            best = int(np.argmax(similarities))
            overlap = overlaps[first:last].max()
            # One phrasing alone is no better a guide than the prototype it is part of.
            weight = self.phrasing_weight if last - first > 1 else self.single_phrasing_weight
            whole = weight * float(similarities[best])
            whole += (1 - weight) * float(self.prototypes[number] @ query_row)
            score = (1 - LEXICAL_WEIGHT) * whole + LEXICAL_WEIGHT * float(overlap)
            matches.append(Match(self.entries[number], score, self.phrasings[first + best]))
        return sorted(matches, key=lambda m: m.score, reverse=True)[:k]


BATCH = 64  # larger batches with two threads peaked at 1.7 GB building 10,000 entries


def build_vectors(
    entries: list[FaqEntry], encoder: Encoder, known: Path | None = None
) -> np.ndarray:
    """Every phrasing's vector, then every entry's prototype (the normalised mean of its
    phrasings' and answers' vectors). Encodes in batches (bounded memory) with a progress
    bar when the FAQ is large. With `known` (a vector store), only texts it does not have yet
    are encoded: an entry added to a FAQ of 4,000 phrasings in eleven languages takes a
    second, not a minute."""
    texts = [p for entry in entries for p in (*entry.phrasings, *entry.answer_texts)]
    dim = encoder.encode(["dimension probe"], "document").shape[1]
    store = _read_vectors(known, dim)
    # Similar lengths batched together: the encoders pad a batch to its longest text.
    missing = sorted(dict.fromkeys(t for t in texts if t not in store), key=len)
    batches = range(0, len(missing), BATCH)
    for start in tqdm(
        batches, desc="Indexing the FAQ", unit="batch", disable=len(missing) <= 4 * BATCH
    ):
        batch = missing[start : start + BATCH]
        store.update(zip(batch, encoder.encode(batch, "document"), strict=True))
    if known is not None and missing:
        _write_vectors(known, {t: store[t] for t in dict.fromkeys(texts)})
    phrasings = [store[p] for entry in entries for p in entry.phrasings]
    prototypes = [
        np.mean([store[t] for t in (*entry.phrasings, *entry.answer_texts)], axis=0)
        for entry in entries
    ]
    if not entries:
        return np.zeros((0, dim), dtype=np.float32)
    prototypes = np.vstack(prototypes)
    prototypes /= np.maximum(np.linalg.norm(prototypes, axis=1, keepdims=True), 1e-12)
    return np.vstack([np.vstack(phrasings), prototypes]).astype(np.float32)


def _read_vectors(path: Path | None, dim: int) -> dict[str, np.ndarray]:
    """The phrasing vectors kept from the last build (`<path>.npy` and `<path>.json`)."""
    if path is None or not _beside(path, ".json").exists():
        return {}
    try:
        texts = json.loads(_beside(path, ".json").read_text(encoding="utf-8"))
        vectors = np.load(_beside(path, ".npy"))
    except (OSError, ValueError):
        return {}
    if vectors.shape != (len(texts), dim):
        return {}
    return dict(zip(texts, vectors, strict=True))


def _write_vectors(path: Path, store: dict[str, np.ndarray]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    vectors, texts = _beside(path, ".tmp.npy"), _beside(path, ".tmp.json")
    np.save(vectors, np.vstack(list(store.values())).astype(np.float32))
    texts.write_text(json.dumps(list(store), ensure_ascii=False), encoding="utf-8")
    vectors.replace(_beside(path, ".npy"))
    texts.replace(_beside(path, ".json"))


def _beside(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


_lock = threading.Lock()
ENCODER_LOCK = threading.Lock()
_loaded: dict[tuple[str, str], tuple[tuple, FaqIndex]] = {}


def get_index(path: Path = DEFAULT_FAQ, model: str = DEFAULT_FAQ_MODEL) -> FaqIndex:
    """The index for this FAQ and model, loaded once per process and reloaded when a FAQ
    file changes (checked by modification time and size, which costs a stat per file)."""
    key = (str(path), model)
    stamp = tuple((str(f), f.stat().st_mtime_ns, f.stat().st_size) for f in faq_files(path))
    with _lock:
        if key in _loaded and _loaded[key][0] == stamp:
            return _loaded[key][1]
        index = FaqIndex.load_or_build(path, model)
        _loaded[key] = (stamp, index)
        return index

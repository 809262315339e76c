"""The FAQ search index: every phrasing of every entry, encoded and kept in faiss (inner
product on normalised vectors, i.e. cosine). Cached on disk by FAQ content and model, and
rebuilt by itself when the FAQ changes.

An entry's score is its closest phrasing's cosine, blended with how much its closest
phrasing shares the question's character n-grams (TF-IDF): the words a shopper uses in
Arabic, Hebrew or Turkish often match a phrasing's forms better than the encoders do. The
blend's weight was chosen on the calibration questions (benchmarks/faq/calibration/): top-1
right 0.718 at 0, 0.737 at 0.1, 0.718 at 0.2."""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import faiss
import numpy as np
from tqdm import tqdm

from bot.faq.encoders import Encoder, get_encoder
from bot.faq.entries import FaqEntry, content_hash, faq_files, load_faq
from bot.settings import DEFAULT_FAQ, DEFAULT_FAQ_MODEL, PROJECT_ROOT

CACHE_DIR = PROJECT_ROOT / "var" / "faq-index"
# Part of a cached index's name: raised whenever the encoders' vectors change (2: a text
# use-m3 cannot read is encoded by e5 alone).
ENCODING_VERSION = 2
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
    def __init__(self, entries: list[FaqEntry], encoder: Encoder, index, rows: np.ndarray):
        self.entries = entries
        self.encoder = encoder
        self.index = index
        self.rows = rows  # row i of the index is a phrasing of entries[rows[i]]
        self.phrasings = [p for entry in entries for p in entry.phrasings]
        self.widest = max((len(entry.phrasings) for entry in entries), default=1)
        self.ngrams = self.lexical = None
        if self.phrasings:
            from sklearn.feature_extraction.text import TfidfVectorizer

            self.ngrams = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), sublinear_tf=True)
            self.lexical = self.ngrams.fit_transform([_lexical_text(p) for p in self.phrasings])

    def _lexical_scores(self, query: str) -> np.ndarray:
        """Per entry: the best TF-IDF cosine between the query and one of its phrasings."""
        similarity = (self.lexical @ self.ngrams.transform([_lexical_text(query)]).T).toarray()
        best = np.zeros(len(self.entries))
        np.maximum.at(best, self.rows, similarity.ravel())
        return best

    @classmethod
    def load_or_build(
        cls,
        path: Path = DEFAULT_FAQ,
        model: str = DEFAULT_FAQ_MODEL,
        cache_dir: Path | None = None,
    ) -> FaqIndex:
        entries = load_faq(path)
        encoder = get_encoder(model)
        rows = np.array(
            [i for i, entry in enumerate(entries) for _ in entry.phrasings], dtype=np.int64
        )
        safe_model = re.sub(r"[^A-Za-z0-9_.-]+", "_", model)[-60:]
        name = f"{content_hash(path)}-{safe_model}-v{ENCODING_VERSION}.faiss"
        cached = Path(cache_dir or CACHE_DIR) / name
        if cached.exists():
            index = faiss.read_index(str(cached))
        else:
            known = Path(cache_dir or CACHE_DIR) / f"vectors-{safe_model}-v{ENCODING_VERSION}"
            index = build_index(entries, encoder, known)
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_suffix(".tmp")
            faiss.write_index(index, str(partial))
            partial.replace(cached)  # never leave a half-written index behind
        return cls(entries, encoder, index, rows)

    def search(self, query: str, k: int = 5) -> list[Match]:
        """The k best entries for the query, each scored by its closest phrasing."""
        if not self.entries or not query.strip():
            return []
        # One search at a time: the actions run in threads, and the encoders' buffers are not
        # known to be thread-safe (one BLAS thread each, so nothing is lost on 2 cores).
        with ENCODER_LOCK:
            vector = self.encoder.encode([query], "query")
            # Wide enough that k different entries are always among the rows, however many
            # phrasings (languages) each entry has: the decision needs the runner-up's score.
            scores, ids = self.index.search(vector, min(len(self.rows), k * self.widest))
        lexical = self._lexical_scores(query)
        best: dict[int, Match] = {}
        for score, row in zip(scores[0], ids[0], strict=True):
            if row < 0:
                continue
            entry_number = int(self.rows[row])
            if entry_number not in best:
                blended = (1 - LEXICAL_WEIGHT) * float(score)
                blended += LEXICAL_WEIGHT * float(lexical[entry_number])
                best[entry_number] = Match(self.entries[entry_number], blended, self.phrasings[row])
        return sorted(best.values(), key=lambda m: m.score, reverse=True)[:k]


BATCH = 256


def build_index(entries: list[FaqEntry], encoder: Encoder, known: Path | None = None):
    """Encodes in batches (bounded memory) with a progress bar when the FAQ is large. With
    `known` (a vector store), only phrasings it does not have yet are encoded: an entry added
    to a FAQ of 4,000 phrasings in eleven languages takes a second, not a minute."""
    texts = [p for entry in entries for p in entry.phrasings]
    dim = encoder.encode(["dimension probe"], "document").shape[1]
    store = _read_vectors(known, dim)
    missing = list(dict.fromkeys(t for t in texts if t not in store))
    batches = range(0, len(missing), BATCH)
    for start in tqdm(
        batches, desc="Indexing the FAQ", unit="batch", disable=len(missing) <= 4 * BATCH
    ):
        batch = missing[start : start + BATCH]
        store.update(zip(batch, encoder.encode(batch, "document"), strict=True))
    index = faiss.IndexFlatIP(dim)
    if texts:
        index.add(np.vstack([store[t] for t in texts]).astype(np.float32))
    if known is not None and missing:
        _write_vectors(known, {t: store[t] for t in dict.fromkeys(texts)})
    return index


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

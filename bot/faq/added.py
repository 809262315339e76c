"""FAQ entries written by staff from the console (from an FAQ gap): kept in their own file in
the FAQ folder, so hand-edited files are never rewritten, and answered at once (the index
reloads when a FAQ file changes; no Rasa retrain)."""

from __future__ import annotations

import os
import re
import tempfile
import threading
from pathlib import Path

import yaml

from bot.faq.entries import FaqEntry, FaqError, faq_path, load_faq, parse_entry

ADDED_FILE = "added-by-staff.yml"
HEADER = (
    "# FAQ entries added by support staff from the console's Insights page (FAQ gaps).\n"
    "# Same format as faq.yml; edit or move them freely.\n"
)
MAX_QUESTION = 300
MAX_ANSWER = 2000
_write_lock = threading.Lock()
STOP_WORDS = {"do", "you", "your", "i", "a", "an", "the", "is", "are", "can", "my", "me", "to"}


def slug(question: str, taken: set[str]) -> str:
    """A free id from the question's words: "Do you offer gift wrapping?" becomes
    "offer-gift-wrapping"."""
    words = [w for w in re.findall(r"[a-z0-9]+", question.lower()) if w not in STOP_WORDS]
    base = "-".join(words[:5])[:56].strip("-") or "entry"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def add_entry(
    question: str, answer: str, alternatives: list[str], path: Path | None = None
) -> FaqEntry:
    """Validate and save a new entry; returns it as the FAQ will load it."""
    folder = Path(path or faq_path())
    if not folder.is_dir():
        raise FaqError(
            folder, None, None, "FAQ_PATH is one file; point it at a folder to add entries"
        )
    question, answer = " ".join(question.split()), " ".join(answer.split())
    if not question or len(question) > MAX_QUESTION:
        raise ValueError(f"the question must be 1-{MAX_QUESTION} characters")
    if not answer or len(answer) > MAX_ANSWER:
        raise ValueError(f"the answer must be 1-{MAX_ANSWER} characters")
    alternatives = list(dict.fromkeys(a for a in (" ".join(x.split()) for x in alternatives) if a))
    alternatives = [a[:MAX_QUESTION] for a in alternatives if a != question][:20]
    with _write_lock:
        taken = {entry.id for entry in load_faq(folder)}
        raw = {"id": slug(question, taken), "question": question, "answer": answer}
        if alternatives:
            raw["alternatives"] = alternatives
        raw["tags"] = ["added-from-gaps"]
        file = folder / ADDED_FILE
        entries = []
        if file.exists():
            entries = (yaml.safe_load(file.read_text(encoding="utf-8")) or {}).get("entries") or []
        entry = parse_entry(file, len(entries) + 1, raw)  # the loader's own checks
        write_yaml(file, HEADER, {"entries": [*entries, raw]})
    return entry


def write_yaml(file: Path, header: str, data: dict) -> None:
    """Write to a temporary file and rename: a reader never sees half a file."""
    text = header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)
    file.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=file.parent, prefix=".added-", suffix=".tmp")
    with os.fdopen(handle, "w", encoding="utf-8") as out:
        out.write(text)
    os.replace(temporary, file)

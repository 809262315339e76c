"""Phrasings the shop taught its FAQ after it was written: other ways of asking an entry that
staff added from the FAQ-gap page, or approved after shoppers confirmed the entry answered
them. Kept in `learned/phrasings.yml` in the FAQ folder, apart from the hand-edited files, and
searched like an entry's alternatives at once (the index reloads when a FAQ file changes; no
Rasa retrain)."""

from __future__ import annotations

import threading
from pathlib import Path

from bot.faq.added import MAX_QUESTION, write_yaml
from bot.faq.entries import FaqError, faq_path, learned_file, load_faq, read_phrasings

HEADER = (
    "# Other ways shoppers ask the FAQ's entries, learned from the shop: added by staff from\n"
    "# the console's FAQ gaps, or approved there after shoppers confirmed an entry answered\n"
    "# them. By entry id; edit freely.\n"
)
MAX_AT_ONCE = 20
_write_lock = threading.Lock()


def add_phrasings(entry_id: str, texts: list[str], path: Path | None = None) -> list[str]:
    """Add phrasings to an existing entry; returns the ones that were new to it."""
    folder = Path(path or faq_path())
    if not folder.is_dir():
        raise FaqError(folder, None, None, "FAQ_PATH is one file; point it at a folder")
    cleaned: list[str] = []
    seen: set[str] = set()
    for text in (" ".join(t.split())[:MAX_QUESTION] for t in texts):
        if text and text.casefold() not in seen:
            seen.add(text.casefold())
            cleaned.append(text)
    if len(cleaned) > MAX_AT_ONCE:
        raise ValueError(f"at most {MAX_AT_ONCE} phrasings at once")
    with _write_lock:
        entries = {entry.id: entry for entry in load_faq(folder)}
        if entry_id not in entries:
            raise ValueError(f"no FAQ entry {entry_id!r}")
        known = {p.casefold() for p in entries[entry_id].phrasings}
        new = [t for t in cleaned if t.casefold() not in known]
        if new:
            file = learned_file(folder)
            phrasings = read_phrasings(file)
            phrasings[entry_id] = [*phrasings.get(entry_id, []), *new]
            write_yaml(file, HEADER, {"phrasings": phrasings})
    return new

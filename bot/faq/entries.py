"""Loading the hand-edited FAQ (YAML) with errors that name the file, entry and field."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bot.settings import DEFAULT_FAQ, get_settings

ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
LANG_RE = re.compile(r"^[a-z]{2,3}(-[A-Za-z]{2})?$")


def faq_path() -> Path:
    """`FAQ_PATH`: the FAQ file or folder the assistant answers from (default data/faq)."""
    return Path(get_settings().faq_path)


class FaqError(ValueError):
    """A malformed FAQ: says which file, entry and field, and what is wrong."""

    def __init__(self, path: Path, entry: str | None, field_name: str | None, problem: str):
        where = str(path)
        if entry is not None:
            where += f", entry {entry}"
        if field_name is not None:
            where += f", field '{field_name}'"
        super().__init__(f"{where}: {problem}")


@dataclass(frozen=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    alternatives: tuple[str, ...] = ()
    answers: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()

    @property
    def phrasings(self) -> tuple[str, ...]:
        """Everything the search matches against: the question and its alternatives."""
        return (self.question, *self.alternatives)

    def answer_in(self, language: str | None) -> str:
        return self.answers.get(language or "", self.answer)


def faq_files(path: Path) -> list[Path]:
    path = Path(path)
    if path.is_dir():
        return sorted(p for p in path.glob("*.y*ml") if p.suffix in (".yml", ".yaml"))
    if not path.exists():
        raise FaqError(path, None, None, "no such file or folder")
    return [path]


def content_hash(path: Path) -> str:
    """Changes whenever any FAQ file's content changes."""
    digest = hashlib.sha256()
    for file in faq_files(path):
        digest.update(file.name.encode() + b"\0" + file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def load_faq(path: Path = DEFAULT_FAQ) -> list[FaqEntry]:
    """All entries of a FAQ file, or of every YAML file in a folder (ids unique across them)."""
    entries: list[FaqEntry] = []
    seen: dict[str, Path] = {}
    for file in faq_files(path):
        for number, entry in enumerate(_load_file(file), 1):
            if entry.id in seen:
                raise FaqError(
                    file,
                    f"#{number} ({entry.id})",
                    "id",
                    f"duplicate id (also in {seen[entry.id]})",
                )
            seen[entry.id] = file
            entries.append(entry)
    return entries


def _load_file(path: Path) -> list[FaqEntry]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise FaqError(path, None, None, f"not valid YAML: {error}") from None
    except UnicodeDecodeError:
        raise FaqError(path, None, None, "not UTF-8 text") from None
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("entries") or [], list):
        raise FaqError(path, None, "entries", "the file must have a list under 'entries:'")
    return [
        parse_entry(path, number, raw) for number, raw in enumerate(data.get("entries") or [], 1)
    ]


def parse_entry(path: Path, number: int, raw: object) -> FaqEntry:
    label = f"#{number}"
    if not isinstance(raw, dict):
        raise FaqError(path, label, None, "each entry must be a mapping of fields")
    unknown = set(raw) - {"id", "question", "alternatives", "answer", "answers", "tags"}
    if unknown:
        raise FaqError(path, label, sorted(unknown)[0], "unknown field")
    entry_id = raw.get("id")
    if not isinstance(entry_id, str) or not ID_RE.match(entry_id):
        raise FaqError(path, label, "id", "required: lowercase letters, digits and dashes")
    label = f"#{number} ({entry_id})"

    def text(name: str, value: object) -> str:
        if not isinstance(value, str) or not value.strip():
            raise FaqError(path, label, name, "required: a non-empty text")
        return " ".join(value.split())

    def texts(name: str) -> tuple[str, ...]:
        value = raw.get(name) or []
        if not isinstance(value, list):
            raise FaqError(path, label, name, "must be a list of texts")
        return tuple(text(f"{name}[{i}]", item) for i, item in enumerate(value))

    answers = raw.get("answers") or {}
    if not isinstance(answers, dict):
        raise FaqError(path, label, "answers", "must map language codes to answers")
    for language in answers:
        if not isinstance(language, str) or not LANG_RE.match(language):
            raise FaqError(path, label, "answers", f"'{language}' is not a language code")
    return FaqEntry(
        id=entry_id,
        question=text("question", raw.get("question")),
        answer=text("answer", raw.get("answer")),
        alternatives=texts("alternatives"),
        answers={lang: text(f"answers.{lang}", value) for lang, value in answers.items()},
        tags=texts("tags"),
    )

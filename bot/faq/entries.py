"""Loading the hand-edited FAQ (YAML) with errors that name the file, entry and field."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace
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
class Translation:
    """An entry in another language (`translations/<code>.yml` beside the FAQ files)."""

    question: str
    answer: str
    alternatives: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaqEntry:
    id: str
    question: str
    answer: str
    alternatives: tuple[str, ...] = ()
    answers: dict[str, str] = field(default_factory=dict)
    tags: tuple[str, ...] = ()
    translations: dict[str, Translation] = field(default_factory=dict)
    learned: tuple[str, ...] = ()  # phrasings the shop taught it, any language

    @property
    def phrasings(self) -> tuple[str, ...]:
        """Everything the search matches against: the question and its alternatives, in
        every language the entry has, and the phrasings learned from the shop."""
        translated = (p for t in self.translations.values() for p in (t.question, *t.alternatives))
        return (self.question, *self.alternatives, *translated, *self.learned)

    @property
    def answer_texts(self) -> tuple[str, ...]:
        """The answer in every language the entry has."""
        translated = (t.answer for t in self.translations.values())
        return tuple(dict.fromkeys((self.answer, *self.answers.values(), *translated)))

    def answer_in(self, language: str | None) -> str:
        if translation := self.translations.get(language or ""):
            return translation.answer
        return self.answers.get(language or "", self.answer)

    def speaks(self, language: str | None) -> bool:
        """Whether the entry has its own answer in `language` (English is the entries')."""
        return (
            not language
            or language == "en"
            or language in self.translations
            or (language in self.answers)
        )

    def question_in(self, language: str | None) -> str:
        """The question as a shopper of that language reads it (a suggestion's title)."""
        translation = self.translations.get(language or "")
        return translation.question if translation else self.question


TRANSLATIONS = "translations"
LEARNED = "learned"  # learned/phrasings.yml: bot/faq/learned.py


def _yaml_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.y*ml") if p.suffix in (".yml", ".yaml"))


def faq_files(path: Path) -> list[Path]:
    """The entry files, then the translation files (a folder's `translations/`)."""
    path = Path(path)
    if path.is_dir():
        learned = [learned_file(path)] if learned_file(path).exists() else []
        return _yaml_files(path) + _yaml_files(path / TRANSLATIONS) + learned
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
    """All entries of a FAQ file, or of every YAML file in a folder (ids unique across them),
    with their translations from the folder's `translations/`."""
    entries: list[FaqEntry] = []
    seen: dict[str, Path] = {}
    files = faq_files(path)
    translation_files = [f for f in files if f.parent.name == TRANSLATIONS]
    learned = [f for f in files if f.parent.name == LEARNED]
    for file in files:
        if file in translation_files or file in learned:
            continue
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
    for file in translation_files:
        language, translated = _load_translations(file)
        unknown = set(translated) - set(seen)
        if unknown:
            raise FaqError(file, sorted(unknown)[0], None, "no entry has this id")
        entries = [
            replace(entry, translations={**entry.translations, language: translated[entry.id]})
            if entry.id in translated
            else entry
            for entry in entries
        ]
    for file in learned:
        # An entry deleted since its phrasings were learned leaves them unused, not an error.
        phrasings = read_phrasings(file)
        entries = [
            replace(entry, learned=tuple(phrasings[entry.id])) if phrasings.get(entry.id) else entry
            for entry in entries
        ]
    return entries


def learned_file(folder: Path) -> Path:
    return Path(folder) / LEARNED / "phrasings.yml"


def read_phrasings(file: Path) -> dict[str, list[str]]:
    """Entry id -> learned phrasings (the file is optional)."""
    if not file.exists():
        return {}
    data = _read_yaml(file) or {}
    phrasings = data.get("phrasings") if isinstance(data, dict) else None
    if not isinstance(phrasings, dict):
        raise FaqError(file, None, "phrasings", "must map entry ids to lists of phrasings")
    found = {}
    for entry_id, texts in phrasings.items():
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise FaqError(file, str(entry_id), None, "must be a list of texts")
        found[str(entry_id)] = [" ".join(t.split()) for t in texts if t.strip()]
    return found


def _read_yaml(path: Path) -> object:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise FaqError(path, None, None, f"not valid YAML: {error}") from None
    except UnicodeDecodeError:
        raise FaqError(path, None, None, "not UTF-8 text") from None


def _load_translations(path: Path) -> tuple[str, dict[str, Translation]]:
    """`language: <code>` and `entries: {id: {question, alternatives, answer}}`."""
    data = _read_yaml(path)
    if not isinstance(data, dict) or not isinstance(data.get("entries"), dict):
        raise FaqError(path, None, "entries", "must map entry ids to their translation")
    language = data.get("language")
    if not isinstance(language, str) or not LANG_RE.match(language):
        raise FaqError(path, None, "language", "required: a language code such as tr or pt-BR")
    translated = {}
    for entry_id, raw in data["entries"].items():
        label = str(entry_id)
        if not isinstance(raw, dict) or set(raw) - {"question", "alternatives", "answer"}:
            raise FaqError(path, label, None, "takes question, alternatives and answer only")
        fields = _Fields(path, label, raw)
        translated[label] = Translation(
            question=fields.text("question"),
            answer=fields.text("answer"),
            alternatives=fields.texts("alternatives"),
        )
    return language, translated


@dataclass(frozen=True)
class _Fields:
    """Reads one entry's text fields, naming the file, entry and field in every error."""

    path: Path
    label: str
    raw: dict

    def text(self, name: str, value: object = None) -> str:
        value = self.raw.get(name) if value is None else value
        if not isinstance(value, str) or not value.strip():
            raise FaqError(self.path, self.label, name, "required: a non-empty text")
        return " ".join(value.split())

    def texts(self, name: str) -> tuple[str, ...]:
        value = self.raw.get(name) or []
        if not isinstance(value, list):
            raise FaqError(self.path, self.label, name, "must be a list of texts")
        return tuple(
            self.text(f"{name}[{i}]", item if isinstance(item, str) else "")
            for i, item in enumerate(value)
        )


def _load_file(path: Path) -> list[FaqEntry]:
    data = _read_yaml(path)
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
    fields = _Fields(path, label, raw)

    answers = raw.get("answers") or {}
    if not isinstance(answers, dict):
        raise FaqError(path, label, "answers", "must map language codes to answers")
    for language in answers:
        if not isinstance(language, str) or not LANG_RE.match(language):
            raise FaqError(path, label, "answers", f"'{language}' is not a language code")
    return FaqEntry(
        id=entry_id,
        question=fields.text("question"),
        answer=fields.text("answer"),
        alternatives=fields.texts("alternatives"),
        answers={lang: fields.text(f"answers.{lang}", value) for lang, value in answers.items()},
        tags=fields.texts("tags"),
    )

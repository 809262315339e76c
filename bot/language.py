"""Which language a conversation is answered in.

Decided per message, in this order:
1. an explicit choice: the widget's language menu, or a short message asking for a language
   ("English please", "Türkçe konuşalım"); a choice holds until the shopper makes another;
2. what the shopper writes, when a language identifier (lingua) is sure of it: a message of
   three words or more switches the conversation to its language;
3. the language the conversation already has, or else the channel's hint (Telegram's
   `language_code`, the widget page's or browser's language);
4. a short message lingua is sure of ("Merci beaucoup"), when nothing above decided;
5. the shop's default, `SHOP_LANGUAGE`.
"ok", "10423" or an email say nothing, so they change nothing.

The languages are the shipped catalogs (bot.i18n.languages); how shoppers name each one is
data: `data/languages/<code>.yml` (names and example requests) plus the names CLDR knows in
every shipped language.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path

import yaml
from babel import Locale
from babel.core import get_global

from bot.i18n import SOURCE_LANGUAGE, languages, supported
from bot.scripts import script_of

DATA = Path(__file__).resolve().parent.parent / "data"
LANGUAGE_DATA = DATA / "languages"
NLU_DATA = DATA / "nlu"

CHOICE, TEXT, HINT, DEFAULT = "choice", "text", "hint", "default"

# A message of fewer words is short: it decides a conversation's language only when nothing
# else has (no choice, text or hint yet), and only when lingua is sure of it.
SHORT_WORDS = 3
SURE_SHORT = 0.75  # the identifiers' mean probability of their first language, if short
SURE_MARGIN = 0.1  # ...and its lead over the second, for a longer message
# (On our checks, 2,000 messages in eleven languages, lingua alone left 2.4 % undecided; with
# the shop-talk model beside it 1 %, and one wrong pick, an English one.)
SHORT_CHOICE_WORDS = 4  # "English please", "auf Deutsch bitte"
LONG_CHOICE_WORDS = 9  # longer asks must look like one of the example requests

_NOT_LANGUAGE = re.compile(r"\S+@\S+|https?://\S+|\S*\d\S*|[#№]")
_WORD = re.compile(r"[^\W\d_]+(?:[-'’][^\W\d_]+)*")


@dataclass(frozen=True)
class Guess:
    language: str
    short: bool  # too few words to overrule a language the conversation already has


@dataclass(frozen=True)
class Decision:
    language: str
    source: str  # CHOICE, TEXT, HINT or DEFAULT
    asked_for: bool = False  # the message itself was a request for this language

    def changes(self, language: str | None, source: str | None) -> bool:
        return (self.language, self.source) != (language, source)


def words(text: str) -> list[str]:
    return _WORD.findall(_NOT_LANGUAGE.sub(" ", unicodedata.normalize("NFC", text)))


@lru_cache(maxsize=1)
def scripts() -> dict[str, str]:
    """language -> its usual script, from CLDR's likely subtags ("ru" -> "Cyrl")."""
    likely = get_global("likely_subtags")
    return {code: likely.get(code, code).split("_")[1] for code in languages()}


def _single_language_of_script(script: str) -> str | None:
    users = [code for code, used in scripts().items() if used == script]
    return users[0] if len(users) == 1 else None


@lru_cache(maxsize=1)
def _detector():
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [IsoCode639_1.from_str(code) for code in languages()]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()


def identify(text: str) -> Guess | None:
    """The language `text` is written in, or None when it says too little: no letters, or
    too few or too ambiguous words in a script several languages share. A script only one
    shipped language uses (Hangul, Hebrew...) decides at once, even for one word."""
    found = words(text)
    if not found:
        return None
    by_script: dict[str | None, int] = {}
    for word in found:
        script = script_of(word)
        by_script[script] = by_script.get(script, 0) + len(word)
    script = max(by_script, key=by_script.__getitem__)
    if script and (only := _single_language_of_script(script)):
        return Guess(only, short=False)
    text = " ".join(found)
    general = {
        value.language.iso_code_639_1.name.lower(): value.value
        for value in _detector().compute_language_confidence_values(text)
    }
    ours = _shop_talk().probabilities(text)
    both = {code: (general.get(code, 0.0) + ours.get(code, 0.0)) / 2 for code in languages()}
    (first, best), (_, second) = sorted(both.items(), key=lambda item: -item[1])[:2]
    short = len(found) < SHORT_WORDS
    if (short and best < SURE_SHORT) or (not short and best - second < SURE_MARGIN):
        return None
    return Guess(first, short)


class ShopTalk:
    """A language identifier learned from how shoppers write to us, in every shipped
    language: the NLU examples and the FAQ's questions (naive Bayes on character n-grams,
    trained in about a second). Averaged with lingua, which knows each language in general,
    it decides short chat messages lingua alone leaves open ("Hola, qué tal?")."""

    def __init__(self, examples: list[tuple[str, str]]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.naive_bayes import MultinomialNB

        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3), sublinear_tf=True)
        features = self.vectorizer.fit_transform([" ".join(words(t)).lower() for t, _ in examples])
        self.model = MultinomialNB(alpha=0.05).fit(features, [code for _, code in examples])

    def probabilities(self, text: str) -> dict[str, float]:
        row = self.vectorizer.transform([text.lower()])
        return dict(zip(self.model.classes_, self.model.predict_proba(row)[0], strict=True))


@lru_cache(maxsize=1)
def _shop_talk() -> ShopTalk:
    from bot.faq.entries import faq_path, load_faq

    examples: list[tuple[str, str]] = []
    for path in sorted(NLU_DATA.glob("*.yml")):
        examples += [(text, SOURCE_LANGUAGE) for text in nlu_examples(path)]
    for code in languages():
        path = NLU_DATA / "languages" / f"{code}.yml"
        if path.is_file():
            examples += [(text, code) for text in nlu_examples(path)]
    for entry in load_faq(faq_path()):
        examples += [(text, SOURCE_LANGUAGE) for text in (entry.question, *entry.alternatives)]
        for code, translation in entry.translations.items():
            if code in languages():
                examples += [(t, code) for t in (translation.question, *translation.alternatives)]
    return ShopTalk(examples)


_ANNOTATION = re.compile(r"\[([^\]]+)\]\([^)]+\)")


def nlu_examples(path: Path) -> list[str]:
    """The example texts of a Rasa NLU file, annotations removed."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    texts = []
    for block in raw.get("nlu") or []:
        for line in str(block.get("examples") or "").splitlines() if "intent" in block else []:
            if line.strip().startswith("- "):
                texts.append(_ANNOTATION.sub(r"\1", line.strip()[2:]))
    return texts


def warm_up() -> None:
    """Load lingua and train the shop-talk model now, not on a shopper's first message."""
    identify("warming up the language identifier")


# --- explicit choices ---------------------------------------------------------------------


@lru_cache(maxsize=1)
def _names() -> dict[str, str]:
    """Every way of naming a shipped language -> its code: CLDR's names in every shipped
    language, plus data/languages/<code>.yml."""
    names: dict[str, str] = {}
    for code in languages():
        for display_in in languages():
            name = Locale.parse(display_in).languages.get(code)
            if name:
                names[name.casefold()] = code
        for name in _language_data(code).get("names") or []:
            names[str(name).casefold()] = code
    return names


@cache
def _language_data(code: str) -> dict:
    path = LANGUAGE_DATA / f"{code}.yml"
    return (yaml.safe_load(path.read_text(encoding="utf-8")) or {}) if path.is_file() else {}


@lru_cache(maxsize=1)
def _name_pattern() -> re.Pattern[str]:
    # Longest first, so "на русском языке" wins over "русском". Names in scripts without
    # spaces between a word and its particle ("한국어로") may be followed by more letters.
    parts = []
    for name in sorted(_names(), key=len, reverse=True):
        tail = "" if script_of(name) in ("Kore", "Arab", "Hebr") else r"(?!\w)"
        parts.append(rf"(?<!\w){re.escape(name)}{tail}")
    return re.compile("|".join(parts))


def _shape(text: str) -> tuple[list[str], list[str]]:
    """The codes of the languages a text names, in order, and its words with every name
    replaced by a placeholder."""
    named: list[str] = []

    def mark(match: re.Match[str]) -> str:
        named.append(_names()[match.group(0)])
        return " LANGUAGE "

    shaped = _name_pattern().sub(mark, unicodedata.normalize("NFC", text).casefold())
    return named, words(shaped)


@lru_cache(maxsize=1)
def _request_shapes() -> list[frozenset[str]]:
    shapes = []
    for code in languages():
        for request in _language_data(code).get("requests") or []:
            shapes.append(frozenset(_shape(str(request))[1]))
    return shapes


def asked_for(text: str) -> str | None:
    """The language a message asks for, if that is what it does: "English please",
    "¿puedes hablar en español?". A longer message must look like a request for a language,
    so "the manual was only in German" is not one."""
    named, shape = _shape(text)
    if not named:
        return None
    if len(shape) > SHORT_CHOICE_WORDS:
        if len(shape) > LONG_CHOICE_WORDS:
            return None
        tokens = set(shape)
        if not any(len(tokens & req) / len(tokens | req) >= 0.5 for req in _request_shapes()):
            return None
    return named[-1]


# --- the decision -------------------------------------------------------------------------


def decide(
    text: str,
    current: str | None,
    current_source: str | None,
    hint: str | None,
    default: str,
    chosen: str | None = None,
) -> Decision:
    """The language to answer this message in. `chosen` is a choice made outside the text
    (the widget's menu)."""
    if choice := supported(chosen):
        return Decision(choice, CHOICE)
    if choice := asked_for(text):
        return Decision(choice, CHOICE, asked_for=True)
    if current and current_source == CHOICE:
        return Decision(current, CHOICE)
    guess = identify(text)
    if guess and not guess.short:
        return Decision(guess.language, TEXT)
    if current and current_source not in (None, DEFAULT):
        return Decision(current, current_source)
    if hinted := supported(hint):
        return Decision(hinted, HINT)
    if guess:  # a short message, in a conversation nothing else has decided yet
        return Decision(guess.language, TEXT)
    return Decision(current or supported(default) or languages()[0], DEFAULT)

"""Which writing system a text is in. Standard library only: the gateway (bot/language.py),
the FAQ encoders and Rasa's NLU featurizer (rasa_components/) all use it."""

from __future__ import annotations

import unicodedata

# Unicode character-name prefixes -> ISO 15924 codes, for the scripts shops write in.
_SCRIPT_NAMES = {
    "LATIN": "Latn",
    "CYRILLIC": "Cyrl",
    "HEBREW": "Hebr",
    "ARABIC": "Arab",
    "HANGUL": "Kore",
    "GREEK": "Grek",
    "THAI": "Thai",
    "DEVANAGARI": "Deva",
    "HIRAGANA": "Jpan",
    "KATAKANA": "Jpan",
    "CJK": "Hani",
    "ARMENIAN": "Armn",
    "GEORGIAN": "Geor",
}


def script_of(text: str) -> str | None:
    """The script of the first letter in `text`."""
    for char in text:
        if char.isalpha():
            name = unicodedata.name(char, "")
            return next(
                (code for prefix, code in _SCRIPT_NAMES.items() if name.startswith(prefix)), None
            )
    return None


def main_script(text: str) -> str | None:
    """The script most of the text's letters are in."""
    counts: dict[str | None, int] = {}
    for char in text:
        if char.isalpha():
            script = script_of(char)
            counts[script] = counts.get(script, 0) + 1
    return max(counts, key=counts.__getitem__) if counts else None

"""Order numbers in what shoppers type, whatever surrounds them: "#10423입니다", "10423'ün",
"№10423", "ל-10423", Arabic-Indic "١٠٤٢٣". Standard library only: Rasa's NLU component
(rasa_components/order_numbers.py) and the actions both use it."""

from __future__ import annotations

import re
import unicodedata

# Python's \d is any script's decimal digit; the look-arounds (not \b) let a suffix or particle
# written straight after the number, or a prefix letter before it, still leave a number.
_NUMBER = re.compile(r"(?<!\d)(?<!\d[.,\-/])\d{5,8}(?!\d|[.,\-/]\d)")
_NOT_AN_ORDER = re.compile(r"\S+@\S+|https?://\S+|\+\d[\d ()\-]{6,}")


def ascii_digits(text: str) -> str:
    """Every decimal digit as 0-9 ("١٠٤٢٣" -> "10423"); other characters unchanged."""
    return "".join(str(unicodedata.digit(ch)) if ch.isdecimal() else ch for ch in text)


def find_order_numbers(text: str) -> list[tuple[int, int, str]]:
    """(start, end, number in ASCII digits) for each 5-8 digit number that is not part of an
    email, a link, a phone number, a decimal or a range ("04538-132")."""
    text = unicodedata.normalize("NFC", text or "")
    masked = [(m.start(), m.end()) for m in _NOT_AN_ORDER.finditer(text)]
    found = []
    for match in _NUMBER.finditer(text):
        if any(start <= match.start() < end for start, end in masked):
            continue
        found.append((match.start(), match.end(), ascii_digits(match.group(0))))
    return found


def first_order_number(text: str) -> str | None:
    found = find_order_numbers(text)
    return found[0][2] if found else None

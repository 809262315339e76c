"""Proving an order is the shopper's: order number plus the order's email or postcode."""

from __future__ import annotations

import hmac
import re

from bot.order_numbers import ascii_digits, first_order_number
from bot.orders import OrderInfo

MAX_FAILURES = 3

EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
POSTCODE_RE = re.compile(r"^(?=.*\d)[A-Za-z0-9][A-Za-z0-9 \-]{1,8}[A-Za-z0-9]$")
# A postcode inside a sentence in any language ("PLZ 10115", "posta kodum 34394", "CEP
# 04538-132"): UK, Canadian, Dutch, or 4-7 digits with an optional -suffix.
POSTCODE_IN_TEXT_RE = re.compile(
    r"(?<![\w-])([A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|[A-Z]\d[A-Z]\s?\d[A-Z]\d|\d{4}\s?[A-Z]{2}"
    r"|\d{4,7}(?:-\d{3,4})?)"
    r"(?![\w-])"
)


def parse_order_number(text: str) -> str | None:
    """The first 5-8 digit number in the text ("#10423", "order 10423", "10423번")."""
    return first_order_number(text)


def parse_proof(text: str) -> tuple[str, str] | None:
    """("email", address) or ("postcode", normalised), or None if it looks like neither."""
    text = ascii_digits(text or "").strip()
    if email := EMAIL_RE.search(text):
        return "email", email.group(0).strip(".,;:!?<>()").lower()
    candidate = text.strip(" .,!?")
    candidate = re.sub(
        r"^(my )?(post ?code|zip( code)?|postal code)( is)?[:\s]*",
        "",
        candidate,
        flags=re.IGNORECASE,
    )
    found = {m.group(1) for m in POSTCODE_IN_TEXT_RE.finditer(candidate.upper())}
    if len(found) == 1:
        return "postcode", normalise_postcode(found.pop())
    if POSTCODE_RE.match(candidate):
        return "postcode", normalise_postcode(candidate)
    return None


def normalise_postcode(text: str) -> str:
    return re.sub(r"[\s\-]", "", text).upper()


def proof_matches(order: OrderInfo, proof: tuple[str, str]) -> bool:
    kind, value = proof
    expected = order.email.lower() if kind == "email" else normalise_postcode(order.postcode)
    return hmac.compare_digest(expected.encode(), value.encode())

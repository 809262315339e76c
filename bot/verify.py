"""Proving an order is the shopper's: order number plus the order's email or postcode."""

from __future__ import annotations

import hmac
import re

from bot.orders import OrderInfo

MAX_FAILURES = 3

ORDER_NUMBER_RE = re.compile(r"(?<![\d])#?\s?(\d{5,8})(?![\d])")
EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
POSTCODE_RE = re.compile(r"^(?=.*\d)[A-Za-z0-9][A-Za-z0-9 \-]{1,8}[A-Za-z0-9]$")


def parse_order_number(text: str) -> str | None:
    """The first 5-8 digit number in the text ("#10423", "order 10423", "10423")."""
    match = ORDER_NUMBER_RE.search(text or "")
    return match.group(1) if match else None


def parse_proof(text: str) -> tuple[str, str] | None:
    """("email", address) or ("postcode", normalised), or None if it looks like neither."""
    text = (text or "").strip()
    if email := EMAIL_RE.search(text):
        return "email", email.group(0).strip(".,;:!?<>()").lower()
    candidate = text.strip(" .,!?")
    candidate = re.sub(
        r"^(my )?(post ?code|zip( code)?|postal code)( is)?[:\s]*",
        "",
        candidate,
        flags=re.IGNORECASE,
    )
    if POSTCODE_RE.match(candidate):
        return "postcode", normalise_postcode(candidate)
    return None


def normalise_postcode(text: str) -> str:
    return re.sub(r"[\s\-]", "", text).upper()


def proof_matches(order: OrderInfo, proof: tuple[str, str]) -> bool:
    kind, value = proof
    expected = order.email.lower() if kind == "email" else normalise_postcode(order.postcode)
    return hmac.compare_digest(expected.encode(), value.encode())

"""A Babel extractor for Rasa's domain.yml: every response text is a message id, so the
English wording stays in domain.yml and the NLG endpoint (actions/nlg.py) renders it from the
shopper's catalog."""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

import yaml


def domain_responses(raw: dict) -> Iterator[tuple[str, str]]:
    """(response name, text) for every text and button title in a domain's responses."""
    for name, variations in (raw.get("responses") or {}).items():
        for variation in variations or []:
            if variation.get("text"):
                yield name, variation["text"]
            for button in variation.get("buttons") or []:
                yield name, button["title"]


def extract_rasa_responses(
    fileobj: IO[bytes], keywords: Any, comment_tags: Any, options: Any
) -> Iterator[tuple[int, None, str, list[str]]]:
    text = fileobj.read().decode("utf-8")
    lines = text.splitlines()
    for name, message in domain_responses(yaml.safe_load(text) or {}):
        lineno = next((i + 1 for i, line in enumerate(lines) if f"{name}:" in line), 0)
        yield lineno, None, message, [f"Rasa response {name}"]

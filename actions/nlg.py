"""Rasa's responses in the conversation's language: Rasa's NLG endpoint, served beside the
actions (actions/server.py).

domain.yml keeps the response names and their English text; that text is the message id of the
gettext catalogs (bot/catalog_extract.py collects it), so each language is one catalog and no
response is written eleven times. Chosen over conditional response variations on a `language`
slot, which would repeat every response per language inside domain.yml and make a new
translation a retrain."""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from bot import contract
from bot.i18n import texts
from bot.settings import get_settings

DOMAIN_FILE = Path(__file__).resolve().parent.parent / "domain.yml"
_FIELD = re.compile(r"\{(\w+)\}")


@lru_cache(maxsize=1)
def responses() -> dict[str, list[dict[str, Any]]]:
    raw = yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8")) or {}
    return raw.get("responses") or {}


def fill(template: str, values: dict[str, Any]) -> str:
    """Rasa's `{slot}` fields; one without a value stays as written, as Rasa leaves it."""
    return _FIELD.sub(
        lambda m: str(values[m.group(1)]) if values.get(m.group(1)) is not None else m.group(0),
        template,
    )


def tracker_language(tracker: dict[str, Any]) -> str:
    slots = tracker.get("slots") or {}
    metadata = (tracker.get("latest_message") or {}).get("metadata")
    return (
        slots.get(contract.LANGUAGE_SLOT)
        or contract.language_of(metadata)
        or get_settings().shop_language
    )


def render(request: dict[str, Any]) -> dict[str, Any]:
    """The body Rasa expects back for one response (`nlg_response_format_spec`)."""
    variations = responses().get(str(request.get("response")))
    if not variations:
        return {}
    tracker = request.get("tracker") or {}
    _ = texts(tracker_language(tracker))
    values = {**(tracker.get("slots") or {}), **(request.get("arguments") or {})}
    variation = variations[0]
    rendered: dict[str, Any] = {"text": fill(_(variation["text"]), values)}
    if variation.get("buttons"):
        rendered["buttons"] = [
            {"title": _(button["title"]), "payload": button["payload"]}
            for button in variation["buttons"]
        ]
    return rendered

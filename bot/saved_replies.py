"""Saved replies: ready answers staff insert into a ticket's reply box, each with a version
per language, so the shopper gets the one in their conversation's language."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select

from bot.clock import utcnow
from bot.i18n import supported
from bot.store.db import get_engine, session_scope
from bot.store.models import SavedReply

MAX_NAME, MAX_TEXT = 80, 4000


@dataclass(frozen=True)
class Version:
    name: str
    language: str
    text: str


def save(name: str, language: str, text: str, engine: Engine | None = None) -> Version:
    """Adds a saved reply's version in `language`, or replaces it."""
    name, text = " ".join(name.split())[:MAX_NAME], text.strip()[:MAX_TEXT]
    code = supported(language)
    if not name or not text or code is None:
        raise ValueError("a saved reply needs a name, a shipped language and a text")
    with session_scope(engine or get_engine()) as session:
        row = session.scalars(
            select(SavedReply).where(SavedReply.name == name, SavedReply.language == code)
        ).first()
        if row is None:
            row = SavedReply(name=name, language=code)
            session.add(row)
        row.text, row.updated_at = text, utcnow()
    return Version(name, code, text)


def every_version(engine: Engine | None = None) -> list[Version]:
    with session_scope(engine or get_engine()) as session:
        rows = session.scalars(select(SavedReply).order_by(SavedReply.name, SavedReply.language))
        return [Version(r.name, r.language, r.text) for r in rows]


def for_language(language: str | None, default: str, engine: Engine | None = None) -> list[Version]:
    """One version of each saved reply: the conversation's language, else the shop's
    default, else the first there is (staff see which language each one is in)."""
    chosen: dict[str, Version] = {}
    for version in every_version(engine):
        current = chosen.get(version.name)
        rank = _rank(version.language, language, default)
        if current is None or rank < _rank(current.language, language, default):
            chosen[version.name] = version
    return list(chosen.values())


def _rank(version: str, language: str | None, default: str) -> int:
    return 0 if version == language else 1 if version == default else 2

"""Saved replies: ready answers staff insert into a ticket's reply box, each with a version
per language, so the shopper gets the one in their conversation's language. A version may
carry placeholders (`{order_number}`, `{tracking_link}`, `{first_name}`) filled from the
ticket's verified order; one with no value stays as it is, for the agent to see and edit."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from sqlalchemy import Engine, delete, select

from bot.clock import utcnow
from bot.i18n import supported
from bot.orders import OrderInfo
from bot.store.db import get_engine, session_scope
from bot.store.models import SavedReply

MAX_NAME, MAX_TEXT = 80, 4000
PLACEHOLDERS = ("order_number", "tracking_link", "first_name")
# Only our names: any other text in braces ("{size}", a JSON snippet) is the agent's own.
PLACEHOLDER = re.compile(r"\{(" + "|".join(PLACEHOLDERS) + r")\}")


@dataclass(frozen=True)
class Version:
    name: str
    language: str
    text: str
    id: int = 0


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
        session.flush()
        return Version(name, code, text, row.id)


def every_version(engine: Engine | None = None) -> list[Version]:
    with session_scope(engine or get_engine()) as session:
        rows = session.scalars(select(SavedReply).order_by(SavedReply.name, SavedReply.language))
        return [Version(r.name, r.language, r.text, r.id) for r in rows]


def edit(version_id: int, text: str, engine: Engine | None = None) -> Version:
    """Replaces one version's text; LookupError if it is gone, ValueError if `text` is empty."""
    text = text.strip()[:MAX_TEXT]
    if not text:
        raise ValueError("a saved reply needs a text")
    with session_scope(engine or get_engine()) as session:
        row = session.get(SavedReply, version_id)
        if row is None:
            raise LookupError(version_id)
        row.text, row.updated_at = text, utcnow()
        return Version(row.name, row.language, row.text, row.id)


def delete_version(version_id: int, engine: Engine | None = None) -> Version:
    """Deletes one language's version (the reply's other versions stay); LookupError if gone."""
    with session_scope(engine or get_engine()) as session:
        row = session.get(SavedReply, version_id)
        if row is None:
            raise LookupError(version_id)
        session.delete(row)
        return Version(row.name, row.language, row.text, row.id)


def delete_reply(version_id: int, engine: Engine | None = None) -> str:
    """Deletes the whole saved reply this version belongs to, in every language; its name.
    Named through a version's id: a name may hold any character, an id fits in a path."""
    with session_scope(engine or get_engine()) as session:
        row = session.get(SavedReply, version_id)
        if row is None:
            raise LookupError(version_id)
        name = row.name
        session.execute(delete(SavedReply).where(SavedReply.name == name))
        return name


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


def placeholder_values(order: OrderInfo | None) -> dict[str, str]:
    """What the verified order gives each placeholder; a placeholder it cannot fill is absent.
    `{first_name}` is the first word of the delivery address's name (never a guess from the
    email address, which could greet the shopper wrongly)."""
    if order is None:
        return {}
    values = {"order_number": order.number}
    if order.ship_name.split():
        values["first_name"] = order.ship_name.split()[0]
    ship = order.shipment
    if ship and (ship.tracking_url or ship.tracking_number):
        values["tracking_link"] = ship.tracking_url or ship.tracking_number
    return values


def fill(text: str, values: dict[str, str]) -> str:
    """The text with each known placeholder that has a value replaced (in one pass, so a value
    that itself holds braces is not filled again); the rest left exactly as written."""
    return PLACEHOLDER.sub(lambda m: values.get(m.group(1)) or m.group(0), text)


def unfilled(text: str) -> list[str]:
    """The placeholders still in a text, for the agent to fill in by hand."""
    return [m.group(0) for m in PLACEHOLDER.finditer(text)]


def for_ticket(
    language: str | None, default: str, order: OrderInfo | None, engine: Engine | None = None
) -> list[Version]:
    """The versions a ticket's reply box offers (as `for_language`), placeholders filled."""
    values = placeholder_values(order)
    return [replace(v, text=fill(v.text, values)) for v in for_language(language, default, engine)]

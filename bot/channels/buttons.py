"""Quick-reply buttons on channels that carry a short id per button (Telegram's callback
data is at most 64 bytes; WhatsApp's reply ids are opaque): the id names the stored message
and the button's place, and the title and payload are read back from the transcript."""

from __future__ import annotations

import re

from sqlalchemy import Engine

from bot import conversations

_REF = re.compile(r"b(\d{1,12})\.(\d{1,2})")


def button_ref(message_id: int, index: int) -> str:
    return f"b{message_id}.{index}"


def resolve(conversation_id: str, ref: str, engine: Engine | None = None):
    """(title, payload) of the button `ref` names in this conversation, or None."""
    match = _REF.fullmatch(ref or "")
    if not match:
        return None
    return conversations.button(conversation_id, int(match[1]), int(match[2]), engine)


def split_text(text: str, limit: int) -> list[str]:
    """Cut a long reply into pieces of at most `limit` characters, at paragraph, line or word
    breaks where possible."""
    pieces = []
    while len(text) > limit:
        cut = max(text.rfind(sep, 0, limit + 1) for sep in ("\n\n", "\n", " "))
        if cut <= limit // 2:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces

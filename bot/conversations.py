"""Conversations and their transcripts: every message from shopper, bot and agent, stored
as it happens, with who answers the conversation now (the bot or a person)."""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError

from bot.clock import utcnow
from bot.store.db import get_engine, session_scope
from bot.store.models import ChannelReceipt, Conversation, Message, StaffUser

SENDERS = ("shopper", "bot", "agent", "system")


@dataclass(frozen=True)
class Said:
    """One stored message, as channels, the console and exports see it."""

    id: int
    sender: str
    text: str
    created_at: datetime
    buttons: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)
    agent: str | None = None
    language: str | None = None

    def as_json(self) -> dict[str, Any]:
        data = {
            "id": self.id,
            "sender": self.sender,
            "text": self.text,
            "time": self.created_at.isoformat() + "Z",
        }
        if self.language:
            data["language"] = self.language
        if self.buttons:
            data["buttons"] = self.buttons
        if self.agent:
            data["agent"] = self.agent
        return data


def stored_id(key: str) -> str:
    """What the databases keep for a conversation whose key is `key`: its SHA-256, so a copy of
    either database (the store, Rasa's trackers) opens no shopper's conversation. The key is
    random (144 bits), so a plain hash cannot be searched back."""
    return hashlib.sha256(key.encode()).hexdigest()


def start(
    channel: str, channel_user_id: str | None = None, engine: Engine | None = None
) -> Conversation:
    """A new conversation, for a channel whose users are known by `channel_user_id` (or for
    the tests); `start_with_key` when the shopper needs the key."""
    return start_with_key(channel, channel_user_id, engine)[0]


def start_with_key(
    channel: str, channel_user_id: str | None = None, engine: Engine | None = None
) -> tuple[Conversation, str]:
    """A new conversation and its key: unguessable, given to the shopper (on the web it is
    their only key to it) and never stored."""
    key = secrets.token_urlsafe(18)
    now = utcnow()
    conversation = Conversation(
        id=stored_id(key),
        channel=channel,
        channel_user_id=channel_user_id,
        mode="bot",
        created_at=now,
        updated_at=now,
    )
    with session_scope(engine or get_engine()) as session:
        session.add(conversation)
    return conversation, key


def by_key(key: str, engine: Engine | None = None) -> Conversation | None:
    """The conversation a shopper's key opens."""
    return get(stored_id(key), engine)


def get(conversation_id: str, engine: Engine | None = None) -> Conversation | None:
    with session_scope(engine or get_engine()) as session:
        return session.get(Conversation, conversation_id)


def for_channel_user(
    channel: str, channel_user_id: str, engine: Engine | None = None
) -> Conversation:
    """The latest conversation of a channel's user (a Telegram chat, a WhatsApp number),
    started if there is none."""
    with session_scope(engine or get_engine()) as session:
        found = session.scalars(
            select(Conversation)
            .where(Conversation.channel == channel, Conversation.channel_user_id == channel_user_id)
            .order_by(Conversation.created_at.desc())
            .limit(1)
        ).first()
    return found or start(channel, channel_user_id, engine)


def log_ref(conversation_id: str) -> str:
    """A conversation's short name in logs (never the key a shopper holds)."""
    return "c-" + hashlib.sha256(conversation_id.encode()).hexdigest()[:10]


def sender_key(conversation: Conversation) -> str:
    """Who is writing, for rate limits and verification locks: the channel's user where the
    channel has one (Telegram, WhatsApp), else the conversation (anonymous web shoppers)."""
    if conversation.channel_user_id:
        return f"{conversation.channel}:{conversation.channel_user_id}"
    return f"conversation:{conversation.id}"


def set_mode(conversation_id: str, mode: str, engine: Engine | None = None) -> None:
    if mode not in ("bot", "human"):
        raise ValueError(f"unknown mode {mode!r}")
    with session_scope(engine or get_engine()) as session:
        conversation = session.get(Conversation, conversation_id)
        conversation.mode = mode
        conversation.updated_at = utcnow()


def set_language(
    conversation_id: str, language: str, source: str, engine: Engine | None = None
) -> None:
    """The language the conversation is answered in from now on, and what decided it."""
    with session_scope(engine or get_engine()) as session:
        conversation = session.get(Conversation, conversation_id)
        conversation.language = language
        conversation.language_source = source


def add(
    conversation_id: str,
    sender: str,
    text: str,
    buttons: list[dict[str, str]] | None = None,
    extra: dict[str, Any] | None = None,
    agent: StaffUser | None = None,
    engine: Engine | None = None,
    language: str | None = None,
) -> Said:
    if sender not in SENDERS:
        raise ValueError(f"unknown sender {sender!r}")
    stored_extra = {**(extra or {}), **({"buttons": buttons} if buttons else {})}
    now = utcnow()
    with session_scope(engine or get_engine()) as session:
        message = Message(
            conversation_id=conversation_id,
            sender=sender,
            text=text,
            extra=json.dumps(stored_extra, ensure_ascii=False) if stored_extra else None,
            agent_id=agent.id if agent else None,
            created_at=now,
            language=language,
        )
        session.add(message)
        session.get(Conversation, conversation_id).updated_at = now
        session.flush()
        message_id = message.id
    return Said(
        message_id,
        sender,
        text,
        now,
        buttons or [],
        extra or {},
        agent.username if agent else None,
        language,
    )


def annotate(message_id: int, notes: dict[str, Any], engine: Engine | None = None) -> None:
    """Add to a stored message's extra (what Rasa read in it, what the bot did with it)."""
    with session_scope(engine or get_engine()) as session:
        message = session.get(Message, message_id)
        message.extra = json.dumps(
            {**json.loads(message.extra or "{}"), **notes}, ensure_ascii=False
        )


def messages(conversation_id: str, after: int = 0, engine: Engine | None = None) -> list[Said]:
    """The transcript, oldest first; only messages with an id above `after`."""
    with session_scope(engine or get_engine()) as session:
        rows = session.execute(
            select(Message, StaffUser.username)
            .outerjoin(StaffUser, Message.agent_id == StaffUser.id)
            .where(Message.conversation_id == conversation_id, Message.id > after)
            .order_by(Message.id)
        ).all()
    said = []
    for message, agent in rows:
        extra = json.loads(message.extra) if message.extra else {}
        buttons = extra.pop("buttons", [])
        said.append(
            Said(
                message.id,
                message.sender,
                message.text,
                message.created_at,
                buttons,
                extra,
                agent,
                message.language,
            )
        )
    return said


def offered_payloads(conversation_id: str, engine: Engine | None = None, last: int = 20) -> set:
    """The payloads of the buttons the bot showed in the conversation's last `last` messages:
    the only ones a shopper can press."""
    with session_scope(engine or get_engine()) as session:
        extras = session.scalars(
            select(Message.extra)
            .where(Message.conversation_id == conversation_id, Message.sender == "bot")
            .order_by(Message.id.desc())
            .limit(last)
        ).all()
    return {
        str(button.get("payload"))
        for extra in extras
        if extra
        for button in json.loads(extra).get("buttons") or []
    }


def button(conversation_id: str, message_id: int, index: int, engine: Engine | None = None):
    """(title, payload) of a button the bot showed in this conversation, or None."""
    with session_scope(engine or get_engine()) as session:
        message = session.get(Message, message_id)
    if message is None or message.conversation_id != conversation_id or not message.extra:
        return None
    buttons = json.loads(message.extra).get("buttons") or []
    if not 0 <= index < len(buttons):
        return None
    return buttons[index]["title"], buttons[index]["payload"]


def first_receipt(channel: str, external_id: str, engine: Engine | None = None) -> bool:
    """Record a channel's message id; False if it was recorded before (a retried delivery)."""
    try:
        with session_scope(engine or get_engine()) as session:
            session.add(
                ChannelReceipt(channel=channel, external_id=external_id, received_at=utcnow())
            )
    except IntegrityError:
        return False
    return True

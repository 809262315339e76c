"""Failed order verifications per sender, so guessing order numbers and emails is slow.

A sender is a channel's user (a Telegram chat, a WhatsApp number) or, on the web where
shoppers are anonymous, the conversation; the gateway names it in each message's metadata
(bot/contract.py). Failures count for `VERIFY_LOCK_MINUTES` (30 by
default) across that sender's conversations, and success does not wipe them: otherwise one
order of their own would let someone reset the count between guesses.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, select

from bot.clock import utcnow
from bot.settings import get_settings
from bot.store.db import get_engine, session_scope
from bot.store.models import VerificationFailure


def lock_window() -> timedelta:
    return timedelta(minutes=get_settings().verify_lock_minutes)


def record_failure(sender: str, engine: Engine | None = None) -> None:
    """Note a failure, and forget this sender's failures that no longer count."""
    now = utcnow()
    with session_scope(engine or get_engine()) as session:
        session.execute(
            delete(VerificationFailure).where(
                VerificationFailure.sender_key == sender,
                VerificationFailure.failed_at <= now - lock_window(),
            )
        )
        session.add(VerificationFailure(sender_key=sender, failed_at=now))


def recent_failures(sender: str, engine: Engine | None = None, now: datetime | None = None) -> int:
    since = (now or utcnow()) - lock_window()
    with session_scope(engine or get_engine()) as session:
        return session.scalar(
            select(func.count(VerificationFailure.id)).where(
                VerificationFailure.sender_key == sender, VerificationFailure.failed_at > since
            )
        )

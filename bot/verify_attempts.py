"""Failed order verifications, so guessing order numbers and emails is slow.

Counted two ways over `VERIFY_LOCK_MINUTES` (30 by default):
- per sender: a channel's user (a Telegram chat, a WhatsApp number) or, on the web where
  shoppers are anonymous, the conversation; the gateway names it in each message's metadata
  (bot/contract.py). Three failures lock that sender across their conversations.
- per order number: `VERIFY_ORDER_MAX_FAILURES` failures from any senders pause self-service
  proof of that order, so starting conversation after conversation does not help.
Success does not wipe either count: otherwise one order of their own would let someone reset
it between guesses. Sender keys are stored hashed (a WhatsApp sender is a phone number).
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, func, select

from bot.clock import utcnow
from bot.settings import get_settings
from bot.store.db import get_engine, session_scope
from bot.store.models import VerificationFailure


def lock_window() -> timedelta:
    return timedelta(minutes=get_settings().verify_lock_minutes)


def hashed_sender(sender: str) -> str:
    return hashlib.sha256(sender.encode()).hexdigest()


def record_failure(sender: str, order_number: str | None, engine: Engine | None = None) -> None:
    """Note a failure (on `order_number` when the shopper gave one), and forget failures that
    no longer count."""
    now = utcnow()
    with session_scope(engine or get_engine()) as session:
        session.execute(
            delete(VerificationFailure).where(VerificationFailure.failed_at <= now - lock_window())
        )
        session.add(
            VerificationFailure(
                sender_key=hashed_sender(sender), order_number=order_number, failed_at=now
            )
        )


def recent_failures(sender: str, engine: Engine | None = None, now: datetime | None = None) -> int:
    """Failures by this sender in the lock window."""
    return _count(VerificationFailure.sender_key == hashed_sender(sender), engine, now)


def order_failures(number: str, engine: Engine | None = None, now: datetime | None = None) -> int:
    """Failures on this order number, from anyone, in the lock window."""
    return _count(VerificationFailure.order_number == number, engine, now)


def order_paused(number: str | None, engine: Engine | None = None) -> bool:
    """Self-service proof of this order is paused: too many senders got it wrong lately."""
    limit = get_settings().verify_order_max_failures
    return bool(number) and order_failures(number, engine) >= limit


def _count(condition, engine: Engine | None, now: datetime | None) -> int:
    since = (now or utcnow()) - lock_window()
    with session_scope(engine or get_engine()) as session:
        return session.scalar(
            select(func.count(VerificationFailure.id)).where(
                condition, VerificationFailure.failed_at > since
            )
        )

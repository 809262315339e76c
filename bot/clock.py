"""The one clock of the store: every stored time is naive UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    """Naive UTC now, to the second: the store keeps all times in UTC without tzinfo."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def today() -> date:
    """Today in UTC: the day order rules (delivery windows, lateness) are judged on."""
    return datetime.now(UTC).date()

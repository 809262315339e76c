"""The one clock of the store: every stored time is naive UTC."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Naive UTC now, to the second: the store keeps all times in UTC without tzinfo."""
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)

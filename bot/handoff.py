"""Recording a request for a person to take over a conversation."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Engine, select

from bot.store.db import get_engine, session_scope
from bot.store.models import HandoffRequest
from bot.store.seed import utcnow

REASONS = ("shopper_request", "complaint", "verification_failed", "bot_failed")


def record_handoff(
    conversation_id: str,
    reason: str,
    transcript: list[dict[str, Any]],
    order_number: str | None = None,
    engine: Engine | None = None,
) -> int:
    """Store the request with the transcript so far; returns its id. One open request per
    conversation: asking again updates the open one instead of queueing a duplicate."""
    if reason not in REASONS:
        raise ValueError(f"unknown handoff reason {reason!r}")
    engine = engine or get_engine()
    with session_scope(engine) as session:
        request = session.scalars(
            select(HandoffRequest).where(
                HandoffRequest.conversation_id == conversation_id,
                HandoffRequest.status == "open",
            )
        ).first()
        if request is None:
            request = HandoffRequest(
                conversation_id=conversation_id, status="open", created_at=utcnow()
            )
            session.add(request)
        request.reason = reason
        request.order_number = order_number or request.order_number
        request.transcript = json.dumps(transcript, ensure_ascii=False)
        session.flush()
        return request.id

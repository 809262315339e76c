"""Order-update subscriptions and the updates owed to them, in the store database.

A conversation subscribes to an order after the shopper said yes (the actions ask; the gateway
keeps it). Each event of the order (bot/order_events.py) becomes one row per subscription, and
the unique (subscription, event) pair is what makes "at most one message per order event" hold
whatever the platforms send and however many gateways run: a row is claimed by one sender with
a conditional update before anything goes out. Sending is bot/gateway/order_updates.py's.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, and_, func, select, update
from sqlalchemy.exc import IntegrityError

from bot.clock import utcnow
from bot.order_events import DELIVERED, OrderEvent, event_of
from bot.store.db import get_engine, session_scope
from bot.store.models import Conversation, Message, OrderSubscription, OrderUpdate

KNOWN, SKIPPED, DUE, SENDING, SENT, FAILED = "known", "skipped", "due", "sending", "sent", "failed"


@dataclass(frozen=True)
class Subscriber:
    subscription_id: int
    conversation_id: str
    channel: str


@dataclass(frozen=True)
class Due:
    """An update claimed for sending."""

    id: int
    kind: str
    event: str
    attempts: int
    message_id: int | None
    conversation_id: str
    order_number: str


def subscribe(
    conversation_id: str, number: str, known: list[str] | tuple[str, ...], engine: Engine | None
) -> int:
    """The conversation is told about `number` from now on (again, if it had stopped);
    `known` events had happened already and are not news. Returns the subscription id."""
    with session_scope(engine or get_engine()) as session:
        found = session.scalars(
            select(OrderSubscription).where(
                OrderSubscription.conversation_id == conversation_id,
                OrderSubscription.order_number == number,
            )
        ).first()
        if found is None:
            found = OrderSubscription(
                conversation_id=conversation_id, order_number=number, created_at=utcnow()
            )
            session.add(found)
        found.stopped_at = None
        session.flush()
        subscription_id = found.id
    channel = _channel(conversation_id, engine)
    for key in known:
        _insert(subscription_id, event_of(key), KNOWN, channel, engine)
    return subscription_id


def stop(conversation_id: str, engine: Engine | None = None) -> int:
    """No more updates in this conversation; updates still waiting are dropped. Returns how
    many subscriptions were active."""
    with session_scope(engine or get_engine()) as session:
        active = session.scalars(
            select(OrderSubscription).where(
                OrderSubscription.conversation_id == conversation_id,
                OrderSubscription.stopped_at.is_(None),
            )
        ).all()
        for subscription in active:
            subscription.stopped_at = utcnow()
        ids = [subscription.id for subscription in active]
        if ids:
            session.execute(
                update(OrderUpdate)
                .where(OrderUpdate.subscription_id.in_(ids), OrderUpdate.status == DUE)
                .values(status=SKIPPED)
            )
        return len(active)


@dataclass(frozen=True)
class Subscription:
    order_number: str
    since: datetime
    stopped_at: datetime | None

    def as_json(self) -> dict[str, str | None]:
        return {
            "order_number": self.order_number,
            "since": self.since.isoformat() + "Z",
            "stopped_at": self.stopped_at.isoformat() + "Z" if self.stopped_at else None,
        }


def of_conversation(conversation_id: str, engine: Engine | None = None) -> list[Subscription]:
    """The orders this conversation asked to be told about, for staff."""
    with session_scope(engine or get_engine()) as session:
        rows = session.execute(
            select(
                OrderSubscription.order_number,
                OrderSubscription.created_at,
                OrderSubscription.stopped_at,
            )
            .where(OrderSubscription.conversation_id == conversation_id)
            .order_by(OrderSubscription.id)
        ).all()
    return [Subscription(*row) for row in rows]


def subscribers(number: str, engine: Engine | None = None) -> list[Subscriber]:
    """The conversations subscribed to this order now."""
    with session_scope(engine or get_engine()) as session:
        rows = session.execute(
            select(OrderSubscription.id, OrderSubscription.conversation_id, Conversation.channel)
            .join(Conversation, Conversation.id == OrderSubscription.conversation_id)
            .where(OrderSubscription.order_number == number, OrderSubscription.stopped_at.is_(None))
        ).all()
    return [Subscriber(*row) for row in rows]


def orders_to_watch(engine: Engine | None = None) -> list[str]:
    """Orders with an active subscription that has not been told "delivered": the late
    check reads these."""
    delivered = select(OrderUpdate.subscription_id).where(OrderUpdate.kind == DELIVERED)
    with session_scope(engine or get_engine()) as session:
        return list(
            session.scalars(
                select(OrderSubscription.order_number)
                .where(
                    OrderSubscription.stopped_at.is_(None),
                    OrderSubscription.id.not_in(delivered),
                )
                .distinct()
            )
        )


def recorded(subscription_id: int, engine: Engine | None = None) -> set[str]:
    """The event keys this subscription has a row for (told, due, known or skipped)."""
    with session_scope(engine or get_engine()) as session:
        return set(
            session.scalars(
                select(OrderUpdate.event).where(OrderUpdate.subscription_id == subscription_id)
            )
        )


def record(
    subscriber: Subscriber,
    tell: list[OrderEvent],
    overtaken: list[OrderEvent],
    due_at: datetime,
    engine: Engine | None = None,
) -> int:
    """New events for a subscriber: those to tell become due at `due_at`, the overtaken are
    kept as skipped. An event recorded meanwhile (another gateway, a retried webhook) is left
    alone. Returns how many became due."""
    fresh = 0
    for event in tell:
        fresh += _insert(subscriber.subscription_id, event, DUE, subscriber.channel, engine, due_at)
    for event in overtaken:
        _insert(subscriber.subscription_id, event, SKIPPED, subscriber.channel, engine, due_at)
    return fresh


def claim_due(
    now: datetime, channels: set[str], engine: Engine | None = None, limit: int = 100
) -> list[Due]:
    """Updates due by `now` on these channels (those this gateway can send on), each claimed
    for this sender only (status due -> sending)."""
    engine = engine or get_engine()
    with session_scope(engine) as session:
        rows = session.execute(
            select(
                OrderUpdate.id,
                OrderUpdate.kind,
                OrderUpdate.event,
                OrderUpdate.attempts,
                OrderUpdate.message_id,
                OrderSubscription.conversation_id,
                OrderSubscription.order_number,
            )
            .join(OrderSubscription, OrderSubscription.id == OrderUpdate.subscription_id)
            .where(
                OrderUpdate.status == DUE,
                OrderUpdate.due_at <= now,
                OrderUpdate.channel.in_(channels),
            )
            .order_by(OrderUpdate.due_at, OrderUpdate.id)
            .limit(limit)
        ).all()
    claimed = []
    for row in rows:
        with session_scope(engine) as session:
            taken = session.execute(
                update(OrderUpdate)
                .where(OrderUpdate.id == row.id, OrderUpdate.status == DUE)
                .values(status=SENDING, attempts=OrderUpdate.attempts + 1)
            ).rowcount
        if taken:
            claimed.append(Due(*row))
    return claimed


def stored_as(update_id: int, message_id: int, engine: Engine | None = None) -> None:
    """The update's message is in the transcript (a retry sends that same message)."""
    _set(update_id, engine, message_id=message_id)


def sent(update_id: int, via: str, engine: Engine | None = None) -> None:
    _set(update_id, engine, status=SENT, via=via, sent_at=utcnow())


def retry_at(update_id: int, when: datetime, engine: Engine | None = None) -> None:
    _set(update_id, engine, status=DUE, due_at=when)


def failed(update_id: int, via: str | None, engine: Engine | None = None) -> None:
    _set(update_id, engine, status=FAILED, via=via)


def release_claims(engine: Engine | None = None) -> None:
    """At start: updates a stopped gateway had claimed but not finished are due again."""
    with session_scope(engine or get_engine()) as session:
        session.execute(update(OrderUpdate).where(OrderUpdate.status == SENDING).values(status=DUE))


def last_heard(conversation_id: str, engine: Engine | None = None) -> datetime | None:
    """When the shopper last wrote in this conversation (WhatsApp's 24-hour window)."""
    with session_scope(engine or get_engine()) as session:
        return session.scalar(
            select(func.max(Message.created_at)).where(
                and_(Message.conversation_id == conversation_id, Message.sender == "shopper")
            )
        )


def quiet_until(now: datetime, quiet_hours: str, timezone: str) -> datetime | None:
    """The end of the quiet hours (`"21:00-08:00"` in `timezone`) if `now` (naive UTC) falls
    in them, as naive UTC; None when it does not or there are none."""
    if not quiet_hours.strip():
        return None
    start, end = (time.fromisoformat(part.strip()) for part in quiet_hours.split("-"))
    zone = ZoneInfo(timezone)
    local = now.replace(tzinfo=ZoneInfo("UTC")).astimezone(zone)
    clock = local.time()
    inside = start <= clock < end if start < end else (clock >= start or clock < end)
    if not inside:
        return None
    ends = datetime.combine(local.date(), end, zone)
    if ends <= local:
        ends = datetime.combine(local.date() + timedelta(days=1), end, zone)
    return ends.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def check_quiet_hours(quiet_hours: str) -> None:
    """A ValueError unless `quiet_hours` is empty or "HH:MM-HH:MM"."""
    if quiet_hours.strip():
        parts = quiet_hours.split("-")
        if len(parts) != 2:
            raise ValueError("QUIET_HOURS must look like 21:00-08:00")
        for part in parts:
            time.fromisoformat(part.strip())


def _channel(conversation_id: str, engine: Engine | None) -> str:
    with session_scope(engine or get_engine()) as session:
        return (
            session.scalar(select(Conversation.channel).where(Conversation.id == conversation_id))
            or "api"
        )


def _insert(
    subscription_id: int,
    event: OrderEvent,
    status: str,
    channel: str,
    engine: Engine | None,
    due_at: datetime | None = None,
) -> int:
    now = utcnow()
    try:
        with session_scope(engine or get_engine()) as session:
            session.add(
                OrderUpdate(
                    subscription_id=subscription_id,
                    event=event.key,
                    kind=event.kind,
                    status=status,
                    channel=channel,
                    due_at=due_at or now,
                    attempts=0,
                    created_at=now,
                )
            )
    except IntegrityError:
        return 0
    return 1


def _set(update_id: int, engine: Engine | None, **values) -> None:
    with session_scope(engine or get_engine()) as session:
        session.execute(update(OrderUpdate).where(OrderUpdate.id == update_id).values(**values))

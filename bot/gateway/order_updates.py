"""Telling subscribed shoppers when their order moves: from an order webhook, the late check,
or an update that waited (quiet hours, a retry).

When an order may have changed, it is read again from the shop's order system (the webhook
only says which order), its events are worked out (bot/order_events.py), and each new one
becomes an update per subscribed conversation (bot/order_updates.py). An update is stored in
the transcript in the conversation's language and pushed to its channel: Telegram any time,
WhatsApp as text inside the 24-hour window and as the approved template outside it; the web
widget sees it live or on the next visit. A failed push is retried with DELIVERY_RETRY_DELAYS,
kept in the database, so a restart does not lose it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from sqlalchemy.exc import OperationalError

from bot import conversations, order_updates, replies
from bot.channels.whatsapp import SERVICE_WINDOW, DeliveryRefused, Template
from bot.clock import today, utcnow
from bot.conversations import Said, log_ref
from bot.gateway.relay import Gateway, texts_of
from bot.i18n import Texts
from bot.order_events import events_of, worth_telling
from bot.orders import OrderInfo, OrderSourceUnavailable, get_order_source
from bot.policy import delivery_estimate, load_policy
from bot.settings import Settings
from bot.store.models import Conversation

logger = logging.getLogger(__name__)


class OrderUpdates:
    def __init__(self, gateway: Gateway, settings: Settings) -> None:
        order_updates.check_quiet_hours(settings.quiet_hours)
        self.gateway = gateway
        self.settings = settings
        self.engine = gateway.engine
        self._tasks: set[asyncio.Task] = set()
        self._last_late_check: datetime | None = None

    # --- in: an order may have changed ------------------------------------------------------
    def order_changed_soon(self, number: str) -> None:
        """In the background, so a platform's webhook is answered at once."""
        task = asyncio.create_task(self.order_changed(number))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def order_changed(self, number: str) -> int:
        """Read the order again and make its new events due for every subscriber; then send
        what is due. Returns how many updates became due."""
        subscribers = order_updates.subscribers(number, self.engine)
        if not subscribers:
            return 0
        order = await self._read(number)
        if order is None:
            return 0
        events = events_of(order, today())
        due_at = self._due_at()
        fresh = 0
        for subscriber in subscribers:
            told = order_updates.recorded(subscriber.subscription_id, self.engine)
            tell, overtaken = worth_telling([e for e in events if e.key not in told])
            fresh += order_updates.record(subscriber, tell, overtaken, due_at, self.engine)
        if fresh:
            await self.send_due()
        return fresh

    async def check_late(self) -> None:
        """Read every watched order again: one past its promised window becomes "late"."""
        self._last_late_check = utcnow()
        for number in order_updates.orders_to_watch(self.engine):
            await self.order_changed(number)

    # --- out ---------------------------------------------------------------------------------
    async def send_due(self) -> int:
        """Send every update due by now; returns how many went out."""
        sent = 0
        channels = {"web", "api", *self.gateway.delivery.deliverers}
        for due in order_updates.claim_due(utcnow(), channels, self.engine):
            try:
                sent += await self._send(due)
            except OrderSourceUnavailable as error:  # the text needs the order: later
                logger.warning("order update %s waits: the order system is down: %s", due.id, error)
                self._retry_or_fail(due, None)
            except Exception:  # never lose the row in "sending": try again later
                logger.exception("order update %s could not be sent", due.id)
                self._retry_or_fail(due, None)
        return sent

    async def _send(self, due: order_updates.Due) -> int:
        conversation = conversations.get(due.conversation_id, self.engine)
        order = await asyncio.to_thread(get_order_source().get_order, due.order_number)
        if conversation is None or order is None:
            order_updates.failed(due.id, None, self.engine)
            return 0
        _ = texts_of(conversation)
        template = self._template_for(conversation, due.kind)
        said = self._stored(due, conversation, order, template, _)
        deliverer = self.gateway.delivery.deliverers.get(conversation.channel)
        via = "template" if template else "text"
        try:
            if deliverer is not None and template is not None:
                values = template_values(template, order, _)
                await deliverer.send_template(conversation, template, _.language, values)
            elif deliverer is not None:
                await deliverer.deliver(conversation, [said])
        except DeliveryRefused as refused:
            logger.warning("%s: order update refused: %s", log_ref(conversation.id), refused)
            self._give_up(due, conversation, said, via)
            return 0
        except Exception as error:
            logger.warning("%s: order update not delivered (%r)", log_ref(conversation.id), error)
            self._retry_or_fail(due, via, conversation, said)
            return 0
        order_updates.sent(due.id, via, self.engine)
        return 1

    def _stored(
        self,
        due: order_updates.Due,
        conversation: Conversation,
        order: OrderInfo,
        template: Template | None,
        _: Texts,
    ) -> Said:
        """The update in the transcript, once: a retry sends the message stored the first
        time."""
        if due.message_id is not None:
            found = conversations.messages(conversation.id, due.message_id - 1, self.engine)
            if found and found[0].id == due.message_id:
                return found[0]
        text = replies.order_update(due.kind, order, load_policy(), today(), _)
        extra = {"update": due.kind, "order_number": order.number}
        if template is not None:
            extra["template"] = template.name
        said = conversations.add(
            conversation.id,
            "bot",
            text,
            buttons=replies.update_buttons(due.kind, _),
            extra=extra,
            engine=self.engine,
            language=_.language,
        )
        order_updates.stored_as(due.id, said.id, self.engine)
        self.gateway.hub.notify(conversation.id)
        return said

    def _template_for(self, conversation: Conversation, kind: str) -> Template | None:
        """WhatsApp outside the 24-hour window: the approved template for this kind."""
        if conversation.channel != "whatsapp":
            return None
        heard = order_updates.last_heard(conversation.id, self.engine)
        if heard is not None and utcnow() - heard < SERVICE_WINDOW:
            return None
        whatsapp = self.gateway.delivery.deliverers.get("whatsapp")
        return whatsapp.template(kind) if whatsapp is not None else None

    def _retry_or_fail(
        self,
        due: order_updates.Due,
        via: str | None,
        conversation: Conversation | None = None,
        said: Said | None = None,
    ) -> None:
        delays = self.settings.delivery_retry_delays  # due.attempts: tries before this one
        if due.attempts < len(delays):
            when = utcnow() + timedelta(seconds=delays[due.attempts])
            order_updates.retry_at(due.id, when, self.engine)
        elif conversation is not None and said is not None:
            self._give_up(due, conversation, said, via)
        else:
            order_updates.failed(due.id, via, self.engine)

    def _give_up(
        self, due: order_updates.Due, conversation: Conversation, said: Said, via: str | None
    ) -> None:
        """Failed for good: staff see in the transcript that the shopper did not get it."""
        order_updates.failed(due.id, via, self.engine)
        conversations.add(
            conversation.id,
            "system",
            f"Not delivered on {conversation.channel}: {said.text}",
            engine=self.engine,
        )
        self.gateway.hub.notify(conversation.id)

    # --- helpers -----------------------------------------------------------------------------
    def _due_at(self) -> datetime:
        now = utcnow()
        timezone = load_policy().support_hours.timezone
        return order_updates.quiet_until(now, self.settings.quiet_hours, timezone) or now

    async def _read(self, number: str) -> OrderInfo | None:
        """The order as the shop's system has it now; None (and a log line) when it cannot
        be read: the webhook's platform or the next check tries again."""
        try:
            return await asyncio.to_thread(get_order_source().get_order, number)
        except OrderSourceUnavailable as error:
            logger.warning("order updates: the order system is unreachable: %s", error)
            return None

    # --- the loop ----------------------------------------------------------------------------
    async def run(self) -> None:
        """Every UPDATES_CHECK_SECONDS: send what is due; every LATE_CHECK_MINUTES, the late
        check. Several gateways may all run it: each update is claimed by one, and the late
        check runs on one of them each time."""
        order_updates.release_claims(self.engine)
        while True:
            try:
                await self.send_due()
                late_every = timedelta(minutes=self.settings.late_check_minutes)
                if self._last_late_check is None or utcnow() - self._last_late_check >= late_every:
                    # One gateway of several reads the watched orders each time.
                    seconds = late_every.total_seconds()
                    if await self.gateway.shared.elect("late-check", seconds * 0.9):
                        await self.check_late()
                    else:
                        self._last_late_check = utcnow()
            except OperationalError as error:
                logger.warning("order updates: the store is unavailable: %s", error.orig)
            except Exception:
                logger.exception("order updates: the check failed; trying again")
            await asyncio.sleep(self.settings.updates_check_seconds)

    async def aclose(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=10)


def template_values(template: Template, order: OrderInfo, _: Texts) -> list[str]:
    """The values of a template's parameters, in its order, for this order."""
    ship = order.shipment
    estimate = delivery_estimate(order, load_policy(), today())
    eta = estimate.revised or estimate.latest
    issued = [refund for refund in order.refunds if refund.status == "issued"]
    known = {
        "order_number": order.number,
        "carrier": ship.carrier if ship else "",
        "tracking_number": ship.tracking_number if ship else "",
        "tracking_link": (ship.tracking_url or ship.tracking_number) if ship else "",
        "eta": _.day(eta) if eta else "",
        "reason": (ship.delay_reason or "") if ship else "",
        "amount": _.money(issued[-1].amount, issued[-1].currency) if issued else "",
    }
    return [known[name] for name in template.parameters]

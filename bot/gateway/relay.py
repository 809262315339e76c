"""Who answers a conversation, and carrying messages between shopper, bot and agent.

Bot mode: the shopper's message goes to Rasa and the replies come back. Human mode (after a
handoff): messages are stored and shown to staff, and the bot stays quiet until a person
resolves the ticket or hands the conversation back. After a resolve, or a conversation the bot
closed on its own, the shopper is asked how we did (bot/csat.py); the answers are taken here,
before Rasa, which never sees them. Getting what was said to the shopper's channel, with
retries, is bot/gateway/delivery.py's.
"""

from __future__ import annotations

import logging
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from bot import (
    contract,
    conversations,
    csat,
    faq_phrasings,
    language,
    order_updates,
    replies,
    tickets,
)
from bot.contract import Reply
from bot.conversations import Said, log_ref
from bot.gateway.alerts import Alerts
from bot.gateway.delivery import Delivery
from bot.gateway.hub import Hub
from bot.gateway.rasa_client import RasaClient, RasaUnavailable
from bot.gateway.shared import MemoryShared
from bot.i18n import Texts, texts
from bot.policy import load_policy
from bot.settings import Settings, get_settings
from bot.store.models import Conversation, StaffUser

logger = logging.getLogger(__name__)


def said_by_bot(text: str) -> Reply:
    return Reply(visible=[{"text": text}])


def texts_of(conversation: Conversation) -> Texts:
    """The shopper-facing text in the conversation's language."""
    return texts(conversation.language or get_settings().shop_language)


def keep_subscription(conversation_id: str, reply: Reply, engine: Engine | None) -> None:
    """The shopper said yes to order updates, or stop (the actions report it)."""
    if reply.subscribe is not None:
        order_updates.subscribe(
            conversation_id, reply.subscribe.order_number, reply.subscribe.known, engine
        )
    if reply.stop_updates:
        order_updates.stop(conversation_id, engine)


def shows(message: dict[str, Any]) -> bool:
    """A message the shopper sees: text or an image."""
    return bool(message.get("text") or message.get("image"))


class Gateway:
    def __init__(
        self,
        rasa: RasaClient,
        engine: Engine | None = None,
        settings: Settings | None = None,
        shared: MemoryShared | None = None,
    ) -> None:
        """`shared`: what this gateway shares with others (bot/gateway/shared.py); its own
        memory by default."""
        settings = settings or get_settings()
        self.settings = settings
        self.rasa = rasa
        self.engine = engine
        self.shared = shared = shared or MemoryShared()
        self.hub = Hub(shared)
        self.alerts = Alerts(settings, engine, shared)  # staff's live alerts and emails
        self.delivery = Delivery(self.hub, settings.delivery_retry_delays, engine, shared.retries())
        self.message_limit = shared.limiter("messages", settings.rate_limit_messages_per_minute)
        # Beyond the rate limit messages are stored but not answered; beyond this they are not
        # even stored, so one sender cannot fill the database.
        self.store_limit = shared.limiter("stored", settings.stored_messages_per_minute)
        # Web shoppers are anonymous, so each conversation is its own sender for the message
        # limit; this one, per client address, stops starting conversation after conversation.
        self.conversation_limit = shared.limiter(
            "conversations", settings.rate_limit_conversations_per_minute
        )

    def _lock(self, conversation_id: str) -> AbstractAsyncContextManager[None]:
        """One turn of a conversation at a time, in order, across every gateway."""
        return self.shared.conversation_lock(conversation_id)

    # --- shopper side ---------------------------------------------------------------------
    def _decide_language(
        self, conversation: Conversation, text: str, hint: str | None, chosen: str | None
    ) -> language.Decision:
        """bot/language.py decides; a change is stored on the conversation."""
        decision = language.decide(
            text,
            conversation.language,
            conversation.language_source,
            hint,
            self.settings.shop_language,
            chosen,
        )
        if decision.changes(conversation.language, conversation.language_source):
            conversations.set_language(
                conversation.id, decision.language, decision.source, self.engine
            )
        return decision

    async def choose_language(self, conversation: Conversation, chosen: str) -> list[Said]:
        """The shopper picked a language (the widget's menu): stored, and confirmed in it."""
        async with self._lock(conversation.id):
            self._decide_language(conversation, "", None, chosen)
            current = conversations.get(conversation.id, self.engine)
            _ = texts_of(current)
            return await self._say(current, said_by_bot(_(replies.LANGUAGE_CHOSEN)))

    async def receive(
        self,
        conversation: Conversation,
        text: str,
        payload: str | None = None,
        hint: str | None = None,
    ) -> list[Said]:
        """A shopper's message (a typed text, or a button: its title and payload). Stored
        first, then answered by the bot unless a person has the conversation or the sender
        is over the rate limit (told once, then quiet until the minute is over). `hint`: the
        channel's idea of the shopper's language (bot/language.py)."""
        cid = conversation.id
        async with self._lock(cid):
            sender = conversations.sender_key(conversation)
            if not await self.store_limit.allow(sender):
                logger.info("%s: message dropped, over the stored-message cap", log_ref(cid))
                if await self.store_limit.first_refusal(sender):
                    current = conversations.get(cid, self.engine)
                    return await self._say(
                        current, said_by_bot(texts_of(current)(replies.NOT_STORED))
                    )
                return []
            if payload and payload not in conversations.offered_payloads(cid, self.engine):
                payload = None  # only a button the bot showed here is pressed; else it is text
            allowed = await self.message_limit.allow(sender)
            extra = {"payload": payload} if payload else {}
            if not allowed:
                extra["rate_limited"] = True
            decision = self._decide_language(
                conversations.get(cid, self.engine) or conversation,
                "" if payload else text,
                hint,
                None,
            )
            shopper = conversations.add(
                cid, "shopper", text, extra=extra, engine=self.engine, language=decision.language
            )
            self.hub.notify(cid)
            current = conversations.get(cid, self.engine)
            _ = texts_of(current)
            if current.mode == "human":
                self.alerts.shopper_wrote(cid)
                return []
            if not allowed:
                logger.info("%s: sender over the rate limit", log_ref(cid))
                if await self.message_limit.first_refusal(sender):
                    return await self._say(current, said_by_bot(_(replies.SLOW_DOWN)))
                return []
            if decision.asked_for:  # "English please": nothing for Rasa to understand
                return await self._say(current, said_by_bot(_(replies.LANGUAGE_CHOSEN)))
            survey_reply = self._survey_answer(current, shopper, text, payload)
            if survey_reply is not None:  # a rating or its comment: not for Rasa
                return await self._say(current, survey_reply)
            try:
                answer = await self.rasa.send(
                    cid,
                    payload or contract.typed(text),
                    metadata=contract.message_metadata(
                        conversation.channel, sender, decision.language
                    ),
                )
            except RasaUnavailable as error:
                logger.warning("%s: %s", log_ref(cid), error)
                return await self._say(current, said_by_bot(_(replies.UNAVAILABLE)))
            reply = contract.read_reply(answer)
            if not any(shows(message) for message in reply.visible) and reply.handoff is None:
                # Rasa answered nothing: an action failed before it could say anything.
                reply.visible = [{"text": _(replies.SOMETHING_WENT_WRONG)}]
                reply.handoff = contract.Handoff(contract.ACTION_ERROR)
                reply.notes[contract.NOTE_HANDOFF] = contract.ACTION_ERROR
            said = await self._say(current, reply)
            try:
                keep_subscription(cid, reply, self.engine)
                conversations.annotate(shopper.id, reply.notes, self.engine)
                if reply.notes.get(contract.NOTE_FEEDBACK) == "yes":
                    faq_id = reply.notes.get(contract.NOTE_FAQ_ID)
                    faq_phrasings.propose_from_feedback(cid, str(faq_id), self.engine)
            except OperationalError as error:  # the reply is out; only the report loses
                logger.warning("%s: turn notes not stored: %s", log_ref(cid), error.orig)
            if reply.handoff is None:
                said += await self._ask_if_bot_closed(current, shopper, reply)
            return said

    async def receive_unsupported(self, conversation: Conversation, kind: str) -> list[Said]:
        """A sticker, photo, voice note...: noted in the transcript and answered politely
        (by the bot, or left for the person who has the conversation)."""
        cid = conversation.id
        async with self._lock(cid):
            conversations.add(
                cid, "shopper", f"[{kind}]", extra={"unsupported": kind}, engine=self.engine
            )
            self.hub.notify(cid)
            current = conversations.get(cid, self.engine)
            if current.mode == "human":
                return []
            return await self._say(current, said_by_bot(texts_of(current)(replies.TEXT_ONLY)))

    async def _say(self, conversation: Conversation, reply: Reply) -> list[Said]:
        """Store the bot's replies and deliver them. If the bot asked for a person, the
        ticket is opened and the conversation switched (one transaction, here and nowhere
        else), and the shopper is told what happens next."""
        answer = list(reply.visible)
        _ = texts_of(conversation)
        if reply.handoff is not None:
            ticket = tickets.hand_off(
                conversation.id, reply.handoff.reason, reply.handoff.order_number, self.engine
            )
            self.alerts.ticket_opened(ticket, reply.handoff.reason, conversation)
            hours = load_policy().support_hours
            answer.append({"text": replies.handoff_notice(ticket, hours, datetime.now(UTC), _)})
        said = []
        for message in answer:
            if not shows(message):
                continue
            text = message.get("text") or ""
            extra = {"image": message["image"]} if message.get("image") else None
            buttons = [
                {"title": str(b.get("title", "")), "payload": str(b.get("payload", ""))}
                for b in message.get("buttons") or []
            ]
            said.append(
                conversations.add(
                    conversation.id,
                    "bot",
                    text,
                    buttons=buttons,
                    extra=extra,
                    engine=self.engine,
                    language=_.language,
                )
            )
        await self.delivery.send(conversation, said)
        return said

    # --- the satisfaction survey (bot/csat.py) ---------------------------------------------
    async def _ask_survey(
        self,
        conversation: Conversation,
        subject: str,
        ticket_id: int | None = None,
        agent_id: int | None = None,
    ) -> list[Said]:
        """Ask "How did we do?" with 1-5 buttons, once per subject: nothing if asked before."""
        _ = texts_of(conversation)
        survey = csat.ask(
            conversation.id,
            subject,
            ticket_id,
            agent_id,
            conversation.channel,
            _.language,
            self.engine,
        )
        if survey is None:
            return []
        question = {"text": _(replies.CSAT_QUESTION), "buttons": csat.rating_buttons()}
        return await self._say(conversation, Reply(visible=[question]))

    async def _ask_if_bot_closed(
        self, conversation: Conversation, shopper: Said, reply: Reply
    ) -> list[Said]:
        """After the bot's reply to a thanks or goodbye that closes a conversation it handled
        alone (bot/csat.py `bot_closed`), the survey; once per conversation."""
        intent = reply.notes.get(contract.NOTE_INTENT)
        try:
            if csat.bot_closed(conversation.id, shopper.id, intent, self.engine):
                return await self._ask_survey(conversation, csat.BOT)
        except OperationalError as error:  # the reply is out; the survey is not worth a retry
            logger.warning("%s: survey not asked: %s", log_ref(conversation.id), error.orig)
        return []

    def _survey_answer(
        self, conversation: Conversation, shopper: Said, text: str, payload: str | None
    ) -> Reply | None:
        """The bot's reply when the shopper's message answers the survey (a rating, "No
        thanks", the comment), noted on their message; None when it is for Rasa."""
        answer = csat.answer(
            conversation.id,
            shopper.id,
            text,
            payload,
            self.engine,
            self.settings.csat_comment_minutes,
        )
        if answer is None:
            return None
        conversations.annotate(shopper.id, {csat.NOTE: answer.note}, self.engine)
        _ = texts_of(conversation)
        if answer.rated:
            no_thanks = {"title": _(replies.CSAT_NO_THANKS), "payload": csat.DONE_PAYLOAD}
            prompt = {"text": _(replies.CSAT_COMMENT_PROMPT), "buttons": [no_thanks]}
            return Reply(visible=[prompt])
        if answer.note == csat.COMMENT:
            return said_by_bot(_(replies.CSAT_COMMENT_THANKS))
        return said_by_bot(_(replies.CSAT_DONE))

    # --- staff side -----------------------------------------------------------------------
    def _conversation_of(self, ticket_id: int) -> Conversation:
        ticket = tickets.get_ticket(ticket_id, self.engine)
        if ticket is None:
            raise tickets.TicketError("no such ticket")
        conversation = conversations.get(ticket.conversation_id, self.engine)
        if conversation is None:
            raise tickets.TicketError(
                "this conversation did not come through the gateway, so there is no channel "
                "to answer on"
            )
        return conversation

    async def agent_reply(self, ticket_id: int, agent: StaffUser, text: str) -> Said:
        """An agent's message, stored and sent to the shopper on their channel."""
        conversation = self._conversation_of(ticket_id)
        async with self._lock(conversation.id):
            tickets.note_agent_reply(ticket_id, agent, self.engine)
            said = conversations.add(
                conversation.id, "agent", text, agent=agent, engine=self.engine
            )
            await self.delivery.send(conversation, [said])
            return said

    async def resolve(self, ticket_id: int, agent: StaffUser) -> None:
        """Done: the ticket closes and the bot answers the shopper's next message."""
        conversation = self._conversation_of(ticket_id)
        async with self._lock(conversation.id):
            tickets.close(ticket_id, "resolved", self.engine, by=agent)
            conversations.set_mode(conversation.id, "bot", self.engine)
            conversations.add(
                conversation.id, "system", f"Resolved by {agent.username}.", engine=self.engine
            )
            self.hub.notify(conversation.id)
            # How did we do? About the person who had the ticket (who resolved it, if nobody).
            ticket = tickets.get_ticket(ticket_id, self.engine)
            agent_id = ticket.assignee_id if ticket and ticket.assignee_id else agent.id
            current = conversations.get(conversation.id, self.engine)
            await self._ask_survey(current, csat.ticket_subject(ticket_id), ticket_id, agent_id)

    async def hand_back(self, ticket_id: int, agent: StaffUser) -> list[Said]:
        """Back to the bot, which greets the shopper again."""
        conversation = self._conversation_of(ticket_id)
        async with self._lock(conversation.id):
            tickets.close(ticket_id, "returned", self.engine, by=agent)
            conversations.set_mode(conversation.id, "bot", self.engine)
            conversations.add(
                conversation.id,
                "system",
                f"Handed back to the assistant by {agent.username}.",
                engine=self.engine,
            )
            self.hub.notify(conversation.id)
            try:
                answer = await self.rasa.trigger(conversation.id, contract.HANDED_BACK_INTENT)
            except RasaUnavailable as error:
                logger.warning("%s: hand back: %s", log_ref(conversation.id), error)
                answer = []
            current = conversations.get(conversation.id, self.engine)
            return await self._say(current, contract.read_reply(answer))

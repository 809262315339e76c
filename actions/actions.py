"""Custom actions: read the conversation, apply the shop's rules (`bot.policy`) to the order
source (`bot.orders`), and say what happened (`bot.replies`)."""

from __future__ import annotations

import abc
import asyncio
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from bot import replies
from bot.faq import service as faq
from bot.faq.entries import FaqError
from bot.orders import OrderChangeRefused, OrderInfo, get_order_source
from bot.policy import change_check, load_policy, return_check
from bot.tickets import record_handoff
from bot.verify import MAX_FAILURES, parse_order_number, parse_proof, proof_matches
from bot.verify_attempts import recent_failures, record_failure, sender_of

logger = logging.getLogger(__name__)

# Load the FAQ models and index while the action server starts, not on the first question.
threading.Thread(target=faq.warm_up, name="faq-warm-up", daemon=True).start()

YES_NO = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
CAPABILITIES = (
    "I can check an order's status or delivery date, start a return, look up a refund, "
    "cancel an order or change its delivery address"
)


def today():
    return datetime.now(UTC).date()


def verified_orders(tracker: Tracker) -> list[str]:
    return list(tracker.get_slot("verified_orders") or [])


def failures(tracker: Tracker) -> int:
    """Failed verifications by this conversation's sender in the last while (any of their
    conversations): at MAX_FAILURES verification is locked and a person is offered."""
    return recent_failures(sender_of(tracker.sender_id))


def verified_order(tracker: Tracker) -> OrderInfo | None:
    """The order in `order_id`, only if this conversation has proved it is the shopper's."""
    number = tracker.get_slot("order_id")
    if not number or number not in verified_orders(tracker):
        return None
    return get_order_source().get_order(number)


def time_budget() -> float:
    """Seconds an action may take (`ACTION_TIME_BUDGET_SECONDS`, 8 by default): a slow order
    source or database must not leave the shopper waiting for Rasa's 5-minute timeout."""
    return float(os.environ.get("ACTION_TIME_BUDGET_SECONDS", "8"))


# Actions run here, so one that is given up on does not hold the action server's event loop.
ACTION_THREADS = ThreadPoolExecutor(max_workers=8, thread_name_prefix="action")


class ShopAction(Action, abc.ABC):
    """An action that cannot leave the shopper hanging: if it fails or runs past its time
    budget, the shopper gets an apology and a person (ticket reason "action_error")."""

    uses_faq = False

    @abc.abstractmethod
    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        """What the action does; `run` guards it."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        # In a thread, so a slow call can be given up on (and the action server's event loop
        # keeps serving other conversations meanwhile); its own dispatcher, so a late
        # finish cannot add to what was already sent.
        attempt = CollectingDispatcher()
        if self.uses_faq:  # loading the FAQ model once is not the action being slow
            await asyncio.to_thread(faq.warm_up)
        try:
            work = asyncio.get_running_loop().run_in_executor(
                ACTION_THREADS, self.act, attempt, tracker, domain
            )
            events = await asyncio.wait_for(work, time_budget())
        except Exception as error:
            if isinstance(error, TimeoutError):
                logger.error("action %s ran past %.0f s", self.name(), time_budget())
            else:
                logger.exception("action %s failed", self.name())
            dispatcher.utter_message(text="Sorry, something went wrong on my side.")
            return [SlotSet("pending_action", None), *hand_off(dispatcher, tracker, "action_error")]
        dispatcher.messages.extend(attempt.messages)
        return events


class ValidateVerifyOrderForm(FormValidationAction):
    """Asks for the order number, then the order's email or postcode, and checks them
    without ever saying whether an order number exists."""

    def name(self) -> str:
        return "validate_verify_order_form"

    async def required_slots(
        self,
        domain_slots: list[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> list[str]:
        if failures(tracker) >= MAX_FAILURES:
            return []  # locked: action_answer_order_topic offers a person
        if tracker.get_slot("order_id") in verified_orders(tracker):
            return ["order_id"]
        return domain_slots

    def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        number = parse_order_number(str(value or ""))
        if number is None:
            dispatcher.utter_message(
                text="That doesn't look like an order number. It's the 5-digit number in "
                "your confirmation email, like #10423."
            )
            return {"order_id": None}
        return {"order_id": number}

    def validate_order_proof(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        proof = parse_proof(str(value or ""))
        if proof is None:
            dispatcher.utter_message(
                text="Please send the email address you ordered with (like name@example.com) "
                "or the postcode the order is going to (like 97205 or SW1A 2AA)."
            )
            return {"order_proof": None}
        number = tracker.get_slot("order_id")
        order = get_order_source().get_order(number) if number else None
        if order is not None and proof_matches(order, proof):
            return {
                "order_proof": None,
                "verified_orders": [*verified_orders(tracker), number],
                "verify_failures": 0,
            }
        sender = sender_of(tracker.sender_id)
        record_failure(sender)
        count = recent_failures(sender)
        if count < MAX_FAILURES:
            # The same words whether the number or the proof was wrong: no hint that an
            # order number exists.
            dispatcher.utter_message(
                text="Sorry, that doesn't match our records for that order number. "
                "Let's try again with both."
            )
        return {"order_id": None, "order_proof": None, "verify_failures": count}


class ValidateAddressForm(FormValidationAction):
    def name(self) -> str:
        return "validate_address_form"

    def validate_new_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        text = " ".join(str(value or "").split())
        if not 10 <= len(text) <= 300 or not any(ch.isdigit() for ch in text):
            dispatcher.utter_message(
                text="I need the full address in one message, including the house number "
                'and postcode, like "12 Harbour Road, Leeds LS1 4AP, UK".'
            )
            return {"new_address": None}
        return {"new_address": text}


class ActionAnswerOrderTopic(ShopAction):
    """After verification: answer what the shopper asked about the order."""

    def name(self) -> str:
        return "action_answer_order_topic"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order = verified_order(tracker)
        if order is None:
            if failures(tracker) >= MAX_FAILURES:
                dispatcher.utter_message(
                    text="I couldn't verify that order, so for your security I've stopped trying."
                )
                return hand_off(dispatcher, tracker, "verification_failed")
            return []
        policy = load_policy()
        topic = tracker.get_slot("order_topic") or "order_status"
        if topic == "shipping_eta":
            dispatcher.utter_message(text=replies.shipping_eta(order, policy, today()))
        elif topic == "refund":
            dispatcher.utter_message(text=replies.refund_status(order, policy))
        elif topic == "return_item":
            check = return_check(order, policy, today())
            if check.eligible:
                dispatcher.utter_message(text=replies.return_offer(order, check))
                return [SlotSet("pending_action", f"return:{order.number}")]
            dispatcher.utter_message(text=replies.return_refusal(order, check, policy))
        elif topic == "cancel_order":
            reason = change_check(order)
            if reason == "ok":
                dispatcher.utter_message(
                    text=f"Order #{order.number} hasn't shipped yet, so I can cancel it. "
                    f"Shall I cancel it now?"
                )
                return [SlotSet("pending_action", f"cancel:{order.number}")]
            dispatcher.utter_message(text=replies.change_refusal(order, reason, "cancel"))
        elif topic == "change_shipping_address":
            reason = change_check(order)
            if reason == "ok":
                dispatcher.utter_message(
                    text=f"Order #{order.number} is going to {order.ship_to} and hasn't "
                    "shipped yet, so I can change that."
                )
                return [SlotSet("new_address", None), FollowupAction("address_form")]
            dispatcher.utter_message(text=replies.change_refusal(order, reason, "address"))
        else:
            dispatcher.utter_message(text=replies.order_status(order, policy, today()))
        return [SlotSet("pending_action", None)]


class ActionConfirmAddressChange(ShopAction):
    def name(self) -> str:
        return "action_confirm_address_change"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        order = verified_order(tracker)
        address = tracker.get_slot("new_address")
        if order is None or not address:
            dispatcher.utter_message(response="utter_anything_else")
            return []
        dispatcher.utter_message(
            text=f'Just to confirm: send order #{order.number} to "{address}" instead of '
            f"{order.ship_to}?"
        )
        return [SlotSet("pending_action", f"address:{order.number}")]


class ActionResolveConfirmation(ShopAction):
    """Carries out (yes) or drops (no) whatever the assistant last proposed."""

    def name(self) -> str:
        return "action_resolve_confirmation"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        pending = tracker.get_slot("pending_action") or ""
        kind, _, number = pending.partition(":")
        yes = (tracker.latest_message.get("intent") or {}).get("name") == "affirm"
        done = [SlotSet("pending_action", None)]
        if not kind:
            dispatcher.utter_message(text="Great!" if yes else "OK.")
            dispatcher.utter_message(response="utter_anything_else")
            return done
        if kind == "faq_feedback":
            note_outcome(dispatcher, feedback="yes" if yes else "no", faq_id=number)
            if yes:
                dispatcher.utter_message(text="Glad I could help!")
                dispatcher.utter_message(response="utter_anything_else")
                return done
            dispatcher.utter_message(
                text="Sorry about that. Would you like me to connect you with a person?"
            )
            return [SlotSet("pending_action", "handoff:bot_failed")]
        if kind == "handoff":
            if yes:
                return done + hand_off(dispatcher, tracker, reason=number or "shopper_request")
            dispatcher.utter_message(text="No problem. " + CAPABILITIES + ": just ask.")
            return done
        if not yes:
            dispatcher.utter_message(text=f"OK, I've left order #{number} as it is.")
            dispatcher.utter_message(response="utter_anything_else")
            return done
        if number not in verified_orders(tracker):
            dispatcher.utter_message(text="I need to verify that order again first.")
            return done
        try:
            self.carry_out(kind, number, tracker, dispatcher)
        except OrderChangeRefused:
            order = get_order_source().get_order(number)
            reason = change_check(order) if order else "closed"
            what = "cancel" if kind == "cancel" else "address"
            if kind == "return":
                dispatcher.utter_message(text="That order can no longer be returned.")
            else:
                dispatcher.utter_message(text=replies.change_refusal(order, reason, what))
        return done

    @staticmethod
    def carry_out(
        kind: str, number: str, tracker: Tracker, dispatcher: CollectingDispatcher
    ) -> None:
        source = get_order_source()
        policy = load_policy()
        if kind == "cancel":
            order = source.cancel_order(number)
            text = f"Done: order #{number} is cancelled."
            if order.refunds:
                refund = order.refunds[-1]
                text += (
                    f" We're refunding {replies.money(refund.amount, refund.currency)} to your "
                    f"{refund.method}; it takes {policy.refund_days[0]}-"
                    f"{policy.refund_days[1]} business days to show on your statement."
                )
            else:
                text += " You hadn't been charged, so there's nothing to refund."
            dispatcher.utter_message(text=text)
        elif kind == "address":
            order = source.change_address(number, tracker.get_slot("new_address"))
            dispatcher.utter_message(text=f"Done: order #{number} will now go to {order.ship_to}.")
        elif kind == "return":
            order = source.get_order(number)
            check = return_check(order, policy, today())
            if not check.eligible:
                dispatcher.utter_message(text=replies.return_refusal(order, check, policy))
                return
            rma = source.create_return(number, [line.sku for line in check.lines])
            dispatcher.utter_message(
                text=f"Your return is open: {rma.rma_number}. We've emailed a prepaid label "
                f"to the address on the order. Send the items by {replies.day(check.deadline)}"
                f"; we refund within {policy.refund_days[1]} business days of receiving them."
            )


def note_outcome(dispatcher: CollectingDispatcher, **fields: str) -> None:
    """What this turn did, for the gateway to note on the shopper's message (the insights
    report counts FAQ answers, "don't know"s and feedback from it); never shown."""
    dispatcher.utter_message(json_message={"outcome": fields})


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> list[EventType]:
    """Open a ticket, tell the shopper what happens next, and tell the gateway (a custom
    message it reads and does not show) that a person answers this conversation now."""
    numbers = verified_orders(tracker)
    ticket = record_handoff(
        conversation_id=tracker.sender_id,
        reason=reason,
        order_number=numbers[-1] if numbers else None,
    )
    notice = replies.handoff_notice(ticket, load_policy().support_hours, datetime.now(UTC))
    dispatcher.utter_message(text=notice)
    dispatcher.utter_message(json_message={"handoff": {"ticket": ticket, "reason": reason}})
    return [SlotSet("faq_misses", 0)]


class ActionHumanHandoff(ShopAction):
    def name(self) -> str:
        return "action_human_handoff"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return [SlotSet("pending_action", None), *hand_off(dispatcher, tracker, "shopper_request")]


class ActionOfferHandoff(ShopAction):
    """An upset shopper is offered a person straight away."""

    def name(self) -> str:
        return "action_offer_handoff"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(
            text="I'm really sorry about this. I can hand you over to a person on our team "
            "right now. Would you like that?"
        )
        return [SlotSet("pending_action", "handoff:complaint")]


class ActionFaqAnswer(ShopAction):
    """A store question, or a message the NLU was unsure about: answer from the FAQ, offer
    the closest entries, or say honestly that the assistant doesn't know."""

    uses_faq = True

    def name(self) -> str:
        return "action_faq_answer"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        question = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        try:
            reply = faq.reply_to(question, store_question=intent == "faq")
        except FaqError:
            # A broken FAQ file must not break the conversation: say we don't know.
            logger.exception("the FAQ cannot be loaded")
            reply = faq.FaqReply("unknown")
        return say_faq_reply(dispatcher, tracker, reply, question)


class ActionFaqChoice(ShopAction):
    """The shopper picked one of the suggested FAQ entries."""

    uses_faq = True

    def name(self) -> str:
        return "action_faq_choice"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        entry_id = next(tracker.get_latest_entity_values("faq_id"), None) or ""
        question = last_shopper_text(tracker)
        reply = faq.answer_entry(entry_id, faq.language_of(question) if question else None)
        return say_faq_reply(dispatcher, tracker, reply, question)


def last_shopper_text(tracker: Tracker) -> str:
    """The last thing the shopper typed (a button press is not typing)."""
    for event in reversed(tracker.events):
        text = event.get("text") or ""
        if event.get("event") == "user" and text and not text.startswith("/"):
            return text
    return ""


def say_faq_reply(
    dispatcher: CollectingDispatcher, tracker: Tracker, reply: faq.FaqReply, question: str
) -> list[EventType]:
    misses = int(tracker.get_slot("faq_misses") or 0)
    if reply.kind == "answer":
        dispatcher.utter_message(text=reply.text)
        note_outcome(dispatcher, outcome="faq_answer", faq_id=reply.entry_id)
        dispatcher.utter_message(text="Did that help?", buttons=YES_NO)
        return [
            SlotSet("faq_misses", 0),
            SlotSet("pending_action", f"faq_feedback:{reply.entry_id}"),
        ]
    if reply.kind == "suggest":
        dispatcher.utter_message(
            text="I'm not sure I understood. Did you mean one of these?",
            buttons=[
                {"title": entry.question, "payload": f'/faq_choice{{"faq_id": "{entry.id}"}}'}
                for entry in reply.suggestions
            ],
        )
        note_outcome(dispatcher, outcome="faq_suggested")
        return [SlotSet("pending_action", None)]
    misses += 1
    note_outcome(dispatcher, outcome="unknown")
    if misses >= 2:
        dispatcher.utter_message(text="I'm sorry, I don't know that one either.")
        return [SlotSet("pending_action", None), *hand_off(dispatcher, tracker, "bot_failed")]
    else:
        dispatcher.utter_message(
            text=f"Sorry, I don't know that one. {CAPABILITIES}, and answer questions about "
            "shipping, returns, payment and your account. Could you put it another way, or "
            "shall I connect you with a person?"
        )
    return [SlotSet("faq_misses", misses), SlotSet("pending_action", "handoff:bot_failed")]


class ActionWelcomeBack(ShopAction):
    """Staff handed the conversation back: the bot greets the shopper and starts afresh."""

    def name(self) -> str:
        return "action_welcome_back"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        dispatcher.utter_message(
            text=f"Hi again, it's the shop assistant. {CAPABILITIES}; just ask if there's "
            "anything else."
        )
        return [
            SlotSet("pending_action", None),
            SlotSet("faq_misses", 0),
            SlotSet("order_topic", None),
        ]

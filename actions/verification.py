"""Proof that an order is the shopper's: its number, then its email or delivery postcode."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import sender, texts_for, verification_locked, verified_orders
from actions.shop_action import ORDER_SYSTEM_DOWN_SLOT
from bot import replies
from bot.orders import OrderSourceUnavailable, get_order_source
from bot.verify import MAX_FAILURES, parse_order_number, parse_proof, proof_matches
from bot.verify_attempts import order_paused, recent_failures, record_failure


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
        if verification_locked(tracker) or tracker.get_slot(ORDER_SYSTEM_DOWN_SLOT):
            return []  # action_answer_order_topic offers a person
        if tracker.get_slot("order_id") in verified_orders(tracker):
            return ["order_id"]
        return domain_slots

    async def extract_order_proof(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        """An email given before it was asked for ("where's 10423? I ordered as
        zoe@example.com", or with the order number) is taken, not asked for again. Only the
        latest message: an email that already failed is never tried twice."""
        if tracker.get_slot("order_proof") or tracker.get_slot("requested_slot") == "order_proof":
            return {}
        proof = parse_proof(tracker.latest_message.get("text") or "")
        return {"order_proof": proof[1]} if proof and proof[0] == "email" else {}

    def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        _ = texts_for(tracker)
        number = parse_order_number(str(value or ""))
        if number is None:
            dispatcher.utter_message(text=_(replies.NOT_AN_ORDER_NUMBER))
            return {"order_id": None}
        return {"order_id": number}  # a paused order ends the form (required_slots)

    def validate_order_proof(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        _ = texts_for(tracker)
        proof = parse_proof(str(value or ""))
        if proof is None:
            dispatcher.utter_message(text=_(replies.NOT_A_PROOF))
            return {"order_proof": None}
        number = tracker.get_slot("order_id")
        if order_paused(number):  # others got it wrong too often lately: not even checked
            return {"order_proof": None}
        try:
            order = get_order_source().get_order(number) if number else None
        except OrderSourceUnavailable:  # not the shopper's failure: nothing counted
            return {"order_proof": None, ORDER_SYSTEM_DOWN_SLOT: True}
        if order is not None and proof_matches(order, proof):
            return {
                "order_proof": None,
                "verified_orders": [*verified_orders(tracker), number],
                "verify_failures": 0,
            }
        who = sender(tracker)
        record_failure(who, number)
        count = recent_failures(who)
        if count < MAX_FAILURES:
            dispatcher.utter_message(text=_(replies.PROOF_MISMATCH))
        return {"order_id": None, "order_proof": None, "verify_failures": count}

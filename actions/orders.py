"""After verification: answer what the shopper asked about the order, and propose or make the
changes a shopper may make themselves (cancel, new address, return) after an explicit yes."""

from __future__ import annotations

from typing import Any

from rasa_sdk import FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import hand_off, texts_for, verification_locked, verified_order
from actions.shop_action import ORDER_SYSTEM_DOWN_SLOT, ShopAction, order_system_down
from bot import contract, replies
from bot.clock import today
from bot.order_events import still_moving
from bot.orders import OrderChangeRefused, OrderInfo, get_order_source
from bot.policy import change_check, load_policy, return_check

CHANGES = ("cancel", "address", "return")
UPDATES_SLOT = "updates_order"  # the order this conversation gets updates about


class ValidateAddressForm(FormValidationAction):
    def name(self) -> str:
        return "validate_address_form"

    def validate_new_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> dict[str, Any]:
        _ = texts_for(tracker)
        text = " ".join(str(value or "").split())
        if not 10 <= len(text) <= 300 or not any(ch.isdigit() for ch in text):
            dispatcher.utter_message(text=_(replies.ADDRESS_INCOMPLETE))
            return {"new_address": None}
        return {"new_address": text}


class ActionAnswerOrderTopic(ShopAction):
    """After verification: answer what the shopper asked about the order."""

    def name(self) -> str:
        return "action_answer_order_topic"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        _ = texts_for(tracker)
        if tracker.get_slot(ORDER_SYSTEM_DOWN_SLOT):  # the form could not look the order up
            return order_system_down(dispatcher, tracker)
        order = verified_order(tracker)
        if order is None:
            if verification_locked(tracker):
                dispatcher.utter_message(text=_(replies.VERIFICATION_STOPPED))
                return hand_off(dispatcher, tracker, contract.VERIFICATION_FAILED)
            return []
        policy = load_policy()
        topic = tracker.get_slot("order_topic") or "order_status"
        say = dispatcher.utter_message
        if topic == "shipping_eta":
            say(text=replies.shipping_eta(order, policy, today(), _))
            return offer_updates(order, tracker, dispatcher)
        elif topic == "refund":
            say(text=replies.refund_status(order, policy, _))
        elif topic == "return_item":
            check = return_check(order, policy, today())
            if check.eligible:
                say(text=replies.return_offer(order, check, _))
                return [SlotSet("pending_action", f"return:{order.number}")]
            say(text=replies.return_refusal(order, check, policy, _))
        elif topic == "cancel_order":
            reason = change_check(order)
            if reason == "ok":
                say(text=replies.cancel_offer(order, _))
                return [SlotSet("pending_action", f"cancel:{order.number}")]
            say(text=replies.change_refusal(order, reason, "cancel", _))
        elif topic == "change_shipping_address":
            reason = change_check(order)
            if reason == "ok":
                say(text=replies.address_change_offer(order, _))
                return [SlotSet("new_address", None), FollowupAction("address_form")]
            say(text=replies.change_refusal(order, reason, "address", _))
        elif topic == "my_data":  # an export or erasure is done by staff (bot privacy)
            say(text=_(replies.PRIVACY_REQUEST))
            return [
                SlotSet("pending_action", None),
                *hand_off(dispatcher, tracker, contract.PRIVACY_REQUEST),
            ]
        else:
            say(text=replies.order_status(order, policy, today(), _))
            return offer_updates(order, tracker, dispatcher)
        return [SlotSet("pending_action", None)]


def offer_updates(
    order: OrderInfo, tracker: Tracker, dispatcher: CollectingDispatcher
) -> list[EventType]:
    """After an order answer: "Shall I message you here when it ships?", unless there is
    nothing more to tell or this conversation is already told about this order."""
    if not still_moving(order) or tracker.get_slot(UPDATES_SLOT) == order.number:
        return [SlotSet("pending_action", None)]
    _ = texts_for(tracker)
    dispatcher.utter_message(text=replies.updates_offer(order, _), buttons=replies.yes_no(_))
    return [SlotSet("pending_action", f"updates:{order.number}")]


class ActionConfirmAddressChange(ShopAction):
    def name(self) -> str:
        return "action_confirm_address_change"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        _ = texts_for(tracker)
        order = verified_order(tracker)
        address = tracker.get_slot("new_address")
        if order is None or not address:
            dispatcher.utter_message(response="utter_anything_else")
            return []
        dispatcher.utter_message(text=replies.address_change_confirm(order, address, _))
        return [SlotSet("pending_action", f"address:{order.number}")]


def make_change(kind: str, number: str, tracker: Tracker, dispatcher: CollectingDispatcher) -> None:
    """Carry out a change the shopper said yes to, on an order this conversation verified;
    if the order changed meanwhile (shipped, say), say why it can no longer be done."""
    _ = texts_for(tracker)
    source = get_order_source()
    policy = load_policy()
    say = dispatcher.utter_message
    try:
        if kind == "cancel":
            say(text=replies.cancelled(source.cancel_order(number), policy, _))
        elif kind == "address":
            say(
                text=replies.address_changed(
                    source.change_address(number, tracker.get_slot("new_address")), _
                )
            )
        elif kind == "return":
            order = source.get_order(number)
            check = return_check(order, policy, today())
            if not check.eligible:
                say(text=replies.return_refusal(order, check, policy, _))
                return
            rma = source.create_return(number, [line.sku for line in check.lines])
            say(text=replies.return_opened(rma.rma_number, check.deadline, policy, _))
    except OrderChangeRefused:
        if kind == "return":
            say(text=_(replies.NO_LONGER_RETURNABLE))
            return
        order = source.get_order(number)
        reason = change_check(order) if order else "closed"
        what = "cancel" if kind == "cancel" else "address"
        say(text=replies.change_refusal(order, reason, what, _))

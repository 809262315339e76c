"""A person: asked for, offered to an upset shopper, and the bot's greeting when staff hand the
conversation back."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import hand_off, texts_for
from actions.shop_action import ShopAction
from bot import contract, replies


class ActionHumanHandoff(ShopAction):
    def name(self) -> str:
        return "action_human_handoff"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        return [
            SlotSet("pending_action", None),
            *hand_off(dispatcher, tracker, contract.SHOPPER_REQUEST),
        ]


class ActionOfferHandoff(ShopAction):
    """An upset shopper is offered a person straight away."""

    def name(self) -> str:
        return "action_offer_handoff"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        _ = texts_for(tracker)
        dispatcher.utter_message(text=_(replies.UPSET_OFFER_PERSON))
        return [SlotSet("pending_action", f"handoff:{contract.COMPLAINT}")]


class ActionWelcomeBack(ShopAction):
    """Staff handed the conversation back: the bot greets the shopper and starts afresh."""

    def name(self) -> str:
        return "action_welcome_back"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        _ = texts_for(tracker)
        dispatcher.utter_message(text=_(replies.WELCOME_BACK))
        return [
            SlotSet("pending_action", None),
            SlotSet("faq_misses", 0),
            SlotSet("order_topic", None),
        ]

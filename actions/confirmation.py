"""The shopper's yes or no to whatever the assistant last proposed: an order change, "did that
help?" after an FAQ answer, or a person."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import hand_off, note_outcome, texts_for, verified_orders
from actions.orders import CHANGES, UPDATES_SLOT, make_change
from actions.shop_action import ShopAction
from bot import contract, replies
from bot.clock import today
from bot.faq import service as faq
from bot.i18n import Texts
from bot.order_events import events_of
from bot.orders import get_order_source


class ActionResolveConfirmation(ShopAction):
    """Carries out (yes) or drops (no) whatever the assistant last proposed (`pending_action`,
    "kind:detail")."""

    def name(self) -> str:
        return "action_resolve_confirmation"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        _ = texts_for(tracker)
        pending = tracker.get_slot("pending_action") or ""
        kind, _colon, detail = pending.partition(":")
        yes = (tracker.latest_message.get("intent") or {}).get("name") == "affirm"
        done = [SlotSet("pending_action", None)]
        say = dispatcher.utter_message
        if kind == "faq_feedback":
            note_outcome(dispatcher, feedback="yes" if yes else "no", faq_id=detail)
            if not yes:
                say(text=_(replies.SORRY_OFFER_PERSON))
                return [SlotSet("pending_action", f"handoff:{contract.BOT_FAILED}")]
            say(text=_(replies.GLAD_IT_HELPED))
        elif kind == "handoff":
            if yes:
                return done + hand_off(dispatcher, tracker, detail or contract.SHOPPER_REQUEST)
            say(text=_(replies.NO_PROBLEM))
            return done
        elif kind == "updates":
            if not yes:
                say(text=_(replies.OK))
            elif detail not in verified_orders(tracker):
                say(text=_(replies.VERIFY_AGAIN))
                return done
            else:
                return done + subscribe(detail, dispatcher, _)
        elif kind in CHANGES:
            if not yes:
                say(text=replies.left_as_is(detail, _))
            elif detail not in verified_orders(tracker):
                say(text=_(replies.VERIFY_AGAIN))
                return done
            else:
                make_change(kind, detail, tracker, dispatcher)
                return done
        else:  # nothing was proposed
            say(text=_(replies.GREAT) if yes else _(replies.OK))
        say(response="utter_anything_else")
        return done


def subscribe(number: str, dispatcher: CollectingDispatcher, _: Texts) -> list[EventType]:
    """Yes to updates: the gateway keeps the subscription; what has already happened to the
    order is not news."""
    order = get_order_source().get_order(number)
    known = [event.key for event in events_of(order, today())] if order else []
    dispatcher.utter_message(json_message=contract.updates_subscribe(number, known))
    dispatcher.utter_message(text=_(replies.UPDATES_ON, number=number))
    return [SlotSet(UPDATES_SLOT, number)]


class ActionStopUpdates(ShopAction):
    """Stop updates (typed, or the button under an update): the gateway ends every
    subscription of this conversation. From a shopper who gets no updates here, a message the
    FAQ answers outright ("unsubscribe me from the newsletter") is an FAQ question."""

    uses_faq = True

    def name(self) -> str:
        return "action_stop_updates"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        text = tracker.latest_message.get("text") or ""
        typed = not text.startswith("/")  # not the button's payload
        if tracker.get_slot(UPDATES_SLOT) is None and typed and faq.search(text).kind == "answer":
            return [FollowupAction("action_faq_answer")]
        dispatcher.utter_message(json_message=contract.updates_stop())
        dispatcher.utter_message(text=texts_for(tracker)(replies.UPDATES_OFF))
        return [SlotSet(UPDATES_SLOT, None), SlotSet("pending_action", None)]

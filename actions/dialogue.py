"""What the actions read from a conversation (verified orders, the sender, the shopper's last
words) and the hidden messages they add to a reply (bot/contract.py)."""

from __future__ import annotations

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from bot import contract
from bot.i18n import Texts, texts
from bot.orders import OrderInfo, get_order_source
from bot.settings import get_settings
from bot.verify import MAX_FAILURES
from bot.verify_attempts import order_paused, recent_failures


def verified_orders(tracker: Tracker) -> list[str]:
    return list(tracker.get_slot("verified_orders") or [])


def verified_order(tracker: Tracker) -> OrderInfo | None:
    """The order in `order_id`, only if this conversation has proved it is the shopper's."""
    number = tracker.get_slot("order_id")
    if not number or number not in verified_orders(tracker):
        return None
    return get_order_source().get_order(number)


def language(tracker: Tracker) -> str:
    """The conversation's language: the `language` slot Rasa fills from the gateway's
    metadata, else the metadata itself, else the shop's default."""
    return (
        tracker.get_slot(contract.LANGUAGE_SLOT)
        or contract.language_of(tracker.latest_message.get("metadata"))
        or get_settings().shop_language
    )


def texts_for(tracker: Tracker) -> Texts:
    """The shopper-facing text in the conversation's language (`_` in the actions)."""
    return texts(language(tracker))


def sender(tracker: Tracker) -> str:
    """Who is writing (a Telegram chat, a WhatsApp number, a web conversation), as the gateway
    said in the message's metadata."""
    return contract.sender_of(tracker.latest_message.get("metadata"), tracker.sender_id)


def failures(tracker: Tracker) -> int:
    """Failed verifications by this conversation's sender in the last while (any of their
    conversations): at MAX_FAILURES verification is locked and a person is offered."""
    return recent_failures(sender(tracker))


def verification_locked(tracker: Tracker) -> bool:
    """No more self-service proof here: this sender failed too often, or (for an order not yet
    proved in this conversation) too many senders failed on the order being asked about."""
    number = tracker.get_slot("order_id")
    if number and number not in verified_orders(tracker) and order_paused(number):
        return True
    return failures(tracker) >= MAX_FAILURES


def note_outcome(dispatcher: CollectingDispatcher, **fields: str) -> None:
    """What this turn did, for the gateway to note on the shopper's message (the insights
    report counts FAQ answers, "don't know"s and feedback from it); never shown."""
    dispatcher.utter_message(json_message=contract.outcome(**fields))


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> list[EventType]:
    """Ask the gateway for a person: it opens the ticket, switches the conversation and tells
    the shopper what happens next."""
    numbers = verified_orders(tracker)
    request = contract.handoff_request(reason, numbers[-1] if numbers else None)
    dispatcher.utter_message(json_message=request)
    return [SlotSet("faq_misses", 0)]

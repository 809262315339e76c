"""Store questions, and messages the NLU was unsure about: answer from the FAQ, offer the
closest entries (one round at most), or say honestly that the assistant does not know and offer
a person (twice: a person)."""

from __future__ import annotations

import logging
import threading

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.dialogue import hand_off, language, note_outcome, texts_for
from actions.shop_action import ShopAction
from bot import contract, replies
from bot.faq import service as faq
from bot.faq.encoders import parse_vectors
from bot.faq.entries import FaqError
from bot.i18n import SOURCE_LANGUAGE, language_name

logger = logging.getLogger(__name__)

# Load the FAQ models and index while the action server starts, not on the first question.
threading.Thread(target=faq.warm_up, name="faq-warm-up", daemon=True).start()


class ActionFaqAnswer(ShopAction):
    uses_faq = True

    def name(self) -> str:
        return "action_faq_answer"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        question = tracker.latest_message.get("text") or ""
        intent = (tracker.latest_message.get("intent") or {}).get("name")
        # Rasa's featurizer encoded this message already: its vectors, when they are for it.
        known = parse_vectors(tracker.latest_message, question)
        try:
            reply = faq.reply_to(question, intent=intent, language=language(tracker), known=known)
        except FaqError:
            # A broken FAQ file must not break the conversation: say we don't know.
            logger.exception("the FAQ cannot be loaded")
            reply = faq.FaqReply("unknown")
        if reply.kind == "suggest" and suggested_last_turn(tracker):
            # The shopper did not find it among the last suggestions: no second round.
            reply = faq.FaqReply("unknown", language=reply.language)
        return say_faq_reply(dispatcher, tracker, reply)


def suggested_last_turn(tracker: Tracker) -> bool:
    """Whether the assistant's last turn offered FAQ entries to pick from."""
    shopper_messages = 0
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            shopper_messages += 1
            if shopper_messages == 2:
                return False
        elif event.get("event") == "bot" and shopper_messages == 1:
            buttons = (event.get("data") or {}).get("buttons") or []
            if any(str(b.get("payload", "")).startswith("/faq_choice") for b in buttons):
                return True
    return False


class ActionFaqChoice(ShopAction):
    """The shopper picked one of the suggested FAQ entries."""

    uses_faq = True

    def name(self) -> str:
        return "action_faq_choice"

    def act(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> list[EventType]:
        entry_id = next(tracker.get_latest_entity_values("faq_id"), None) or ""
        reply = faq.answer_entry(entry_id, language(tracker))
        return say_faq_reply(dispatcher, tracker, reply)


def say_faq_reply(
    dispatcher: CollectingDispatcher, tracker: Tracker, reply: faq.FaqReply
) -> list[EventType]:
    _ = texts_for(tracker)
    say = dispatcher.utter_message
    if reply.kind == "answer":
        if not reply.translated:
            default = language_name(SOURCE_LANGUAGE, _.language)
            say(text=_(replies.ANSWER_IN_DEFAULT, language=default))
        say(text=reply.text)
        note_outcome(dispatcher, kind=contract.FAQ_ANSWER, faq_id=reply.entry_id)
        say(text=_(replies.DID_THAT_HELP), buttons=replies.yes_no(_))
        return [
            SlotSet("faq_misses", 0),
            SlotSet("pending_action", f"faq_feedback:{reply.entry_id}"),
        ]
    if reply.kind == "suggest":
        say(
            text=_(replies.DID_YOU_MEAN),
            buttons=[
                {
                    "title": entry.question_in(reply.language),
                    "payload": f'/faq_choice{{"faq_id": "{entry.id}"}}',
                }
                for entry in reply.suggestions
            ],
        )
        note_outcome(dispatcher, kind=contract.FAQ_SUGGESTED)
        return [SlotSet("pending_action", None)]
    note_outcome(dispatcher, kind=contract.UNKNOWN)
    misses = int(tracker.get_slot("faq_misses") or 0) + 1
    if misses >= 2:
        say(text=_(replies.DONT_KNOW_EITHER))
        return [
            SlotSet("pending_action", None),
            *hand_off(dispatcher, tracker, contract.BOT_FAILED),
        ]
    say(text=_(replies.DONT_KNOW))
    return [
        SlotSet("faq_misses", misses),
        SlotSet("pending_action", f"handoff:{contract.BOT_FAILED}"),
    ]

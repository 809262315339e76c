"""The contract between the three processes: what the gateway sends to Rasa with a shopper's
message, and the hidden custom messages that come back with Rasa's reply.

- The gateway sends metadata with every message: the channel and the sender (who is writing,
  for the verification lock), read by the actions through `sender_of`.
- Rasa's REST channel (rasa_components/annotated_rest.py) appends what the NLU read.
- The actions add what the turn did (an FAQ answer, a "don't know", feedback) and, when the
  bot cannot help, a handoff request; the gateway then opens the ticket itself. A shopper's
  yes to order updates, or "stop", comes back the same way: the gateway keeps subscriptions.

The gateway reads a reply with `read_reply` and never shows these messages. Standard library
only: this module is imported in both virtual environments (Rasa's runs Python 3.10).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# What the gateway sends with each message (Rasa hands it to the actions unchanged).
META_CHANNEL = "channel"
META_SENDER = "sender"
# The conversation's language (bot.language decides it); Rasa copies it into the `language`
# slot (rasa_components/language_slot.py), actions and the NLG endpoint answer in it.
META_LANGUAGE = "language"
# In a parsed message's data, Rasa's featurizer's vectors of its text, for the action server's
# FAQ search (rasa_components/sentence_featurizer.py, bot/faq/encoders.py). They serve the turn:
# neither the tracker store nor the channel's /parse keeps or returns them.
SENTENCE_VECTORS = "sentence_vectors"
LANGUAGE_SLOT = "language"

# An intent nobody typed: the gateway triggers it when staff hand a conversation back.
HANDED_BACK_INTENT = "EXTERNAL_handed_back"
_INTERNAL_INTENT_PREFIX = "EXTERNAL_"

# Why a conversation went to a person.
SHOPPER_REQUEST = "shopper_request"
COMPLAINT = "complaint"
BOT_FAILED = "bot_failed"
VERIFICATION_FAILED = "verification_failed"
ACTION_ERROR = "action_error"
PRIVACY_REQUEST = "privacy_request"  # "delete my data", "send me my data" (after proof)
ORDER_SYSTEM_DOWN = "order_system_down"  # the shop's order system could not be reached
HANDOFF_REASONS = (
    SHOPPER_REQUEST,
    COMPLAINT,
    BOT_FAILED,
    VERIFICATION_FAILED,
    ACTION_ERROR,
    PRIVACY_REQUEST,
    ORDER_SYSTEM_DOWN,
)

# What a turn did, as the actions report it.
FAQ_ANSWER = "faq_answer"
FAQ_SUGGESTED = "faq_suggested"
UNKNOWN = "unknown"
OUTCOMES = (FAQ_ANSWER, FAQ_SUGGESTED, UNKNOWN)
FEEDBACK = ("yes", "no")

# The keys of the hidden messages, and of the notes the gateway keeps on a shopper's message.
_NLU = "nlu"
_OUTCOME = "outcome"
_HANDOFF = "handoff"
_UPDATES = "updates"
NOTE_INTENT = "intent"
NOTE_CONFIDENCE = "confidence"
NOTE_OUTCOME = "outcome"
NOTE_FAQ_ID = "faq_id"
NOTE_FEEDBACK = "feedback"
NOTE_HANDOFF = "handoff"


def is_internal_intent(name: str | None) -> bool:
    """An event the system triggered, not something a shopper said."""
    return bool(name) and name.startswith(_INTERNAL_INTENT_PREFIX)


# --- gateway -> Rasa -> actions ----------------------------------------------------------


def message_metadata(channel: str, sender: str, language: str | None = None) -> dict[str, str]:
    metadata = {META_CHANNEL: channel, META_SENDER: sender}
    if language:
        metadata[META_LANGUAGE] = language
    return metadata


def typed(text: str) -> str:
    """A shopper's typed message as Rasa is sent it. Rasa reads a text starting with "/" as an
    intent with entities ("/cancel_order{...}"), so typing one must not reach Rasa as that:
    the slashes are dropped ("/help" is "help"). Buttons' payloads are sent as they are."""
    return text.lstrip("/").strip() or "?"


def language_of(metadata: Mapping[str, Any] | None) -> str | None:
    language = (metadata or {}).get(META_LANGUAGE)
    return language if isinstance(language, str) and language else None


def sender_of(metadata: Mapping[str, Any] | None, conversation_id: str) -> str:
    """Who is writing, from a message's metadata; a message that did not come through the
    gateway (`make shell`) counts its conversation as the sender."""
    sender = (metadata or {}).get(META_SENDER)
    return sender if isinstance(sender, str) and sender else f"conversation:{conversation_id}"


# --- Rasa and actions -> gateway: builders -------------------------------------------------


def nlu_read(intent: str | None, confidence: float | None) -> dict[str, Any]:
    """Rasa's channel: what the NLU read in the message."""
    return {_NLU: {"intent": intent, "confidence": confidence}}


def outcome(
    kind: str | None = None, faq_id: str | None = None, feedback: str | None = None
) -> dict[str, Any]:
    """An action: what the turn did (one of OUTCOMES, with the FAQ entry), or the shopper's
    answer to "Did that help?" (one of FEEDBACK) about an entry."""
    if kind is not None and kind not in OUTCOMES:
        raise ValueError(f"unknown outcome {kind!r}")
    if feedback is not None and feedback not in FEEDBACK:
        raise ValueError(f"unknown feedback {feedback!r}")
    fields = {NOTE_OUTCOME: kind, NOTE_FAQ_ID: faq_id, NOTE_FEEDBACK: feedback}
    return {_OUTCOME: {k: v for k, v in fields.items() if v is not None}}


def handoff_request(reason: str, order_number: str | None = None) -> dict[str, Any]:
    """An action: a person should take over (the gateway opens the ticket and tells the
    shopper what happens next)."""
    if reason not in HANDOFF_REASONS:
        raise ValueError(f"unknown handoff reason {reason!r}")
    return {_HANDOFF: {"reason": reason, "order_number": order_number}}


def updates_subscribe(order_number: str, known: list[str]) -> dict[str, Any]:
    """An action: the shopper said yes to updates on this verified order; `known`, the event
    keys (bot/order_events.py) that had already happened and are not news."""
    return {_UPDATES: {"subscribe": order_number, "known": known}}


def updates_stop() -> dict[str, Any]:
    """An action: the shopper asked to stop order updates in this conversation."""
    return {_UPDATES: {"stop": True}}


# --- the gateway's one parser ------------------------------------------------------------


@dataclass(frozen=True)
class Handoff:
    reason: str
    order_number: str | None = None


@dataclass
class Reply:
    """Rasa's reply to one message, read: what to show, and what the turn was."""

    visible: list[dict[str, Any]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)
    handoff: Handoff | None = None
    subscribe: Subscribe | None = None
    stop_updates: bool = False


@dataclass(frozen=True)
class Subscribe:
    order_number: str
    known: tuple[str, ...] = ()


def read_reply(messages: list[dict[str, Any]]) -> Reply:
    """Split Rasa's reply into the messages a shopper sees and the turn's notes (intent,
    confidence, outcome, FAQ entry, feedback, handoff reason). Unknown or malformed hidden
    messages are dropped, never shown."""
    reply = Reply()
    for message in messages:
        custom = message.get("custom")
        if custom is None:
            reply.visible.append(message)
            continue
        if not isinstance(custom, dict):
            continue
        nlu = custom.get(_NLU)
        intent = nlu.get("intent") if isinstance(nlu, dict) else None
        if isinstance(intent, str) and not is_internal_intent(intent):
            reply.notes[NOTE_INTENT] = intent
            if isinstance(nlu.get("confidence"), int | float):
                reply.notes[NOTE_CONFIDENCE] = round(float(nlu["confidence"]), 3)
        did = custom.get(_OUTCOME)
        if isinstance(did, dict):
            if did.get(NOTE_OUTCOME) in OUTCOMES:
                reply.notes[NOTE_OUTCOME] = did[NOTE_OUTCOME]
            if did.get(NOTE_FEEDBACK) in FEEDBACK:
                reply.notes[NOTE_FEEDBACK] = did[NOTE_FEEDBACK]
            if isinstance(did.get(NOTE_FAQ_ID), str):
                reply.notes[NOTE_FAQ_ID] = did[NOTE_FAQ_ID]
        handoff = custom.get(_HANDOFF)
        if isinstance(handoff, dict) and handoff.get("reason") in HANDOFF_REASONS:
            number = handoff.get("order_number")
            reply.handoff = Handoff(handoff["reason"], number if isinstance(number, str) else None)
            reply.notes[NOTE_HANDOFF] = handoff["reason"]
        updates = custom.get(_UPDATES)
        if isinstance(updates, dict):
            number, known = updates.get("subscribe"), updates.get("known")
            if isinstance(number, str) and number:
                known = known if isinstance(known, list) else []
                reply.subscribe = Subscribe(number, tuple(k for k in known if isinstance(k, str)))
            reply.stop_updates = reply.stop_updates or updates.get("stop") is True
    return reply

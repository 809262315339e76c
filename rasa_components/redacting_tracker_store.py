"""Rasa's SQL tracker store, keeping no proof in clear.

A shopper proves an order with its email or postcode. The actions need that value only during
the turn that checks it; Rasa's tracker store would keep it forever, in the message's text and
in the `order_proof` slot. This store writes, instead:
- any email address in a shopper's message, a slot or a reply as "[email]";
- the whole text of a message that answered "what's the email or postcode?" as "[proof]";
- the `order_proof` slot's value as "[proof]".
It also leaves out the message's sentence vectors that the featurizer adds to the parse data
for the FAQ search (`sentence_vectors`, 4.8 kB a message): they serve the turn, not the record.
Everything else is stored as Rasa stores it. Selected in the endpoints file (`bot/stack.py`):
`tracker_store: {type: rasa_components.redacting_tracker_store.RedactingTrackerStore, url: ...}`.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator
from typing import Any

from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import BotUttered, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.contract import SENTENCE_VECTORS

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[A-Za-z]{2,}")
PROOF_SLOT = "order_proof"
REDACTED = "[proof]"


class StoredEvent:
    """An event as it is written: what SQLTrackerStore.save reads of it."""

    def __init__(self, event: Event, data: dict[str, Any]) -> None:
        self.type_name = event.type_name
        self._data = data

    def as_dict(self) -> dict[str, Any]:
        return self._data


class RedactingTrackerStore(SQLTrackerStore):
    def _additional_events(self, session: Any, tracker: DialogueStateTracker) -> Iterator:
        answers = proof_answers(tracker)
        for event in super()._additional_events(session, tracker):
            yield StoredEvent(event, redacted(event, id(event) in answers))


def proof_answers(tracker: DialogueStateTracker) -> set[int]:
    """The shopper's messages sent while the bot was asking for the proof (by object id)."""
    asking, answers = None, set()
    for event in tracker.events:
        if isinstance(event, SlotSet) and event.key == "requested_slot":
            asking = event.value
        elif isinstance(event, UserUttered) and asking == PROOF_SLOT:
            answers.add(id(event))
    return answers


def redacted(event: Event, is_proof: bool) -> dict[str, Any]:
    data = event.as_dict()
    if isinstance(event, SlotSet) and event.value is not None:
        if event.key == PROOF_SLOT:
            return {**data, "value": REDACTED}
        if isinstance(event.value, str):  # an email typed where a number was asked for
            return {**data, "value": EMAIL.sub("[email]", event.value)}
    if isinstance(event, BotUttered) and isinstance(data.get("text"), str):
        return {**data, "text": EMAIL.sub("[email]", data["text"])}
    if not isinstance(event, UserUttered):
        return data
    data = copy.deepcopy(data)

    def clean(text: Any) -> Any:
        if not isinstance(text, str):
            return text
        return REDACTED if is_proof else EMAIL.sub("[email]", text)

    data["text"] = clean(data.get("text"))
    parse = data.get("parse_data")
    if isinstance(parse, dict):
        parse.pop(SENTENCE_VECTORS, None)
        parse["text"] = clean(parse.get("text"))
        for entity in parse.get("entities") or []:
            if isinstance(entity, dict):
                entity["value"] = clean(entity.get("value"))
    return data

"""The contract between gateway, Rasa and actions: builders and the gateway's one parser."""

from __future__ import annotations

import pytest

from bot import contract


def test_a_reply_is_split_into_what_is_shown_and_what_the_turn_was():
    answer = [
        {"recipient_id": "c", "text": "Sorry, I don't know that one either."},
        {"recipient_id": "c", "custom": contract.outcome(kind=contract.UNKNOWN)},
        {"recipient_id": "c", "custom": contract.handoff_request(contract.BOT_FAILED, "10423")},
        {"recipient_id": "c", "custom": contract.nlu_read("out_of_scope", 0.91234)},
    ]
    reply = contract.read_reply(answer)
    assert reply.visible == [answer[0]]
    assert reply.handoff == contract.Handoff("bot_failed", "10423")
    assert reply.notes == {
        "outcome": "unknown",
        "handoff": "bot_failed",
        "intent": "out_of_scope",
        "confidence": 0.912,
    }


def test_feedback_on_an_faq_entry_is_noted():
    reply = contract.read_reply(
        [{"custom": contract.outcome(feedback="yes", faq_id="refund-times")}]
    )
    assert reply.notes == {"feedback": "yes", "faq_id": "refund-times"}
    assert reply.visible == [] and reply.handoff is None


def test_internal_events_and_malformed_hidden_messages_are_never_shown_or_noted():
    reply = contract.read_reply(
        [
            {"custom": contract.nlu_read(contract.HANDED_BACK_INTENT, 1.0)},
            {"custom": {"handoff": {"reason": "made-up"}}},
            {"custom": {"outcome": {"outcome": "hacked", "feedback": "maybe"}}},
            {"custom": "not a dict"},
            {"custom": {"something": "else"}},
        ]
    )
    assert reply.visible == [] and reply.notes == {} and reply.handoff is None


def test_builders_refuse_what_the_gateway_would_not_understand():
    with pytest.raises(ValueError, match="handoff reason"):
        contract.handoff_request("because")
    with pytest.raises(ValueError, match="outcome"):
        contract.outcome(kind="answered")
    with pytest.raises(ValueError, match="feedback"):
        contract.outcome(feedback="perhaps")


def test_the_sender_comes_from_the_metadata_or_is_the_conversation():
    metadata = contract.message_metadata("telegram", "telegram:5001")
    assert contract.sender_of(metadata, "c-1") == "telegram:5001"
    assert contract.sender_of(None, "c-1") == "conversation:c-1"
    assert contract.sender_of({"sender": 42}, "c-1") == "conversation:c-1"

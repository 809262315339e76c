"""The real custom actions against a real seeded SQLite store (no mocks of our code)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update

from actions.confirmation import ActionResolveConfirmation, ActionStopUpdates
from actions.faq import ActionFaqAnswer, ActionFaqChoice
from actions.handoff import ActionHumanHandoff, ActionOfferHandoff
from actions.orders import ActionAnswerOrderTopic, ActionConfirmAddressChange, ValidateAddressForm
from actions.verification import ValidateVerifyOrderForm
from bot import contract, replies
from bot.i18n import texts
from bot.orders import get_order_source
from bot.policy import load_policy
from bot.settings import get_settings
from bot.store.db import session_scope
from bot.store.models import Order, Ticket, VerificationFailure
from tests.conftest import Conversation, seed_order

pytestmark = pytest.mark.usefixtures("store")


def verify(convo: Conversation, number: str, proof: str | None = None) -> None:
    """Answer the verification form's two questions, as the shopper would."""
    proof = proof or seed_order(number)["email"]
    convo.active_loop = "verify_order_form"
    convo.user(f"#{number}", "inform", order_id=f"#{number}", requested_slot="order_id")
    convo.run(ValidateVerifyOrderForm())
    convo.user(proof, "inform", order_proof=proof)
    convo.run(ValidateVerifyOrderForm())
    convo.active_loop = None


def ask(convo: Conversation, topic: str, number: str, proof: str | None = None) -> None:
    convo.user(f"about order {number}", topic, order_topic=topic)
    verify(convo, number, proof)
    convo.run(ActionAnswerOrderTopic())


def give_new_address(convo: Conversation, address: str) -> None:
    """The address form's answer, then the bot's question "shall I change it to ...?"."""
    convo.user(address, "inform", new_address=address)
    convo.run(ValidateAddressForm())
    convo.active_loop = None
    convo.run(ActionConfirmAddressChange())


def order_row(store, number: str) -> Order:
    with session_scope(store) as session:
        order = session.scalars(select(Order).where(Order.number == number)).one()
        _ = order.refunds, order.returns, order.shipment
        return order


# --- verification ---------------------------------------------------------------------------


def test_email_verifies_the_order_case_insensitively():
    convo = Conversation()
    verify(convo, "10423", seed_order("10423")["email"].upper())
    assert convo.slots["verified_orders"] == ["10423"]
    assert convo.slots["requested_slot"] is None  # the form is done
    assert convo.slots["order_proof"] is None  # the proof is not kept in a slot


def test_postcode_verifies_the_order_whatever_the_spacing():
    convo = Conversation()
    verify(convo, "10423", seed_order("10423")["postcode"].lower().replace(" ", ""))
    assert convo.slots["verified_orders"] == ["10423"]


def test_wrong_proof_and_unknown_order_look_exactly_the_same():
    wrong_email, unknown_order = Conversation("shopper-1"), Conversation("shopper-2")
    verify(wrong_email, "10423", "someone.else@example.com")
    verify(unknown_order, "99999", "someone.else@example.com")
    assert wrong_email.said == unknown_order.said
    assert "doesn't match our records" in wrong_email.said
    assert wrong_email.slots == unknown_order.slots
    assert wrong_email.slots["verified_orders"] is None
    assert wrong_email.slots["order_id"] is None  # asked again


def test_badly_formed_answers_get_a_hint_and_are_asked_again():
    convo = Conversation()
    convo.active_loop = "verify_order_form"
    convo.user("my order", "inform", order_id="my order", requested_slot="order_id")
    convo.run(ValidateVerifyOrderForm())
    assert "like #10423" in convo.said and convo.slots["order_id"] is None
    convo.user("10423", "inform", order_id="10423")
    convo.run(ValidateVerifyOrderForm())
    convo.user("yes", "affirm", order_proof="yes")
    convo.run(ValidateVerifyOrderForm())
    assert "email address" in convo.said and convo.slots["order_proof"] is None
    assert convo.slots["verify_failures"] == 0  # a malformed answer is not a failed guess


def test_three_failures_stop_verification_and_hand_off(store):
    convo = Conversation("shopper-guessing")
    convo.user("where is 10423", "order_status", order_topic="order_status")
    for attempt in range(3):
        verify(convo, "10423", f"guess{attempt}@example.com")
    assert convo.slots["verify_failures"] == 3
    assert convo.slots["requested_slot"] is None  # the form stops asking
    convo.run(ActionAnswerOrderTopic())
    assert "stopped trying" in convo.said
    assert handoff_signal(convo) == {"reason": "verification_failed", "order_number": None}
    # The right answer now changes nothing: verification is locked for this conversation.
    verify(convo, "10423")
    assert convo.slots["verified_orders"] is None


def test_the_lock_follows_the_sender_into_a_new_conversation_and_lifts_later(store):
    # The gateway names the sender in each message's metadata: here one Telegram chat.
    chat = contract.message_metadata("telegram", "telegram:chat-777")
    convo = Conversation("first-conversation", metadata=chat)
    convo.user("where is 10423", "order_status", order_topic="order_status")
    for attempt in range(3):
        verify(convo, "10423", f"guess{attempt}@example.com")
    # A fresh conversation from the same Telegram chat is locked too, and a person offered.
    again = Conversation("second-conversation", metadata=chat)
    again.user("where is 10423", "order_status", order_topic="order_status")
    verify(again, "10423")
    assert again.slots["verified_orders"] is None
    again.run(ActionAnswerOrderTopic())
    assert "stopped trying" in again.said and handoff_signal(again)["reason"] == (
        "verification_failed"
    )
    # Another sender is not affected.
    other = Conversation(
        "third-conversation", metadata=contract.message_metadata("telegram", "telegram:chat-888")
    )
    verify(other, "10423")
    assert other.slots["verified_orders"] == ["10423"]
    # After the lock window the right answer works again.
    with session_scope(store) as session:
        session.execute(update(VerificationFailure).values(failed_at=datetime(2000, 1, 1)))
    later = Conversation("second-conversation", metadata=chat)
    verify(later, "10423")
    assert later.slots["verified_orders"] == ["10423"]


def test_guesses_on_one_order_from_many_conversations_pause_its_proof(store):
    """Five web conversations (five senders) each guess once on one order: the sixth
    conversation is not checked even with the right email, and is offered a person."""
    for n in range(5):
        guesser = Conversation(f"guesser-{n}")
        verify(guesser, "10411", f"guess{n}@example.com")
        assert "doesn't match our records" in guesser.said
    sixth = Conversation("sixth-conversation")
    sixth.user("where is 10411", "order_status", order_topic="order_status")
    verify(sixth, "10411")
    assert sixth.slots["verified_orders"] is None
    assert sixth.slots["requested_slot"] is None  # the form stops asking
    sixth.run(ActionAnswerOrderTopic())
    assert "stopped trying" in sixth.said
    assert handoff_signal(sixth)["reason"] == "verification_failed"
    # Other orders are not affected, and the pause lifts after the lock window.
    verify(Conversation("other-order"), "10423")
    with session_scope(store) as session:
        session.execute(update(VerificationFailure).values(failed_at=datetime(2000, 1, 1)))
    later = Conversation("later")
    verify(later, "10411")
    assert later.slots["verified_orders"] == ["10411"]


def test_an_order_paused_before_its_number_is_given_asks_for_no_proof(store, monkeypatch):
    monkeypatch.setenv("VERIFY_ORDER_MAX_FAILURES", "1")
    get_settings.cache_clear()
    verify(Conversation("first"), "10411", "guess@example.com")
    convo = Conversation("second")
    convo.active_loop = "verify_order_form"
    convo.user("10411", "inform", order_id="10411", requested_slot="order_id")
    convo.run(ValidateVerifyOrderForm())
    assert convo.slots["requested_slot"] is None and "email" not in convo.said
    with session_scope(store) as session:
        stored = session.scalars(select(VerificationFailure.sender_key)).all()
    assert stored and not any("guess" in key or "first" in key for key in stored)  # hashed


def test_a_success_does_not_reset_the_count_of_guesses(store):
    convo = Conversation("guess-and-own-order")
    verify(convo, "10423", "guess0@example.com")
    verify(convo, "10423", "guess1@example.com")
    verify(convo, "10402")  # an order of their own
    verify(convo, "10423", "guess2@example.com")
    verify(convo, "10423")  # would be right, but three guesses lock it
    assert convo.slots["verified_orders"] == ["10402"]


def test_an_action_past_its_time_budget_apologises_and_hands_off(store, monkeypatch):
    monkeypatch.setenv("ORDER_SOURCE", "tests.fakes.slow_orders:SlowOrderSource")
    monkeypatch.setenv("SLOW_ORDERS_SECONDS", "3")
    monkeypatch.setenv("ACTION_TIME_BUDGET_SECONDS", "0.5")
    get_settings.cache_clear()
    get_order_source.cache_clear()
    convo = Conversation("slow-order-source")
    convo.slots |= {"order_id": "10423", "verified_orders": ["10423"], "order_topic": "refund"}
    started = time.monotonic()
    convo.run(ActionAnswerOrderTopic())
    assert time.monotonic() - started < 2.5  # not the order source's 3 s
    assert "something went wrong on my side" in convo.said
    assert handoff_signal(convo) == {"reason": "action_error", "order_number": "10423"}
    assert "#10423" not in convo.said  # nothing from the late answer


def test_a_verified_order_stays_verified():
    convo = Conversation()
    ask(convo, "order_status", "10423")
    convo.user("and when will it arrive?", "shipping_eta", order_topic="shipping_eta")
    convo.active_loop = "verify_order_form"
    events = convo.run(ValidateVerifyOrderForm())
    assert {"event": "slot", "name": "requested_slot", "value": None} in [
        {k: e[k] for k in ("event", "name", "value")} for e in events if e["event"] == "slot"
    ]
    convo.run(ActionAnswerOrderTopic())
    assert "#10423" in convo.said


def test_slot_injection_cannot_reach_an_unverified_order():
    """`/order_status{"order_id": "10402"}` typed by a shopper sets the slot directly."""
    convo = Conversation()
    ask(convo, "order_status", "10423")
    convo.user('/order_status{"order_id": "10402"}', "order_status", order_id="10402")
    convo.run(ActionAnswerOrderTopic())
    assert convo.said == ""
    convo.slots["pending_action"] = "cancel:10402"
    convo.user("yes", "affirm")
    convo.run(ActionResolveConfirmation())
    assert "verify" in convo.said


# --- answers -------------------------------------------------------------------------------


def test_order_status_gives_state_carrier_tracking_and_window():
    convo = Conversation()
    ask(convo, "order_status", "10402")
    shipment = seed_order("10402")["shipment"]
    assert "#10402 has shipped" in convo.said
    assert shipment["carrier"] in convo.said and shipment["tracking_number"] in convo.said
    assert "should arrive between" in convo.said


def updates_signal(convo: Conversation) -> dict | None:
    hidden = [m["custom"] for m in convo.sent if m.get("custom") and "updates" in m["custom"]]
    return hidden[-1]["updates"] if hidden else None


def test_an_order_answer_offers_updates_and_yes_subscribes_with_what_is_old_news(store):
    convo = Conversation()
    ask(convo, "order_status", "10402")  # shipped
    offer = convo.sent[-1]
    assert "when it's out for delivery and when it arrives" in offer["text"]
    assert [b["payload"] for b in offer["buttons"]] == ["/affirm", "/deny"]
    assert convo.slots["pending_action"] == "updates:10402"
    convo.user("yes", "affirm")
    convo.run(ActionResolveConfirmation())
    assert updates_signal(convo) == {"subscribe": "10402", "known": ["shipped"]}
    assert "I'll message you here when order #10402 moves on" in convo.said
    # Asked again, the order is not offered twice; "stop updates" ends it.
    ask(convo, "shipping_eta", "10402")
    assert "Shall I message you" not in convo.said
    convo.user("stop updates", "stop_updates")
    convo.run(ActionStopUpdates())
    assert updates_signal(convo) == {"stop": True}
    assert "won't send you any more order updates" in convo.said
    assert convo.slots["updates_order"] is None


def test_unsubscribing_from_the_newsletter_without_order_updates_is_an_faq_question():
    convo = Conversation()
    convo.user("unsubscribe me from the newsletter", "stop_updates")
    events = convo.run(ActionStopUpdates())
    assert events == [{"event": "followup", "name": "action_faq_answer", "timestamp": None}]
    assert updates_signal(convo) is None
    convo = Conversation()  # a bare "stop" is still a stop, whatever the FAQ holds
    convo.user("stop", "stop_updates")
    convo.run(ActionStopUpdates())
    assert updates_signal(convo) == {"stop": True}


def test_no_updates_are_offered_when_nothing_more_will_happen():
    for number in ("10418", "10414", "10427"):  # delivered, cancelled, refunded
        convo = Conversation()
        ask(convo, "order_status", number)
        assert f"#{number}" in convo.said and "Shall I message you" not in convo.said
    convo = Conversation()
    ask(convo, "order_status", "10409")  # paid, not shipped
    assert "Shall I message you here when it ships?" in convo.said
    convo.user("no", "deny")
    convo.run(ActionResolveConfirmation())
    assert updates_signal(convo) is None and "OK." in convo.said


def test_eta_of_a_delayed_shipment_says_so_with_the_revised_date():
    delayed = [
        o
        for o in ("10403", "10416", "10436", "10440", "10453", "10459")
        if "revised_eta_in_days" in seed_order(o)["shipment"]
    ]
    convo = Conversation()
    ask(convo, "shipping_eta", delayed[0])
    assert "running late" in convo.said and "now expects to deliver it by" in convo.said


def test_eta_of_an_unshipped_order_uses_processing_time():
    convo = Conversation()
    ask(convo, "shipping_eta", "10409")
    assert "hasn't shipped yet" in convo.said and "should arrive between" in convo.said


def test_refund_status_gives_amount_method_and_date(store):
    convo = Conversation()
    ask(convo, "refund", "10406")
    refund = seed_order("10406")["refunds"][0]
    assert f"${refund['amount']:,.2f}" in convo.said and refund["method"] in convo.said


def test_refund_on_a_return_in_progress_explains_what_happens_next():
    convo = Conversation()
    ask(convo, "refund", "10433")
    assert "as soon as RMA-" in convo.said


def test_eligible_return_is_confirmed_then_stored(store):
    convo = Conversation()
    ask(convo, "return_item", "10424")
    assert "can be returned until" in convo.said and "Shall I open the return" in convo.said
    convo.user("yes", "affirm")
    convo.run(ActionResolveConfirmation())
    order = order_row(store, "10424")
    assert order.status == "return_requested"
    assert order.returns[0].rma_number in convo.said
    assert order.returns[0].skus == ",".join(line["sku"] for line in seed_order("10424")["lines"])


def test_return_outside_the_window_says_when_it_closed(store):
    convo = Conversation()
    ask(convo, "return_item", "10430")
    assert "outside our 30-day return window" in convo.said and "closed on" in convo.said
    assert convo.slots["pending_action"] is None
    assert order_row(store, "10430").returns == []


def test_final_sale_order_cannot_be_returned():
    convo = Conversation()
    ask(convo, "return_item", "10434")
    assert "final sale" in convo.said


def test_return_of_an_undelivered_order_is_refused():
    convo = Conversation()
    ask(convo, "return_item", "10415")
    assert "hasn't been delivered yet" in convo.said


def test_cancel_unshipped_order_after_confirmation_refunds_it(store):
    convo = Conversation()
    ask(convo, "cancel_order", "10409")
    assert "Shall I cancel it now?" in convo.said
    assert order_row(store, "10409").status == "paid"  # nothing written before "yes"
    convo.user("yes", "affirm")
    convo.run(ActionResolveConfirmation())
    order = order_row(store, "10409")
    assert order.status == "cancelled" and order.cancelled_at is not None
    assert order.refunds[0].status == "pending" and "refunding" in convo.said


def test_saying_no_leaves_the_order_alone(store):
    convo = Conversation()
    ask(convo, "cancel_order", "10409")
    convo.user("no", "deny")
    convo.run(ActionResolveConfirmation())
    assert "left order #10409 as it is" in convo.said
    assert order_row(store, "10409").status == "paid"


def test_shipped_order_cannot_be_cancelled(store):
    convo = Conversation()
    ask(convo, "cancel_order", "10402")
    assert "already shipped" in convo.said and "can't cancel" in convo.said
    assert order_row(store, "10402").status == "shipped"


def test_address_change_asks_confirms_and_writes(store):
    convo = Conversation()
    ask(convo, "change_shipping_address", "10405")
    events = convo.run(ActionAnswerOrderTopic())
    assert {"event": "followup", "name": "address_form"} in [
        {k: e.get(k) for k in ("event", "name")} for e in events
    ]
    convo.active_loop = "address_form"
    convo.user("12", "inform", new_address="12")
    convo.run(ValidateAddressForm())
    assert "full address" in convo.said and convo.slots["new_address"] is None
    address = "Flat 2, 44 Mill Lane, Bristol BS1 5TR, UK"
    give_new_address(convo, address)
    assert address in convo.said and convo.slots["pending_action"] == "address:10405"
    convo.user("yes", "affirm")
    convo.run(ActionResolveConfirmation())
    assert order_row(store, "10405").ship_line1 == address


def test_address_of_a_shipped_order_cannot_change():
    convo = Conversation()
    ask(convo, "change_shipping_address", "10402")
    assert "can't change its address" in convo.said


# --- people and fallbacks ------------------------------------------------------------------


def handoff_signal(convo: Conversation) -> dict | None:
    """The hidden message that asks the gateway for a person."""
    custom = [m["custom"]["handoff"] for m in convo.sent if (m.get("custom") or {}).get("handoff")]
    return custom[-1] if custom else None


def test_handoff_asks_the_gateway_for_a_person_with_the_verified_order(store):
    convo = Conversation("shopper-handoff")
    ask(convo, "order_status", "10423")
    convo.user("I want to talk to a person", "human_handoff")
    convo.run(ActionHumanHandoff())
    assert handoff_signal(convo) == {"reason": "shopper_request", "order_number": "10423"}
    # The gateway opens the ticket; the action server never touches the tickets table.
    with session_scope(store) as session:
        assert session.scalars(select(Ticket)).all() == []


def test_the_shopper_is_told_whether_someone_is_at_work():
    hours = load_policy().support_hours  # Monday to Friday, 9:00-17:00 New York
    monday_noon = datetime(2026, 11, 23, 17, 0, tzinfo=UTC)  # 12:00 in New York
    saturday = datetime(2026, 11, 21, 17, 0, tzinfo=UTC)
    monday_late = datetime(2026, 11, 23, 23, 0, tzinfo=UTC)  # 18:00 in New York
    assert hours.staffed(monday_noon)
    assert not hours.staffed(saturday) and not hours.staffed(monday_late)
    assert "within a few minutes" in replies.handoff_notice(7, hours, monday_noon, texts("en"))
    away = replies.handoff_notice(7, hours, saturday, texts("en"))
    assert "H-7" in away and "away right now" in away and "Mon–Fri" in away


def test_complaint_offers_a_person_and_yes_hands_off(store):
    convo = Conversation()
    convo.user("this is ridiculous", "complaint")
    convo.run(ActionOfferHandoff())
    assert "person" in convo.said and convo.slots["pending_action"] == "handoff:complaint"
    convo.user("yes", "affirm")
    convo.run(ActionResolveConfirmation())
    assert handoff_signal(convo)["reason"] == "complaint"


def test_an_action_that_fails_apologises_and_hands_off(store, monkeypatch):
    def broken_source():
        raise ConnectionError("the shop's order system is down")

    convo = Conversation("shopper-error")
    ask(convo, "order_status", "10423")
    monkeypatch.setattr("actions.dialogue.get_order_source", broken_source)
    convo.run(ActionAnswerOrderTopic())
    assert "something went wrong on my side" in convo.said
    assert handoff_signal(convo)["reason"] == "action_error"


def test_a_store_question_is_answered_from_the_faq_with_its_id():
    convo = Conversation()
    convo.user("how much is shipping?", "faq")
    dispatcher_events = convo.run(ActionFaqAnswer())
    assert "free on orders over $50" in convo.said and "Did that help?" in convo.said
    assert convo.slots["pending_action"] == "faq_feedback:shipping-cost"
    assert ("faq_misses", 0) in [(e["name"], e["value"]) for e in dispatcher_events]
    convo.user("no", "deny")
    convo.run(ActionResolveConfirmation())
    assert "connect you with a person" in convo.said
    assert convo.slots["pending_action"] == "handoff:bot_failed"


def outcomes(convo: Conversation) -> list[dict]:
    """The turn notes the gateway keeps on the shopper's message (for the insights report)."""
    return [m["custom"]["outcome"] for m in convo.sent if (m.get("custom") or {}).get("outcome")]


def test_faq_answers_misses_and_feedback_are_noted_for_the_report():
    convo = Conversation()
    convo.user("do you ship to the uk?", "faq")
    convo.run(ActionFaqAnswer())
    assert outcomes(convo) == [{"outcome": "faq_answer", "faq_id": "international-shipping"}]
    convo.user("/deny", "deny")
    convo.run(ActionResolveConfirmation())
    assert outcomes(convo)[-1] == {"feedback": "no", "faq_id": "international-shipping"}
    convo.user("what's the weather tomorrow", "out_of_scope")
    convo.run(ActionFaqAnswer())
    assert outcomes(convo)[-1] == {"outcome": "unknown"}


def test_a_middling_match_offers_suggestions_as_buttons():
    convo = Conversation()
    convo.user("what about gift stuff", "faq")
    convo.run(ActionFaqAnswer())
    buttons = convo.sent[0]["buttons"]
    assert "Did you mean" in convo.said
    assert buttons[0]["payload"] == '/faq_choice{"faq_id": "gift-wrapping"}'
    convo.user(buttons[0]["payload"], "faq_choice")
    convo.latest["entities"] = [{"entity": "faq_id", "value": "gift-wrapping"}]
    convo.run(ActionFaqChoice())
    assert "Did that help?" in convo.said and "wrap" in convo.said


def test_one_round_of_suggestions_then_an_honest_dont_know_and_a_person(store):
    convo = Conversation()
    convo.user("can I change things", "faq")  # a store question the FAQ half-recognises
    convo.run(ActionFaqAnswer())
    assert "Did you mean" in convo.said and convo.sent[0]["buttons"]
    convo.user("no, something about the colour of the box", "faq")
    convo.run(ActionFaqAnswer())
    assert "Did you mean" not in convo.said and "connect you with a person" in convo.said
    assert not any(m.get("buttons") for m in convo.sent)
    assert convo.slots["pending_action"] == "handoff:bot_failed"
    convo.user("do you deliver to Japan?", "faq")  # a new question after the "don't know"
    convo.run(ActionFaqAnswer())
    assert convo.sent[0].get("buttons") or "Japan" in convo.said


def test_unknown_once_offers_a_person_and_no_keeps_the_bot(store):
    convo = Conversation()
    convo.user("what's the weather tomorrow", "out_of_scope")
    convo.run(ActionFaqAnswer())
    assert "don't know that one" in convo.said and "put it another way" in convo.said
    assert convo.slots["pending_action"] == "handoff:bot_failed"
    convo.user("no", "deny")
    convo.run(ActionResolveConfirmation())
    assert "just ask" in convo.said and handoff_signal(convo) is None


def test_unknown_twice_in_a_row_hands_off(store):
    convo = Conversation()
    convo.user("what's the weather tomorrow", "out_of_scope")
    convo.run(ActionFaqAnswer())
    convo.user("who won the match yesterday", "nlu_fallback")
    convo.run(ActionFaqAnswer())
    assert "don't know that one either" in convo.said
    assert handoff_signal(convo)["reason"] == "bot_failed"
    assert convo.slots["faq_misses"] == 0


def test_a_broken_faq_gets_an_honest_answer_not_an_error(tmp_path, monkeypatch):
    broken = tmp_path / "faq.yml"
    broken.write_text("entries:\n  - id: x\n    question: Q?\n")  # no answer
    monkeypatch.setenv("FAQ_PATH", str(broken))
    get_settings.cache_clear()
    convo = Conversation()
    convo.user("do you ship to canada?", "faq")
    convo.run(ActionFaqAnswer())
    assert "don't know that one" in convo.said


def test_a_verified_shopper_asking_about_their_data_gets_a_person(store):
    convo = Conversation("shopper-my-data")
    ask(convo, "my_data", "10423")
    assert "personal data to our team" in convo.said
    assert handoff_signal(convo) == {"reason": "privacy_request", "order_number": "10423"}


# --- the shop's order system down -----------------------------------------------------------


def test_an_order_system_that_is_down_gets_a_clear_answer_and_a_person(store, monkeypatch):
    monkeypatch.setenv("ORDER_SOURCE", "tests.fakes.down_orders:DownOrderSource")
    get_settings.cache_clear()
    get_order_source.cache_clear()
    convo = Conversation("shop-down")
    convo.user("where is 10423", "order_status", order_topic="order_status")
    verify(convo, "10423")
    assert convo.slots["requested_slot"] is None  # the form stops asking
    assert convo.slots["verify_failures"] == 0  # not the shopper's failure
    convo.run(ActionAnswerOrderTopic())
    assert "can't reach the shop's order system" in convo.said
    assert handoff_signal(convo) == {"reason": "order_system_down", "order_number": None}
    assert convo.slots["order_system_down"] is False
    with session_scope(store) as session:
        assert session.scalars(select(VerificationFailure)).all() == []


def test_an_order_system_down_before_a_change_changes_nothing(store, monkeypatch):
    monkeypatch.setenv("ORDER_SOURCE", "tests.fakes.down_orders:ReadOnlyOrderSource")
    get_settings.cache_clear()
    get_order_source.cache_clear()
    convo = Conversation("shop-down-mid-change")
    ask(convo, "cancel_order", "10423")
    assert convo.slots["pending_action"] == "cancel:10423"
    convo.user("yes", "affirm")
    convo.run(ActionResolveConfirmation())
    assert "can't reach the shop's order system" in convo.said
    assert handoff_signal(convo) == {"reason": "order_system_down", "order_number": "10423"}
    assert convo.slots["pending_action"] is None
    assert order_row(store, "10423").status == "paid"  # not cancelled, not half-cancelled

"""The assistant's intents in the groups the dialogue treats alike (domain.yml, data/rules.yml)."""

from __future__ import annotations

# Answered from the shopper's order, once it is verified.
ORDER_TOPICS = frozenset(
    {
        "order_status",
        "shipping_eta",
        "return_item",
        "refund",
        "cancel_order",
        "change_shipping_address",
    }
)
SMALL_TALK = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "bot_challenge"})
# The rules send these to the FAQ (action_faq_answer).
FAQ_ROUTED = frozenset({"faq", "out_of_scope", "nlu_fallback"})
FALLBACK = "nlu_fallback"

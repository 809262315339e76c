"""What the assistant says: plain sentences built from the order and the rules, in the
shopper's language. Every sentence is a message id of the gettext catalogs (bot/i18n.py);
functions take the conversation's `Texts` as `_`."""

from __future__ import annotations

from datetime import date, datetime

from bot import order_events
from bot.i18n import N_, Texts
from bot.orders import OrderInfo, RefundInfo
from bot.policy import Estimate, ReturnCheck, ShopPolicy, SupportHours, delivery_estimate

# One whole sentence per status: word order differs too much between languages to slot a
# status phrase into one frame.
STATUS_SENTENCES = {
    "pending": N_("Order #{number} has been received and is waiting for payment."),
    "paid": N_("Order #{number} is paid and waiting to be packed."),
    "packed": N_("Order #{number} is packed and waiting for the carrier."),
    "shipped": N_("Order #{number} has shipped."),
    "in_transit": N_("Order #{number} is on its way."),
    "out_for_delivery": N_("Order #{number} is out for delivery today."),
    "delayed": N_("Order #{number} is on its way but running late."),
    "delivered": N_("Order #{number} has been delivered."),
    "cancelled": N_("Order #{number} has been cancelled."),
    "return_requested": N_("Order #{number} was delivered, and a return is in progress."),
    "refunded": N_("Order #{number} has been returned and refunded."),
}


def order_status(order: OrderInfo, policy: ShopPolicy, today: date, _: Texts) -> str:
    status = STATUS_SENTENCES.get(order.status)
    parts = [
        _(status, number=order.number)
        if status
        else _("Order #{number}: {status}.", number=order.number, status=order.status)
    ]
    ship = order.shipment
    if ship and order.status != "delivered" and not ship.delivered_at:
        parts.append(
            _(
                "It's with {carrier}, tracking number {tracking}.",
                carrier=ship.carrier,
                tracking=ship.tracking_number,
            )
        )
    elif ship:
        parts.append(
            _(
                "{carrier} tracking number: {tracking}.",
                carrier=ship.carrier,
                tracking=ship.tracking_number,
            )
        )
    if order.status not in ("cancelled", "refunded", "return_requested"):
        parts.append(eta_sentence(delivery_estimate(order, policy, today), _))
    return " ".join(part for part in parts if part)


def shipping_eta(order: OrderInfo, policy: ShopPolicy, today: date, _: Texts) -> str:
    estimate = delivery_estimate(order, policy, today)
    if estimate.kind == "cancelled":
        return _("Order #{number} was cancelled, so it won't be delivered.", number=order.number)
    return _("Order #{number}: {estimate}", number=order.number, estimate=eta_sentence(estimate, _))


def eta_sentence(estimate: Estimate, _: Texts) -> str:
    if estimate.kind == "delivered":
        return _("It was delivered on {day}.", day=_.day(estimate.earliest))
    if estimate.kind == "window":
        return _(
            "It should arrive between {earliest} and {latest}.",
            earliest=_.day(estimate.earliest),
            latest=_.day(estimate.latest),
        )
    if estimate.kind == "late":
        if estimate.revised:
            return _(
                "I'm sorry: it's running late. It was due by {due}. The carrier now expects to "
                "deliver it by {revised}.",
                due=_.day(estimate.latest),
                revised=_.day(estimate.revised),
            )
        return _(
            "I'm sorry: it's running late. It was due by {due}. The carrier hasn't given a new "
            "date yet; if it hasn't arrived in two days, I can connect you with a person who "
            "can open a trace.",
            due=_.day(estimate.latest),
        )
    if estimate.kind == "not_shipped":
        return _(
            "It hasn't shipped yet. We usually dispatch within our processing time, so it "
            "should arrive between {earliest} and {latest}.",
            earliest=_.day(estimate.earliest),
            latest=_.day(estimate.latest),
        )
    return ""


def refund_status(order: OrderInfo, policy: ShopPolicy, _: Texts) -> str:
    if order.refunds:
        return " ".join(_refund_sentence(order, refund, policy, _) for refund in order.refunds)
    low, high = policy.refund_days
    if order.status == "return_requested":
        if order.returns:
            return _(
                "There's no refund on order #{number} yet: we refund as soon as {rma} "
                "arrives back with us, and it then takes {low}-{high} business days to show "
                "on your statement.",
                number=order.number,
                rma=order.returns[-1].rma_number,
                low=low,
                high=high,
            )
        return _(
            "There's no refund on order #{number} yet: we refund as soon as your return "
            "arrives back with us, and it then takes {low}-{high} business days to show on "
            "your statement.",
            number=order.number,
            low=low,
            high=high,
        )
    if order.status == "cancelled":
        return _(
            "Order #{number} was cancelled before payment, so you weren't charged.",
            number=order.number,
        )
    if order.status == "delivered":
        return _(
            "There's no refund on order #{number}. If you'd like your money back, start a "
            "return (just ask me to return the order); we refund once it arrives back.",
            number=order.number,
        )
    return _(
        "There's no refund on order #{number}: it hasn't been cancelled or returned. If you'd "
        "like to cancel it, just ask me to cancel the order.",
        number=order.number,
    )


def _refund_sentence(order: OrderInfo, refund: RefundInfo, policy: ShopPolicy, _: Texts) -> str:
    amount = _.money(refund.amount, refund.currency)
    if refund.status == "issued" and refund.issued_at:
        return _(
            "We refunded {amount} to your original payment method ({method}) on {day} for "
            "order #{number}. Banks can take {low}-{high} business days to show it.",
            amount=amount,
            method=refund.method,
            day=_.day(refund.issued_at),
            number=order.number,
            low=policy.refund_days[0],
            high=policy.refund_days[1],
        )
    return _(
        "A refund of {amount} to your original payment method ({method}) for order #{number} "
        "is being processed; it should reach you within {days} business days of {day}.",
        amount=amount,
        method=refund.method,
        number=order.number,
        days=policy.refund_days[1],
        day=_.day(refund.created_at),
    )


def return_refusal(order: OrderInfo, check: ReturnCheck, policy: ShopPolicy, _: Texts) -> str:
    number = order.number
    match check.reason:
        case "not_delivered":
            return _(
                "Order #{number} hasn't been delivered yet, so it can't be returned yet. Once "
                "it arrives you'll have {days} days to send it back. If it hasn't shipped, you "
                "can still cancel it instead.",
                number=number,
                days=policy.return_window_days,
            )
        case "already_returned":
            if order.returns:
                return _(
                    "There's already a return open for order #{number}: {rma}.",
                    number=number,
                    rma=order.returns[-1].rma_number,
                )
            return _("There's already a return open for order #{number}.", number=number)
        case "refunded":
            return _("Order #{number} has already been returned and refunded.", number=number)
        case "cancelled":
            return _("Order #{number} was cancelled, so there's nothing to return.", number=number)
        case "window_closed":
            return _(
                "I'm sorry, order #{number} is outside our {days}-day return window: it closed "
                "on {day}. If something is faulty, it may still be covered by the warranty; I "
                "can connect you with a person.",
                number=number,
                days=policy.return_window_days,
                day=_.day(check.deadline),
            )
        case "final_sale":
            return _(
                "Everything in order #{number} was final sale, which we can't take back. If "
                "something is faulty, I can connect you with a person.",
                number=number,
            )
    raise ValueError(f"not a refusal: {check.reason}")


def return_offer(order: OrderInfo, check: ReturnCheck, _: Texts) -> str:
    items = _.join([f"{line.quantity} × {line.name}" for line in check.lines])
    text = _(
        "Order #{number} can be returned until {day}: {items}.",
        number=order.number,
        day=_.day(check.deadline),
        items=items,
    )
    if check.final_sale_lines:
        kept = _.join([line.name for line in check.final_sale_lines])
        text += " " + _("({items}: final sale, can't be returned.)", items=kept)
    return text + " " + _("Shall I open the return now?")


def change_refusal(order: OrderInfo, reason: str, what: str, _: Texts) -> str:
    """Why an order can't be cancelled or re-addressed. what: 'cancel' or 'address'."""
    number = order.number
    ship = order.shipment
    if reason == "shipped" and ship:
        if what == "cancel":
            return _(
                "Order #{number} has already shipped with {carrier}, so I can't cancel it. "
                "Once it arrives you can return it within our return window for a refund.",
                number=number,
                carrier=ship.carrier,
            )
        return _(
            "Order #{number} has already shipped with {carrier} (tracking {tracking}), so we "
            "can't change its address any more. The carrier may be able to redirect it from "
            "their tracking page, or I can connect you with a person.",
            number=number,
            carrier=ship.carrier,
            tracking=ship.tracking_number,
        )
    if reason == "delivered":
        if what == "cancel":
            return _(
                "Order #{number} has already been delivered, so it can't be cancelled. You can "
                "return it instead: just ask me to return the order.",
                number=number,
            )
        return _(
            "Order #{number} has already been delivered to {address}.",
            number=number,
            address=order.ship_to,
        )
    if reason == "cancelled":
        return _("Order #{number} is already cancelled.", number=number)
    return _("Order #{number} has already been returned, so it can't be changed.", number=number)


def handoff_notice(ticket_id: int, hours: SupportHours, now: datetime, _: Texts) -> str:
    """What happens next, once a conversation is handed to a person."""
    if hours.staffed(now):
        return _(
            "I've asked a person from our support team to take over (reference H-{ticket}). "
            "They'll reply right here in this chat, usually within a few minutes. I'll stay "
            "quiet in the meantime.",
            ticket=ticket_id,
        )
    return _(
        "I've asked a person from our support team to take over (reference H-{ticket}). Our "
        "team is away right now (we're there {hours}), so someone will reply right here in "
        "this chat when they're back. I'll stay quiet in the meantime.",
        ticket=ticket_id,
        hours=_.hours(hours),
    )


# --- what the gateway itself says -------------------------------------------------------

UNAVAILABLE = N_(
    "Sorry, the assistant is temporarily unavailable. Your message is saved; please try "
    "again in a few minutes."
)
STORE_DOWN = N_(
    "Sorry, we can't save messages right now, so this one was not received. "
    "Please send it again in a minute."
)
TEXT_ONLY = N_("Sorry, I can only read text messages. Please type your question and I'll help.")
SLOW_DOWN = N_(
    "You're sending messages faster than I can read them. Your messages are saved; please "
    "wait a minute before sending more."
)
LANGUAGE_CHOSEN = N_("OK, I'll write in English from now on.")
NOT_STORED = N_(
    "You're sending a lot of messages at once, so I'm not keeping the next ones for a minute. "
    "Please wait a moment, then send what you need in one message."
)
PRIVACY_REQUEST = N_(
    "I've passed your request about your personal data to our team, with your verified order."
)
# An agent's message on Telegram and WhatsApp, where the chat shows only the bot as sender.
FROM_AGENT = N_("{agent} (support): {text}")
# WhatsApp's list of more than three choices: its button and its section title.
CHOOSE = N_("Choose")
OPTIONS = N_("Options")


def from_agent(message_agent: str | None, text: str, _: Texts) -> str:
    return _(FROM_AGENT, agent=message_agent, text=text) if message_agent else text


# --- what the actions say besides order answers -------------------------------------------

SOMETHING_WENT_WRONG = N_("Sorry, something went wrong on my side.")
ORDER_SYSTEM_DOWN = N_(
    "I can't reach the shop's order system right now, so I can't look at or change your order "
    "(nothing was changed)."
)
NOT_AN_ORDER_NUMBER = N_(
    "That doesn't look like an order number. It's the 5-digit number in your confirmation "
    "email, like #10423."
)
NOT_A_PROOF = N_(
    "Please send the email address you ordered with (like name@example.com) or the postcode "
    "the order is going to (like 97205 or SW1A 2AA)."
)
# The same words whether the number or the proof was wrong: no hint that an order exists.
PROOF_MISMATCH = N_(
    "Sorry, that doesn't match our records for that order number. Let's try again with both."
)
VERIFICATION_STOPPED = N_("I couldn't verify that order, so for your security I've stopped trying.")
VERIFY_AGAIN = N_("I need to verify that order again first.")
ADDRESS_INCOMPLETE = N_(
    "I need the full address in one message, including the house number and postcode, "
    'like "12 Harbour Road, Leeds LS1 4AP, UK".'
)
NO_LONGER_RETURNABLE = N_("That order can no longer be returned.")
GREAT = N_("Great!")
OK = N_("OK.")
GLAD_IT_HELPED = N_("Glad I could help!")
SORRY_OFFER_PERSON = N_("Sorry about that. Would you like me to connect you with a person?")
NO_PROBLEM = N_(
    "No problem. I can check an order's status or delivery date, start a return, look up a "
    "refund, cancel an order or change its delivery address: just ask."
)
UPSET_OFFER_PERSON = N_(
    "I'm really sorry about this. I can hand you over to a person on our team right now. "
    "Would you like that?"
)
DID_THAT_HELP = N_("Did that help?")
DID_YOU_MEAN = N_("I'm not sure I understood. Did you mean one of these?")
DONT_KNOW_EITHER = N_("I'm sorry, I don't know that one either.")
DONT_KNOW = N_(
    "Sorry, I don't know that one. I can check an order's status or delivery date, start a "
    "return, look up a refund, cancel an order or change its delivery address, and answer "
    "questions about shipping, returns, payment and your account. Could you put it another "
    "way, or shall I connect you with a person?"
)
WELCOME_BACK = N_(
    "Hi again, it's the shop assistant. I can check an order's status or delivery date, start "
    "a return, look up a refund, cancel an order or change its delivery address; just ask if "
    "there's anything else."
)
# Said before an FAQ answer that has no translation in the shopper's language.
ANSWER_IN_DEFAULT = N_("I only have this answer in {language}:")


def yes_no(_: Texts) -> list[dict[str, str]]:
    return [{"title": _("Yes"), "payload": "/affirm"}, {"title": _("No"), "payload": "/deny"}]


def cancel_offer(order: OrderInfo, _: Texts) -> str:
    return _(
        "Order #{number} hasn't shipped yet, so I can cancel it. Shall I cancel it now?",
        number=order.number,
    )


def address_change_offer(order: OrderInfo, _: Texts) -> str:
    return _(
        "Order #{number} is going to {address} and hasn't shipped yet, so I can change that.",
        number=order.number,
        address=order.ship_to,
    )


def address_change_confirm(order: OrderInfo, address: str, _: Texts) -> str:
    return _(
        'Just to confirm: send order #{number} to "{new}" instead of {old}?',
        number=order.number,
        new=address,
        old=order.ship_to,
    )


def left_as_is(number: str, _: Texts) -> str:
    return _("OK, I've left order #{number} as it is.", number=number)


def cancelled(order: OrderInfo, policy: ShopPolicy, _: Texts) -> str:
    text = _("Done: order #{number} is cancelled.", number=order.number)
    if not order.refunds:
        return text + " " + _("You hadn't been charged, so there's nothing to refund.")
    refund = order.refunds[-1]
    low, high = policy.refund_days
    return (
        text
        + " "
        + _(
            "We're refunding {amount} to your original payment method ({method}); it takes "
            "{low}-{high} business days to show on your statement.",
            amount=_.money(refund.amount, refund.currency),
            method=refund.method,
            low=low,
            high=high,
        )
    )


def address_changed(order: OrderInfo, _: Texts) -> str:
    return _(
        "Done: order #{number} will now go to {address}.",
        number=order.number,
        address=order.ship_to,
    )


def return_opened(rma_number: str, deadline: date, policy: ShopPolicy, _: Texts) -> str:
    return _(
        "Your return is open: {rma}. We've emailed a prepaid label to the address on the "
        "order. Send the items by {day}; we refund within {days} business days of receiving "
        "them.",
        rma=rma_number,
        day=_.day(deadline),
        days=policy.refund_days[1],
    )


# --- order updates (bot/order_events.py; sent by bot/gateway/order_updates.py) --------------

UPDATES_ON = N_(
    "Done: I'll message you here when order #{number} moves on. Say “stop updates” any time "
    "and I'll stop."
)
UPDATES_OFF = N_("OK, I won't send you any more order updates.")
STOP_UPDATES = N_("Stop updates")
TALK_TO_PERSON = N_("Talk to a person")
STOP_UPDATES_PAYLOAD = "/stop_updates"
HANDOFF_PAYLOAD = "/human_handoff"


def updates_offer(order: OrderInfo, _: Texts) -> str:
    """After an order answer: would the shopper like to be told when it moves?"""
    if order.shipment is None:
        return _("Shall I message you here when it ships?")
    return _("Shall I message you here when it's out for delivery and when it arrives?")


def order_update(kind: str, order: OrderInfo, policy: ShopPolicy, today: date, _: Texts) -> str:
    """The message telling a subscribed shopper about one event of their order."""
    ship = order.shipment
    if kind == order_events.SHIPPED and ship is not None:
        eta = eta_sentence(delivery_estimate(order, policy, today), _)
        if ship.tracking_url:
            shipped = _(
                "Good news: order #{number} has shipped with {carrier}. You can follow it "
                "here: {link}",
                number=order.number,
                carrier=ship.carrier,
                link=ship.tracking_url,
            )
        else:
            shipped = _(
                "Good news: order #{number} has shipped with {carrier}, tracking number "
                "{tracking}.",
                number=order.number,
                carrier=ship.carrier,
                tracking=ship.tracking_number,
            )
        return f"{shipped} {eta}".strip()
    if kind == order_events.OUT_FOR_DELIVERY:
        return _("Order #{number} is out for delivery today.", number=order.number)
    if kind == order_events.DELIVERED:
        return _(
            "Order #{number} has been delivered. I hope you love it! If anything isn't right, "
            "just reply here.",
            number=order.number,
        )
    if kind == order_events.LATE:
        parts = [
            _("Order #{number}:", number=order.number),
            eta_sentence(delivery_estimate(order, policy, today), _),
        ]
        if ship is not None and ship.delay_reason:
            parts.append(_("The shop's note: “{reason}”", reason=ship.delay_reason))
        parts.append(_("If you'd like, a person from our team can look into it."))
        return " ".join(part for part in parts if part)
    if kind == order_events.REFUNDED:
        issued = [refund for refund in order.refunds if refund.status == "issued"]
        if issued:
            return _refund_sentence(order, issued[-1], policy, _)
    return order_status(order, policy, today, _)


def update_buttons(kind: str, _: Texts) -> list[dict[str, str]]:
    """Under an update: a person when it is late, and always a way to stop."""
    buttons = [{"title": _(STOP_UPDATES), "payload": STOP_UPDATES_PAYLOAD}]
    if kind == order_events.LATE:
        buttons.insert(0, {"title": _(TALK_TO_PERSON), "payload": HANDOFF_PAYLOAD})
    return buttons


# --- the satisfaction survey (bot/csat.py; asked and answered by bot/gateway/relay.py) -------

CSAT_QUESTION = N_("How did we do? Please rate your experience from 1 (poor) to 5 (great).")
CSAT_COMMENT_PROMPT = N_(
    "Thank you! If you'd like, tell us in a message what went well or what we could do better."
)
CSAT_NO_THANKS = N_("No thanks")
CSAT_COMMENT_THANKS = N_(
    "Thank you for your feedback, it goes straight to our team. If there's anything else, just ask."
)
CSAT_DONE = N_("Thanks!")

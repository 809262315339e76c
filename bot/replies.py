"""What the assistant says about an order: plain sentences built from the order and the rules."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from bot.orders import OrderInfo, RefundInfo
from bot.policy import Estimate, ReturnCheck, ShopPolicy, SupportHours, delivery_estimate

CURRENCY_SYMBOLS = {"USD": "$", "GBP": "£", "EUR": "€", "CAD": "CA$"}

STATUS_WORDS = {
    "pending": "received and waiting for payment",
    "paid": "paid and waiting to be packed",
    "packed": "packed and waiting for the carrier",
    "shipped": "shipped",
    "in_transit": "on its way",
    "delayed": "on its way but running late",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "return_requested": "delivered, with a return in progress",
    "refunded": "returned and refunded",
}


def day(value: date | datetime) -> str:
    """'Mon 24 Nov'."""
    return f"{value:%a} {value.day} {value:%b}"


def money(amount: Decimal, currency: str) -> str:
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{amount:,.2f}" if symbol else f"{amount:,.2f} {currency}"


def order_status(order: OrderInfo, policy: ShopPolicy, today: date) -> str:
    parts = [f"Order #{order.number} is {STATUS_WORDS.get(order.status, order.status)}."]
    ship = order.shipment
    if ship and order.status != "delivered" and not ship.delivered_at:
        parts.append(f"It's with {ship.carrier}, tracking number {ship.tracking_number}.")
    elif ship:
        parts.append(f"{ship.carrier} tracking number: {ship.tracking_number}.")
    if order.status not in ("cancelled", "refunded", "return_requested"):
        parts.append(eta_sentence(delivery_estimate(order, policy, today)))
    return " ".join(parts)


def shipping_eta(order: OrderInfo, policy: ShopPolicy, today: date) -> str:
    estimate = delivery_estimate(order, policy, today)
    if estimate.kind == "cancelled":
        return f"Order #{order.number} was cancelled, so it won't be delivered."
    return f"Order #{order.number}: {eta_sentence(estimate)}"


def eta_sentence(estimate: Estimate) -> str:
    if estimate.kind == "delivered":
        return f"It was delivered on {day(estimate.earliest)}."
    if estimate.kind == "window":
        return f"It should arrive between {day(estimate.earliest)} and {day(estimate.latest)}."
    if estimate.kind == "late":
        sentence = f"I'm sorry: it's running late. It was due by {day(estimate.latest)}."
        if estimate.revised:
            return f"{sentence} The carrier now expects to deliver it by {day(estimate.revised)}."
        return (
            f"{sentence} The carrier hasn't given a new date yet; if it hasn't arrived in "
            "two days, I can connect you with a person who can open a trace."
        )
    if estimate.kind == "not_shipped":
        return (
            f"It hasn't shipped yet. We usually dispatch within our processing time, so it "
            f"should arrive between {day(estimate.earliest)} and {day(estimate.latest)}."
        )
    return ""


def refund_status(order: OrderInfo, policy: ShopPolicy) -> str:
    if order.refunds:
        return " ".join(_refund_sentence(order, refund, policy) for refund in order.refunds)
    low, high = policy.refund_days
    if order.status == "return_requested":
        rma = order.returns[-1].rma_number if order.returns else "your return"
        return (
            f"There's no refund on order #{order.number} yet: we refund as soon as {rma} "
            f"arrives back with us, and it then takes {low}-{high} business days to show "
            "on your statement."
        )
    if order.status == "cancelled":
        return f"Order #{order.number} was cancelled before payment, so you weren't charged."
    if order.status == "delivered":
        return (
            f"There's no refund on order #{order.number}. If you'd like your money back, "
            'start a return (just say "return my order"); we refund once it arrives back.'
        )
    return (
        f"There's no refund on order #{order.number}: it hasn't been cancelled or returned. "
        'If you\'d like to cancel it, just say "cancel my order".'
    )


def _refund_sentence(order: OrderInfo, refund: RefundInfo, policy: ShopPolicy) -> str:
    amount = money(refund.amount, refund.currency)
    if refund.status == "issued" and refund.issued_at:
        return (
            f"We refunded {amount} to your {refund.method} on {day(refund.issued_at)} "
            f"for order #{order.number}. Banks can take {policy.refund_days[0]}-"
            f"{policy.refund_days[1]} business days to show it."
        )
    return (
        f"A refund of {amount} to your {refund.method} for order #{order.number} is being "
        f"processed; it should reach you within {policy.refund_days[1]} business days of "
        f"{day(refund.created_at)}."
    )


def return_refusal(order: OrderInfo, check: ReturnCheck, policy: ShopPolicy) -> str:
    number = f"#{order.number}"
    match check.reason:
        case "not_delivered":
            return (
                f"Order {number} hasn't been delivered yet, so it can't be returned yet. "
                "Once it arrives you'll have "
                f"{policy.return_window_days} days to send it back. If it hasn't shipped, "
                "you can still cancel it instead."
            )
        case "already_returned":
            rma = order.returns[-1].rma_number if order.returns else "a return"
            return f"There's already a return open for order {number}: {rma}."
        case "refunded":
            return f"Order {number} has already been returned and refunded."
        case "cancelled":
            return f"Order {number} was cancelled, so there's nothing to return."
        case "window_closed":
            return (
                f"I'm sorry, order {number} is outside our {policy.return_window_days}-day "
                f"return window: it closed on {day(check.deadline)}. If something is faulty, "
                "it may still be covered by the warranty; I can connect you with a person."
            )
        case "final_sale":
            return (
                f"Everything in order {number} was final sale, which we can't take back. "
                "If something is faulty, I can connect you with a person."
            )
    raise ValueError(f"not a refusal: {check.reason}")


def return_offer(order: OrderInfo, check: ReturnCheck) -> str:
    items = ", ".join(f"{line.quantity} x {line.name}" for line in check.lines)
    text = f"Order #{order.number} can be returned until {day(check.deadline)}: {items}."
    if check.final_sale_lines:
        kept = ", ".join(line.name for line in check.final_sale_lines)
        text += f" ({kept} was final sale and can't be returned.)"
    return text + " Shall I open the return now?"


def change_refusal(order: OrderInfo, reason: str, what: str) -> str:
    """Why an order can't be cancelled or re-addressed. what: 'cancel' or 'address'."""
    number = f"#{order.number}"
    ship = order.shipment
    if reason == "shipped" and ship:
        if what == "cancel":
            return (
                f"Order {number} has already shipped with {ship.carrier}, so I can't cancel "
                "it. Once it arrives you can return it within our return window for a refund."
            )
        return (
            f"Order {number} has already shipped with {ship.carrier} (tracking "
            f"{ship.tracking_number}), so we can't change its address any more. The carrier "
            "may be able to redirect it from their tracking page, or I can connect you "
            "with a person."
        )
    if reason == "delivered":
        if what == "cancel":
            return (
                f"Order {number} has already been delivered, so it can't be cancelled. "
                'You can return it instead: just say "return my order".'
            )
        return f"Order {number} has already been delivered to {order.ship_to}."
    if reason == "cancelled":
        return f"Order {number} is already cancelled."
    return f"Order {number} has already been returned, so it can't be changed."


def handoff_notice(ticket_id: int, hours: SupportHours, now: datetime) -> str:
    """What happens next, once a conversation is handed to a person."""
    if hours.staffed(now):
        return (
            f"I've asked a person from our support team to take over (reference H-{ticket_id}). "
            "They'll reply right here in this chat, usually within a few minutes. I'll stay "
            "quiet in the meantime."
        )
    return (
        f"I've asked a person from our support team to take over (reference H-{ticket_id}). "
        f"Our team is away right now (we're there {hours.label}), so someone will reply right "
        "here in this chat when they're back. I'll stay quiet in the meantime."
    )


# --- what the gateway itself says -------------------------------------------------------

UNAVAILABLE = (
    "Sorry, the assistant is temporarily unavailable. Your message is saved; please try "
    "again in a few minutes."
)
STORE_DOWN = (
    "Sorry, we can't save messages right now, so this one was not received. "
    "Please send it again in a minute."
)
TEXT_ONLY = "Sorry, I can only read text messages. Please type your question and I'll help."
SLOW_DOWN = (
    "You're sending messages faster than I can read them. Your messages are saved; please "
    "wait a minute before sending more."
)


# --- what the actions say besides order answers -------------------------------------------

YES_NO = [{"title": "Yes", "payload": "/affirm"}, {"title": "No", "payload": "/deny"}]
CAPABILITIES = (
    "I can check an order's status or delivery date, start a return, look up a refund, "
    "cancel an order or change its delivery address"
)
SOMETHING_WENT_WRONG = "Sorry, something went wrong on my side."
NOT_AN_ORDER_NUMBER = (
    "That doesn't look like an order number. It's the 5-digit number in your confirmation "
    "email, like #10423."
)
NOT_A_PROOF = (
    "Please send the email address you ordered with (like name@example.com) or the postcode "
    "the order is going to (like 97205 or SW1A 2AA)."
)
# The same words whether the number or the proof was wrong: no hint that an order exists.
PROOF_MISMATCH = (
    "Sorry, that doesn't match our records for that order number. Let's try again with both."
)
VERIFICATION_STOPPED = "I couldn't verify that order, so for your security I've stopped trying."
VERIFY_AGAIN = "I need to verify that order again first."
ADDRESS_INCOMPLETE = (
    "I need the full address in one message, including the house number and postcode, "
    'like "12 Harbour Road, Leeds LS1 4AP, UK".'
)
NO_LONGER_RETURNABLE = "That order can no longer be returned."
GREAT = "Great!"
OK = "OK."
GLAD_IT_HELPED = "Glad I could help!"
SORRY_OFFER_PERSON = "Sorry about that. Would you like me to connect you with a person?"
NO_PROBLEM = f"No problem. {CAPABILITIES}: just ask."
UPSET_OFFER_PERSON = (
    "I'm really sorry about this. I can hand you over to a person on our team right now. "
    "Would you like that?"
)
DID_THAT_HELP = "Did that help?"
DID_YOU_MEAN = "I'm not sure I understood. Did you mean one of these?"
DONT_KNOW_EITHER = "I'm sorry, I don't know that one either."
DONT_KNOW = (
    f"Sorry, I don't know that one. {CAPABILITIES}, and answer questions about shipping, "
    "returns, payment and your account. Could you put it another way, or shall I connect you "
    "with a person?"
)
WELCOME_BACK = (
    f"Hi again, it's the shop assistant. {CAPABILITIES}; just ask if there's anything else."
)


def cancel_offer(order: OrderInfo) -> str:
    return f"Order #{order.number} hasn't shipped yet, so I can cancel it. Shall I cancel it now?"


def address_change_offer(order: OrderInfo) -> str:
    return (
        f"Order #{order.number} is going to {order.ship_to} and hasn't shipped yet, so I can "
        "change that."
    )


def address_change_confirm(order: OrderInfo, address: str) -> str:
    return f'Just to confirm: send order #{order.number} to "{address}" instead of {order.ship_to}?'


def left_as_is(number: str) -> str:
    return f"OK, I've left order #{number} as it is."


def cancelled(order: OrderInfo, policy: ShopPolicy) -> str:
    text = f"Done: order #{order.number} is cancelled."
    if not order.refunds:
        return text + " You hadn't been charged, so there's nothing to refund."
    refund = order.refunds[-1]
    low, high = policy.refund_days
    return text + (
        f" We're refunding {money(refund.amount, refund.currency)} to your {refund.method}; "
        f"it takes {low}-{high} business days to show on your statement."
    )


def address_changed(order: OrderInfo) -> str:
    return f"Done: order #{order.number} will now go to {order.ship_to}."


def return_opened(rma_number: str, deadline: date, policy: ShopPolicy) -> str:
    return (
        f"Your return is open: {rma_number}. We've emailed a prepaid label to the address on "
        f"the order. Send the items by {day(deadline)}; we refund within "
        f"{policy.refund_days[1]} business days of receiving them."
    )

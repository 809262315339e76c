"""`bot.orders.OrderSource` over a WooCommerce shop's REST API v3 (`ORDER_SOURCE=woocommerce`).

WooCommerce knows fewer order states than the demo shop, so the mapping is coarse: pending and
on-hold are `pending`, processing is `paid`, completed is `shipped` while it has a Shipment
Tracking item and no delivery date and `delivered` otherwise, cancelled and refunded stay (a
partial refund keeps the status). WooCommerce has no delivery date and no returns: the delivery
time is read from the order meta `_date_delivered` (a Unix time or ISO date the shop's carrier
integration writes), and returns are private order notes this source writes and reads back.
Likewise `_out_for_delivery`, `_delayed` and `_delay_reason` make a shipped order out for
delivery or delayed (with what to tell the shopper).
Changes are checked against bot.policy's rules before they are sent, and the order is read
again afterwards, so the actions see what WooCommerce now holds.
"""

from __future__ import annotations

import base64
import re
import secrets
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from bot.clock import utcnow
from bot.orders import (
    LineInfo,
    OrderChangeRefused,
    OrderInfo,
    OrderSourceUnavailable,
    RefundInfo,
    ReturnInfo,
    ShipmentInfo,
    joined,
)
from bot.policy import RETURNABLE_STATES, UNSHIPPED_STATES, promised_window
from bot.settings import Settings, get_settings
from bot.sources.http import PlatformClient, required

API = "/wp-json/wc/v3"
FINAL_SALE = "final-sale"  # a line's meta key, or a product tag's slug
TRACKING_META = "_wc_shipment_tracking_items"  # the Shipment Tracking extension's
DELIVERED_META = "_date_delivered"
# Set by the shop (or a carrier plugin) on a shipped order: a parcel out for delivery, a late
# one, and what to tell shoppers about it. Like DELIVERED_META, conventions of this adapter.
OUT_FOR_DELIVERY_META = "_out_for_delivery"
DELAYED_META = "_delayed"
DELAY_REASON_META = "_delay_reason"
NOT_FOUND = "woocommerce_rest_shop_order_invalid_id"
SEARCH_PAGES = 5  # pages of 20 looked through for an order whose number is not its id
STATUS = {
    "pending": "pending",
    "on-hold": "pending",
    "checkout-draft": "pending",
    "failed": "pending",
    "processing": "paid",
    "cancelled": "cancelled",
    "refunded": "refunded",
}
# A private note recording a return: written by create_return, read back by get_order. A later
# note "Return RMA-123456 received." (the shop's) moves the return on.
RETURN_NOTE = re.compile(r"\bReturn (RMA-\d+) (requested|received|closed)\b")


class WooCommerceOrderSource:
    def __init__(self, settings: Settings | None = None) -> None:
        settings = settings or get_settings()
        required(
            "woocommerce",
            WOOCOMMERCE_URL=(settings.woocommerce_url, "the shop's https:// address"),
            WOOCOMMERCE_CONSUMER_KEY=(settings.woocommerce_consumer_key, "ck_..."),
            WOOCOMMERCE_CONSUMER_SECRET=(settings.woocommerce_consumer_secret, "cs_..."),
        )
        pair = f"{settings.woocommerce_consumer_key}:{settings.woocommerce_consumer_secret}"
        # Basic auth over HTTPS, as WooCommerce documents it (plain HTTP needs OAuth 1.0a).
        self.client = PlatformClient.for_settings(
            "WooCommerce",
            settings.woocommerce_url.rstrip("/") + API,
            {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()},
            settings,
        )

    # --- the interface ----------------------------------------------------------------------
    def get_order(self, number: str) -> OrderInfo | None:
        order = self._find(number)
        return None if order is None else self._info(order)

    def cancel_order(self, number: str) -> OrderInfo:
        order, info = self._for_change(number, UNSHIPPED_STATES)
        if info.status != "pending":
            # Record the refund first: a full refund turns the order `refunded`, which stops it
            # being shipped even if the cancel below then fails. api_refund false: WooCommerce
            # records it, and the shop pays it back through its payment provider.
            refunded = sum((r.amount for r in info.refunds), Decimal(0))
            amount = _money(order.get("total")) - refunded
            if amount > 0:
                self._change(
                    "POST",
                    f"/orders/{order['id']}/refunds",
                    {
                        "amount": f"{amount:.2f}",
                        "reason": "Cancelled at the shopper's request (Storefront Assist)",
                        "api_refund": False,
                    },
                )
        self._change("PUT", f"/orders/{order['id']}", {"status": "cancelled"})
        return self._read_again(number)

    def change_address(self, number: str, new_address: str) -> OrderInfo:
        order, _ = self._for_change(number, UNSHIPPED_STATES)
        # The shopper types the whole address in one message: it replaces line 1 and the city,
        # as in the demo shop. The postcode on file stays: it is what the shopper verifies with.
        shipping = {"address_1": new_address.strip(), "address_2": "", "city": ""}
        self._change("PUT", f"/orders/{order['id']}", {"shipping": shipping})
        return self._read_again(number)

    def create_return(self, number: str, skus: list[str]) -> ReturnInfo:
        order, _ = self._for_change(number, RETURNABLE_STATES)
        on_order = {str(line.get("sku") or "") for line in order.get("line_items") or []}
        chosen = [sku for sku in skus if sku and sku in on_order]
        if not chosen:
            raise OrderChangeRefused(f"order {number} has no lines with those SKUs")
        rma = f"RMA-{secrets.randbelow(900000) + 100000}"
        text = (
            f"Return {rma} requested for SKUs: {', '.join(chosen)}. Opened by the shopper "
            "through Storefront Assist: email them a prepaid return label."
        )
        note = self._change(
            "POST", f"/orders/{order['id']}/notes", {"note": text, "customer_note": False}
        )
        created = _time(note.get("date_created_gmt")) if isinstance(note, dict) else None
        return ReturnInfo(rma, created or utcnow(), "requested")

    # --- REST ---------------------------------------------------------------------------------
    def _find(self, number: str) -> dict[str, Any] | None:
        number = number.strip().lstrip("#")
        if not number.isdigit():
            return None
        # By default an order's number is its id; a sequential-numbers plugin changes that.
        answer = self.client.request("GET", f"/orders/{number}", allow=(404,))
        if answer.status == 404:
            if _error_code(answer.data) != NOT_FOUND:
                raise OrderSourceUnavailable("WooCommerce answered 404 without an order error")
        elif isinstance(answer.data, dict) and str(answer.data.get("number")) == number:
            return answer.data
        for page in range(1, SEARCH_PAGES + 1):
            found = self.client.request(
                "GET", "/orders", params={"search": number, "per_page": 20, "page": page}
            )
            orders = found.data if isinstance(found.data, list) else []
            match = next((o for o in orders if str(o.get("number")) == number), None)
            if match is not None:
                return match
            if page >= _int(found.headers.get("x-wp-totalpages"), 1):
                break
        return None

    def _info(self, order: dict[str, Any]) -> OrderInfo:
        refunds = self._list(f"/orders/{order['id']}/refunds") if order.get("refunds") else []
        notes = self._list(f"/orders/{order['id']}/notes", {"type": "internal"}, paged=False)
        return to_info(order, refunds, notes, self._tagged_final_sale(order))

    def _tagged_final_sale(self, order: dict[str, Any]) -> set[int]:
        """The ids of the order's products tagged `final-sale`."""
        lines = order.get("line_items") or []
        ids = sorted(
            {int(line.get("product_id") or 0) for line in lines if not _line_final_sale(line)} - {0}
        )
        if not ids:
            return set()
        params = {"include": ",".join(map(str, ids)), "per_page": 100, "_fields": "id,tags"}
        products = self._list("/products", params)
        return {
            int(p["id"])
            for p in products
            if any(tag.get("slug") == FINAL_SALE for tag in p.get("tags") or [])
        }

    def _list(
        self, path: str, params: dict[str, Any] | None = None, paged: bool = True
    ) -> list[dict[str, Any]]:
        params = {**(params or {})}
        if paged:
            params.setdefault("per_page", 100)
        answer = self.client.request("GET", path, params=params)
        if not isinstance(answer.data, list):
            raise OrderSourceUnavailable("WooCommerce answered a list with something else")
        return [item for item in answer.data if isinstance(item, dict)]

    def _for_change(self, number: str, allowed: frozenset[str]) -> tuple[dict[str, Any], OrderInfo]:
        order = self._find(number)
        info = None if order is None else self._info(order)
        if order is None or info is None or info.status not in allowed:
            raise OrderChangeRefused(f"order {number} is not in one of {sorted(allowed)}")
        return order, info

    def _change(self, method: str, path: str, body: dict[str, Any]) -> Any:
        """A change: never sent twice unless WooCommerce surely did not run it."""
        return self.client.request(method, path, body=body, change=True).data

    def _read_again(self, number: str) -> OrderInfo:
        order = self.get_order(number)
        if order is None:
            raise OrderSourceUnavailable("the order was not found after changing it")
        return order


def _error_code(body: Any) -> str:
    return str(body.get("code") or "") if isinstance(body, dict) else ""


# --- mapping a WooCommerce order to the plain records ------------------------------------------


def to_info(
    order: dict[str, Any],
    refunds: list[dict[str, Any]],
    notes: list[dict[str, Any]],
    final_sale_products: set[int],
) -> OrderInfo:
    shipping = order.get("shipping") or {}
    currency = order.get("currency") or "USD"
    meta = _meta(order.get("meta_data"))
    shipment = _shipment(order, meta)
    returns = _returns(notes)
    return OrderInfo(
        number=str(order["number"]),
        status=status_of(order, shipment, returns),
        placed_at=_time(order.get("date_created_gmt")) or utcnow(),
        currency=currency,
        email=(order.get("billing") or {}).get("email") or "",
        postcode=shipping.get("postcode") or "",
        ship_name=joined(" ", shipping.get("first_name"), shipping.get("last_name")),
        ship_to=joined(
            ", ", shipping.get("address_1"), shipping.get("city"), shipping.get("postcode")
        ),
        lines=tuple(_line(line, final_sale_products) for line in order.get("line_items") or []),
        shipment=shipment,
        returns=returns,
        refunds=tuple(
            _refund(r, currency, order.get("payment_method_title") or "")
            for r in sorted(refunds, key=lambda r: (r.get("date_created_gmt") or "", r["id"]))
        ),
    )


def status_of(
    order: dict[str, Any], shipment: ShipmentInfo | None, returns: tuple[ReturnInfo, ...]
) -> str:
    """The demo shop's order state for a WooCommerce order (bot.store.models.ORDER_STATES)."""
    status = str(order.get("status") or "")
    if status == "completed":
        if shipment is not None and shipment.delivered_at is None:
            if _meta(order.get("meta_data")).get(DELAYED_META):
                return "delayed"
            return "out_for_delivery" if shipment.out_for_delivery else "shipped"
        if any(r.status == "requested" for r in returns):
            return "return_requested"
        return "delivered"
    # A custom status (a plugin's) reads as paid when paid, else as pending.
    return STATUS.get(status, "paid" if order.get("date_paid_gmt") else "pending")


def _shipment(order: dict[str, Any], meta: dict[str, Any]) -> ShipmentInfo | None:
    items = [item for item in meta.get(TRACKING_META) or [] if isinstance(item, dict)]
    delivered = _when(meta.get(DELIVERED_META))
    completed = _time(order.get("date_completed_gmt"))
    if not items:
        if order.get("status") != "completed":
            return None
        # Completed with no tracking: handed over (or marked delivered) when completed.
        moment = completed or _time(order.get("date_created_gmt")) or utcnow()
        promised_from, promised_to = promised_window(moment.date())
        return ShipmentInfo("", "", moment, promised_from, promised_to, None, delivered or moment)
    item = items[-1]  # the latest parcel
    shipped_at = _when(item.get("date_shipped")) or completed or utcnow()
    promised_from, promised_to = promised_window(shipped_at.date())
    return ShipmentInfo(
        carrier=str(item.get("custom_tracking_provider") or item.get("tracking_provider") or ""),
        tracking_number=str(item.get("tracking_number") or ""),
        shipped_at=shipped_at,
        promised_from=promised_from,
        promised_to=promised_to,
        revised_eta=None,
        delivered_at=delivered,
        tracking_url=str(item.get("custom_tracking_link") or item.get("tracking_link") or "")
        or None,
        out_for_delivery=bool(meta.get(OUT_FOR_DELIVERY_META)),
        delay_reason=str(meta.get(DELAY_REASON_META) or "").strip()[:200] or None,
    )


def _returns(notes: list[dict[str, Any]]) -> tuple[ReturnInfo, ...]:
    """Returns as recorded in private notes, oldest first; a later note updates the status."""
    found: dict[str, ReturnInfo] = {}
    ordered = sorted(notes, key=lambda n: (n.get("date_created_gmt") or "", n.get("id") or 0))
    for note in ordered:
        if note.get("customer_note"):
            continue
        for rma, state in RETURN_NOTE.findall(str(note.get("note") or "")):
            created = found[rma].created_at if rma in found else _time(note.get("date_created_gmt"))
            found[rma] = ReturnInfo(rma, created or utcnow(), state)
    return tuple(found.values())


def _line(line: dict[str, Any], final_sale_products: set[int]) -> LineInfo:
    tagged = int(line.get("product_id") or 0) in final_sale_products
    return LineInfo(
        str(line.get("sku") or ""),
        str(line.get("name") or ""),
        int(line.get("quantity") or 0),
        _money(line.get("price")),
        tagged or _line_final_sale(line),
    )


def _line_final_sale(line: dict[str, Any]) -> bool:
    for entry in line.get("meta_data") or []:
        key, value = str(entry.get("key") or ""), entry.get("value")
        if key.lstrip("_") in (FINAL_SALE, "final_sale") and str(value).lower() not in (
            "",
            "0",
            "no",
            "false",
        ):
            return True
        if str(value).lower() == FINAL_SALE:
            return True
    return False


def _refund(refund: dict[str, Any], currency: str, method: str) -> RefundInfo:
    created = _time(refund.get("date_created_gmt")) or utcnow()
    # refunded_payment: the gateway paid it back. Otherwise it is a record of money the shop
    # still has to pay back through its payment provider.
    issued = bool(refund.get("refunded_payment"))
    return RefundInfo(
        amount=abs(_money(refund.get("amount"))),
        currency=currency,
        method=method or "the original payment method",
        status="issued" if issued else "pending",
        created_at=created,
        issued_at=created if issued else None,
    )


def _meta(entries: Any) -> dict[str, Any]:
    return {
        str(entry.get("key")): entry.get("value")
        for entry in entries or []
        if isinstance(entry, dict)
    }


def _money(value: Any) -> Decimal:
    try:
        return Decimal(str(value if value not in (None, "") else "0")).quantize(Decimal("0.01"))
    except InvalidOperation:
        return Decimal("0.00")


def _int(value: Any, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def _when(value: Any) -> datetime | None:
    """A Unix time (as Shipment Tracking keeps date_shipped) or an ISO date, as naive UTC."""
    if value in (None, ""):
        return None
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC).replace(tzinfo=None)
    return _time(text)


def _time(text: Any) -> datetime | None:
    """WooCommerce's `*_gmt` date-time (ISO 8601 without a zone, in UTC) as naive UTC."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment

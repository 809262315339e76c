"""`bot.orders.OrderSource` over a Shopify shop's Admin GraphQL API (`ORDER_SOURCE=shopify`).

Shopify has no order "status" like the demo shop's: it is worked out from what the order says
(cancelledAt, refunds, returns, the first fulfillment's display status, the financial status),
so bot.policy's rules apply unchanged. Changes are checked against the same rules before they
are sent, and the order is read again afterwards, so the actions see what Shopify now holds.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal
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
from bot.sources.http import MAX_WAIT_SECONDS, PlatformClient, required

FINAL_SALE_TAG = "final-sale"
DELIVERED = {"DELIVERED"}
IN_TRANSIT = {"IN_TRANSIT"}
OUT_FOR_DELIVERY = {"OUT_FOR_DELIVERY"}
DELAYED = {"DELAYED", "FAILURE", "ATTEMPTED_DELIVERY", "NOT_DELIVERED"}
OPEN_RETURNS = {"REQUESTED", "OPEN"}
CANCEL_POLLS = 5  # orderCancel runs as a job: read back this many times until it shows

MONEY = "presentmentMoney { amount currencyCode }"
ORDER_QUERY = f"""
query OrderByName($query: String!) {{
  orders(first: 5, query: $query) {{
    nodes {{
      id name createdAt updatedAt cancelledAt email currencyCode
      displayFinancialStatus displayFulfillmentStatus
      shippingAddress {{ address1 address2 city zip countryCodeV2 firstName lastName }}
      lineItems(first: 100) {{
        nodes {{ sku name quantity originalUnitPriceSet {{ {MONEY} }} product {{ tags }} }}
      }}
      fulfillments(first: 5) {{
        createdAt displayStatus estimatedDeliveryAt deliveredAt
        trackingInfo(first: 1) {{ company number url }}
        events(first: 1, reverse: true, sortKey: HAPPENED_AT) {{ nodes {{ status message }} }}
        fulfillmentLineItems(first: 100) {{ nodes {{ id quantity lineItem {{ sku }} }} }}
      }}
      returns(first: 20) {{ nodes {{ id name status }} }}
      refunds(first: 20) {{
        createdAt
        totalRefundedSet {{ {MONEY} }}
        transactions(first: 5) {{
          nodes {{
            status processedAt formattedGateway
            paymentDetails {{ ... on CardPaymentDetails {{ company number }} }}
          }}
        }}
      }}
    }}
  }}
}}
"""
CANCEL_MUTATION = """
mutation OrderCancel($orderId: ID!) {
  orderCancel(orderId: $orderId, reason: CUSTOMER, refund: true, restock: true,
              notifyCustomer: true) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}
"""
UPDATE_MUTATION = """
mutation OrderUpdate($input: OrderInput!) {
  orderUpdate(input: $input) {
    order { id }
    userErrors { field message }
  }
}
"""
RETURN_MUTATION = """
mutation ReturnRequest($input: ReturnRequestInput!) {
  returnRequest(input: $input) {
    return { id name status }
    userErrors { field message code }
  }
}
"""


class ShopifyOrderSource:
    def __init__(self, settings: Settings | None = None) -> None:
        settings = settings or get_settings()
        required(
            "shopify",
            SHOPIFY_SHOP_URL=(settings.shopify_shop_url, "https://NAME.myshopify.com"),
            SHOPIFY_ACCESS_TOKEN=(settings.shopify_access_token, "the custom app's"),
        )
        self.path = f"/admin/api/{settings.shopify_api_version}/graphql.json"
        self.client = PlatformClient.for_settings(
            "Shopify",
            settings.shopify_shop_url.rstrip("/"),
            {"X-Shopify-Access-Token": settings.shopify_access_token},
            settings,
        )

    # --- the interface ----------------------------------------------------------------------
    def get_order(self, number: str) -> OrderInfo | None:
        node = self._order_node(number)
        return None if node is None else to_info(node)

    def cancel_order(self, number: str) -> OrderInfo:
        node = self._node_for_change(number, UNSHIPPED_STATES)
        payload = self._mutate(CANCEL_MUTATION, {"orderId": node["id"]}, "orderCancel")
        _refuse_on(payload.get("orderCancelUserErrors"))
        for poll in range(CANCEL_POLLS):
            order = self.get_order(number)
            if order is None or order.status == "cancelled" or poll == CANCEL_POLLS - 1:
                break
            time.sleep(0.2 * 2**poll)
        if order is None:
            raise OrderSourceUnavailable("the order was not found after cancelling it")
        return order

    def change_address(self, number: str, new_address: str) -> OrderInfo:
        node = self._node_for_change(number, UNSHIPPED_STATES)
        old = node.get("shippingAddress") or {}
        # The shopper types the whole address in one message: it replaces line 1 and the city,
        # as in the demo shop. The postcode on file stays: it is what the shopper verifies with.
        address = {
            "address1": new_address.strip(),
            "address2": "",
            "city": "",
            "zip": old.get("zip") or "",
            "countryCode": old.get("countryCodeV2"),
            "firstName": old.get("firstName"),
            "lastName": old.get("lastName"),
        }
        address = {key: value for key, value in address.items() if value is not None}
        variables = {"input": {"id": node["id"], "shippingAddress": address}}
        payload = self._mutate(UPDATE_MUTATION, variables, "orderUpdate")
        _refuse_on(payload.get("userErrors"))
        order = self.get_order(number)
        if order is None:
            raise OrderSourceUnavailable("the order was not found after changing it")
        return order

    def create_return(self, number: str, skus: list[str]) -> ReturnInfo:
        node = self._node_for_change(number, RETURNABLE_STATES)
        wanted = set(skus)
        lines = [
            {
                "fulfillmentLineItemId": item["id"],
                "quantity": item["quantity"],
                "returnReason": "OTHER",
            }
            for fulfillment in node.get("fulfillments") or []
            for item in _nodes(fulfillment.get("fulfillmentLineItems"))
            if ((item.get("lineItem") or {}).get("sku") or "") in wanted
        ]
        if not lines:
            raise OrderChangeRefused(f"order {number} has no fulfilled lines with those SKUs")
        variables = {"input": {"orderId": node["id"], "returnLineItems": lines}}
        payload = self._mutate(RETURN_MUTATION, variables, "returnRequest")
        _refuse_on(payload.get("userErrors"))
        created = payload.get("return") or {}
        if not created.get("name"):
            raise OrderSourceUnavailable("Shopify answered returnRequest without a return")
        # Return has no creation time in the 2025-01 API: it was created just now.
        return ReturnInfo(created["name"], utcnow(), created.get("status", "").lower())

    # --- GraphQL ------------------------------------------------------------------------------
    def _order_node(self, number: str) -> dict[str, Any] | None:
        name = f"#{number.lstrip('#')}"
        data = self._graphql(ORDER_QUERY, {"query": f'name:"{name}"'}, change=False)
        # Search is by prefix and words: keep only the order with exactly this name.
        nodes = _nodes((data or {}).get("orders"))
        return next((node for node in nodes if node.get("name") == name), None)

    def _node_for_change(self, number: str, allowed: frozenset[str]) -> dict[str, Any]:
        node = self._order_node(number)
        if node is None or to_info(node).status not in allowed:
            raise OrderChangeRefused(f"order {number} is not in one of {sorted(allowed)}")
        return node

    def _mutate(self, query: str, variables: dict[str, Any], field: str) -> dict[str, Any]:
        data = self._graphql(query, variables, change=True)
        payload = (data or {}).get(field)
        if not isinstance(payload, dict):
            raise OrderSourceUnavailable(f"Shopify answered {field} without a result")
        return payload

    def _graphql(self, query: str, variables: dict[str, Any], change: bool) -> Any:
        answer = self.client.post_json(
            self.path,
            {"query": query, "variables": variables},
            change=change,
            throttled=throttle_wait,
        )
        if not isinstance(answer, dict):
            raise OrderSourceUnavailable("Shopify answered with something other than an object")
        if errors := answer.get("errors"):
            codes = sorted({_error_code(error) for error in _as_list(errors)})
            raise OrderSourceUnavailable(f"Shopify answered with errors: {', '.join(codes)}")
        return answer.get("data")


def throttle_wait(answer: Any) -> float | None:
    """Seconds to wait when Shopify answered THROTTLED (the query did not run), else None:
    long enough for the bucket to refill the query's cost, from extensions.cost."""
    if not isinstance(answer, dict):
        return None
    if not any(_error_code(error) == "THROTTLED" for error in _as_list(answer.get("errors"))):
        return None
    cost = (answer.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return min(max(missing / float(status["restoreRate"]), 0.0), MAX_WAIT_SECONDS)
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return 1.0


def _refuse_on(user_errors: Any) -> None:
    if errors := _as_list(user_errors):
        messages = "; ".join(str(e.get("message", "")) for e in errors if isinstance(e, dict))
        raise OrderChangeRefused(f"Shopify refused the change: {messages}")


def _error_code(error: Any) -> str:
    if isinstance(error, dict):
        return str((error.get("extensions") or {}).get("code") or "error")
    return "error"


def _as_list(value: Any) -> list[Any]:
    if not value:
        return []
    return value if isinstance(value, list) else [value]


def _nodes(connection: Any) -> list[dict[str, Any]]:
    return list((connection or {}).get("nodes") or [])


# --- mapping a Shopify order to the plain records ---------------------------------------------


def to_info(node: dict[str, Any]) -> OrderInfo:
    fulfillment = next(iter(node.get("fulfillments") or []), None)
    address = node.get("shippingAddress") or {}
    currency = node.get("currencyCode") or "USD"
    return OrderInfo(
        number=str(node["name"]).lstrip("#"),
        status=status_of(node, fulfillment),
        placed_at=_time(node["createdAt"]),
        currency=currency,
        email=node.get("email") or "",
        postcode=address.get("zip") or "",
        ship_name=joined(" ", address.get("firstName"), address.get("lastName")),
        ship_to=joined(", ", address.get("address1"), address.get("city"), address.get("zip")),
        lines=tuple(_line(item) for item in _nodes(node.get("lineItems"))),
        shipment=None if fulfillment is None else _shipment(fulfillment),
        returns=tuple(
            ReturnInfo(
                r["name"],
                _time(node.get("updatedAt") or node["createdAt"]),
                str(r.get("status", "")).lower(),
            )
            for r in _nodes(node.get("returns"))
        ),
        refunds=tuple(_refund(refund, currency) for refund in node.get("refunds") or []),
    )


def status_of(node: dict[str, Any], fulfillment: dict[str, Any] | None) -> str:
    """The demo shop's order state for a Shopify order (bot.store.models.ORDER_STATES)."""
    if node.get("cancelledAt"):
        return "cancelled"
    if node.get("displayFinancialStatus") == "REFUNDED":
        return "refunded"
    if any(r.get("status") in OPEN_RETURNS for r in _nodes(node.get("returns"))):
        return "return_requested"
    if fulfillment is not None:
        shown = fulfillment.get("displayStatus")
        if shown in DELIVERED or fulfillment.get("deliveredAt"):
            return "delivered"
        if shown in IN_TRANSIT:
            return "in_transit"
        if shown in OUT_FOR_DELIVERY:
            return "out_for_delivery"
        if shown in DELAYED:
            return "delayed"
        return "shipped"
    if node.get("displayFinancialStatus") == "PENDING":
        return "pending"
    if node.get("displayFulfillmentStatus") == "IN_PROGRESS":
        return "packed"
    return "paid"


def _line(item: dict[str, Any]) -> LineInfo:
    price = ((item.get("originalUnitPriceSet") or {}).get("presentmentMoney") or {})["amount"]
    tags = (item.get("product") or {}).get("tags") or []
    return LineInfo(
        item.get("sku") or "",
        item.get("name") or "",
        int(item.get("quantity") or 0),
        Decimal(str(price)),
        FINAL_SALE_TAG in tags,
    )


def _shipment(fulfillment: dict[str, Any]) -> ShipmentInfo:
    tracking = next(iter(fulfillment.get("trackingInfo") or []), None) or {}
    shipped_at = _time(fulfillment["createdAt"])
    promised_from, promised_to = promised_window(shipped_at.date())
    revised = None
    if estimated := fulfillment.get("estimatedDeliveryAt"):
        estimate = _time(estimated).date()
        if fulfillment.get("displayStatus") in DELAYED:
            revised = estimate  # the carrier's new date for a late parcel
        else:  # the carrier's date ends a window as wide as the policy's transit days
            promised_from = estimate - (promised_to - promised_from)
            promised_to = estimate
    delivered = fulfillment.get("deliveredAt")
    return ShipmentInfo(
        carrier=tracking.get("company") or "",
        tracking_number=tracking.get("number") or "",
        shipped_at=shipped_at,
        promised_from=promised_from,
        promised_to=promised_to,
        revised_eta=revised,
        delivered_at=None if not delivered else _time(delivered),
        tracking_url=tracking.get("url") or None,
        out_for_delivery=fulfillment.get("displayStatus") in OUT_FOR_DELIVERY,
        delay_reason=_delay_reason(fulfillment),
    )


def _delay_reason(fulfillment: dict[str, Any]) -> str | None:
    """The message of the latest tracking event, when it says the parcel is delayed."""
    latest = next(iter(_nodes(fulfillment.get("events"))), None) or {}
    if latest.get("status") != "DELAYED":
        return None
    return str(latest.get("message") or "").strip()[:200] or None


def _refund(refund: dict[str, Any], currency: str) -> RefundInfo:
    money = (refund.get("totalRefundedSet") or {}).get("presentmentMoney") or {}
    transactions = _nodes(refund.get("transactions"))
    done = [t for t in transactions if t.get("status") == "SUCCESS"]
    issued = bool(done) and len(done) == len(transactions)
    first = (done or transactions or [{}])[0]
    return RefundInfo(
        amount=Decimal(str(money.get("amount") or "0")),
        currency=money.get("currencyCode") or currency,
        method=_method(first),
        status="issued" if issued else "pending",
        created_at=_time(refund["createdAt"]),
        issued_at=_time(first["processedAt"]) if issued and first.get("processedAt") else None,
    )


def _method(transaction: dict[str, Any]) -> str:
    card = transaction.get("paymentDetails") or {}
    if card.get("company") and card.get("number"):
        return f"{card['company']} ending {str(card['number'])[-4:]}"
    return transaction.get("formattedGateway") or "the original payment method"


def _time(text: str) -> datetime:
    """Shopify's ISO 8601 time as the store keeps times: naive UTC."""
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment

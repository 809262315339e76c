"""A fake Shopify Admin GraphQL API: the demo shop's orders (read from the seeded SQL store,
so the same numbers exist) served in Shopify's documented shapes (data/errors/extensions.cost,
gid:// ids, money bags, userErrors), with state kept across mutations.

It stands in for a platform outside this machine. It does not execute GraphQL: it recognises
the operations by name (OrderByName, OrderCancel, OrderUpdate, ReturnRequest) and answers with
the whole documented object, of which the client reads what it selected. Tests can make it
answer 429, THROTTLED or 503 the next N times, answer slowly, or be down (503 always).
"""

from __future__ import annotations

import asyncio
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bot.policy import tracking_link
from bot.store.models import Order
from tests.fakes.demo_orders import Fault, demo_orders, take_fault

BAD_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"
FULFILLMENT_SHOWN = {
    "shipped": "FULFILLED",
    "in_transit": "IN_TRANSIT",
    "out_for_delivery": "OUT_FOR_DELIVERY",
    "delayed": "DELAYED",
    "delivered": "DELIVERED",
}
RETURN_STATUS = {"requested": "REQUESTED", "received": "CLOSED"}


@dataclass
class FakeShopifyAdmin:
    engine: Engine
    token: str = "shpat_test_token"
    version: str = "2025-01"
    down: bool = False
    faults: list[Fault] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    refuse_next: dict[str, str] = field(default_factory=dict)  # operation -> userError message
    attempts: int = 0

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.orders = _load(self.engine)
        self.app = Starlette(
            routes=[Route("/admin/api/{version}/graphql.json", self.handle, methods=["POST"])]
        )

    # --- the test's side --------------------------------------------------------------------
    def fail(self, kind: str, times: int = 1, operation: str | None = None, seconds: float = 0):
        self.faults.append(Fault(kind, times, operation, seconds))

    def sent(self, operation: str) -> list[dict[str, Any]]:
        with self.lock:
            return [variables for name, variables in self.calls if name == operation]

    def order(self, number: str) -> dict[str, Any]:
        return self.orders[number]

    # --- the API's side ---------------------------------------------------------------------
    async def handle(self, request: Request) -> JSONResponse:
        if request.headers.get("x-shopify-access-token") != self.token:
            return JSONResponse({"errors": BAD_TOKEN}, 401)
        self.attempts += 1  # every authenticated request, answered or not
        if self.down:
            return JSONResponse({"errors": "Service Unavailable"}, 503)
        body = await request.json()
        query, variables = body.get("query", ""), body.get("variables") or {}
        match = re.search(r"\b(query|mutation)\s+(\w+)", query)
        operation = match.group(2) if match else ""
        fault = take_fault(self.faults, self.lock, operation)
        if fault and fault.kind == "429":
            return JSONResponse(
                {"errors": "Exceeded 2 calls per second for api client."},
                429,
                headers={"Retry-After": "0.1"},
            )
        if fault and fault.kind == "503":
            return JSONResponse({"errors": "Service Unavailable"}, 503)
        if fault and fault.kind == "throttled":
            return JSONResponse(
                {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": _cost(requested=252, actual=None, available=250.0),
                }
            )
        with self.lock:
            self.calls.append((operation, variables))
            data = self._answer(operation, variables)
        if fault and fault.kind == "slow":
            await asyncio.sleep(fault.seconds)
        if data is None:
            return JSONResponse(
                {
                    "errors": [
                        {
                            "message": f"unknown operation {operation!r}",
                            "extensions": {"code": "BAD_REQUEST"},
                        }
                    ]
                },
                400,
            )
        return JSONResponse({"data": data, "extensions": _cost(20, 12, 1988.0)})

    def _answer(self, operation: str, variables: dict[str, Any]) -> dict[str, Any] | None:
        if operation == "OrderByName":
            name = re.sub(r'^name:"?|"$', "", variables.get("query", ""))
            found = [o for o in self.orders.values() if o["name"] == name]
            return {"orders": {"nodes": [_node(o) for o in found], "pageInfo": _no_more()}}
        if operation == "OrderCancel":
            return {"orderCancel": self._cancel(variables["orderId"])}
        if operation == "OrderUpdate":
            return {"orderUpdate": self._update(variables["input"])}
        if operation == "ReturnRequest":
            return {"returnRequest": self._return(variables["input"])}
        return None

    def _by_gid(self, gid: str) -> dict[str, Any] | None:
        return next((o for o in self.orders.values() if o["gid"] == gid), None)

    def _cancel(self, gid: str) -> dict[str, Any]:
        order = self._by_gid(gid)
        refusal = self.refuse_next.pop("OrderCancel", None)
        if order is None or refusal or order["cancelled_at"] or order["fulfillment"]:
            message = refusal or ("Order not found" if order is None else "Order can't be canceled")
            error = {"field": ["orderId"], "message": message, "code": "INVALID"}
            return {"job": None, "orderCancelUserErrors": [error], "userErrors": [error]}
        now = _now()
        order["cancelled_at"] = now
        if order["financial"] == "PAID":  # refund: true
            amount = sum((line["price"] * line["quantity"] for line in order["lines"]), Decimal())
            order["refunds"].append(
                {
                    "created_at": now,
                    "amount": amount,
                    "status": "PENDING",
                    "processed_at": now,
                    "method": order["payment_method"],
                }
            )
        order["financial"] = "REFUNDED" if order["refunds"] else "VOIDED"
        job = {"id": f"gid://shopify/Job/{order['id']}-cancel", "done": True}
        return {"job": job, "orderCancelUserErrors": [], "userErrors": []}

    def _update(self, given: dict[str, Any]) -> dict[str, Any]:
        order = self._by_gid(given.get("id", ""))
        if order is None:
            return {
                "order": None,
                "userErrors": [{"field": ["id"], "message": "Order does not exist"}],
            }
        if refusal := self.refuse_next.pop("OrderUpdate", None):
            return {
                "order": None,
                "userErrors": [{"field": ["shippingAddress"], "message": refusal}],
            }
        if "shippingAddress" in given:
            order["address"].update(given["shippingAddress"])
        return {"order": {"id": order["gid"]}, "userErrors": []}

    def _return(self, given: dict[str, Any]) -> dict[str, Any]:
        order = self._by_gid(given.get("orderId", ""))
        ids = {item["fulfillmentLineItemId"] for item in given.get("returnLineItems") or []}
        shipment = (order or {}).get("fulfillment") or {}
        known = (
            {f"gid://shopify/FulfillmentLineItem/{line['id']}" for line in order["lines"]}
            if order
            else set()
        )
        refusal = self.refuse_next.pop("ReturnRequest", None)
        if order is None or refusal or not shipment.get("delivered_at") or not ids <= known:
            message = refusal or "Return line items are invalid or not returnable"
            error = {"field": ["input"], "message": message, "code": "INVALID"}
            return {"return": None, "userErrors": [error]}
        name = f"{order['name']}-R{len(order['returns']) + 1}"
        order["returns"].append({"name": name, "status": "REQUESTED"})
        created = {
            "id": f"gid://shopify/Return/{order['id']}{len(order['returns'])}",
            "name": name,
            "status": "REQUESTED",
        }
        return {"return": created, "userErrors": []}


# --- the demo shop's orders, as Shopify would hold them -------------------------------------------


def _load(engine: Engine) -> dict[str, dict[str, Any]]:
    return dict(demo_orders(engine, lambda row: (row.number, _order(row))))


def _order(row: Order) -> dict[str, Any]:
    first, _, last = row.ship_name.partition(" ")
    ship = row.shipment
    status = row.status
    shown = FULFILLMENT_SHOWN.get(status)
    if ship is not None and ship.delivered_at is not None:
        shown = "DELIVERED"
    estimated = None  # a delayed parcel's date is the carrier's revised one, if any
    if ship is not None:
        estimated = ship.revised_eta if status == "delayed" else ship.promised_to
    financial = {"pending": "PENDING", "refunded": "REFUNDED"}.get(status, "PAID")
    if status == "cancelled":
        financial = "REFUNDED" if row.refunds else "VOIDED"
    return {
        "id": row.id,
        "gid": f"gid://shopify/Order/{row.id}",
        "name": f"#{row.number}",
        "created_at": row.placed_at,
        "cancelled_at": row.cancelled_at,
        "email": row.customer.email,
        "currency": row.currency,
        "financial": financial,
        "packed": status == "packed",
        "payment_method": row.payment_method,
        "address": {
            "firstName": first,
            "lastName": last,
            "address1": row.ship_line1,
            "address2": "",
            "city": row.ship_city,
            "zip": row.ship_postcode,
            "countryCode": row.ship_country,
        },
        "lines": [
            {
                "id": line.id,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "price": line.unit_price,
                "tags": ["final-sale"] if line.final_sale else [],
            }
            for line in row.lines
        ],
        "fulfillment": None
        if ship is None
        else {
            "id": ship.id,
            "created_at": ship.shipped_at,
            "shown": shown,
            "carrier": ship.carrier,
            "tracking": ship.tracking_number,
            "url": tracking_link(ship.carrier, ship.tracking_number),
            "delay_reason": ship.delay_reason if status == "delayed" else None,
            "estimated": None if estimated is None else datetime.combine(estimated, time(12)),
            "delivered_at": ship.delivered_at,
        },
        "returns": [
            {"name": r.rma_number, "status": RETURN_STATUS.get(r.status, "OPEN")}
            for r in row.returns
        ],
        "refunds": [
            {
                "created_at": r.created_at,
                "amount": r.amount,
                "status": "SUCCESS" if r.status == "issued" else "PENDING",
                "processed_at": r.issued_at or r.created_at,
                "method": row.payment_method,
            }
            for r in row.refunds
        ],
    }


def _node(order: dict[str, Any]) -> dict[str, Any]:
    """The Order object as the Admin API returns it."""
    currency = order["currency"]
    ship = order["fulfillment"]
    fulfilled = "FULFILLED" if ship else ("IN_PROGRESS" if order["packed"] else "UNFULFILLED")
    address = order["address"]
    return {
        "id": order["gid"],
        "name": order["name"],
        "createdAt": _iso(order["created_at"]),
        "updatedAt": _iso(order["created_at"]),
        "cancelledAt": _iso(order["cancelled_at"]),
        "email": order["email"],
        "currencyCode": currency,
        "displayFinancialStatus": order["financial"],
        "displayFulfillmentStatus": fulfilled,
        "shippingAddress": {
            "address1": address.get("address1"),
            "address2": address.get("address2") or None,
            "city": address.get("city") or None,
            "zip": address.get("zip"),
            "countryCodeV2": address.get("countryCode"),
            "firstName": address.get("firstName"),
            "lastName": address.get("lastName"),
        },
        "lineItems": {
            "nodes": [
                {
                    "id": f"gid://shopify/LineItem/{line['id']}",
                    "sku": line["sku"],
                    "name": line["name"],
                    "quantity": line["quantity"],
                    "originalUnitPriceSet": _money_bag(line["price"], currency),
                    "product": {"tags": line["tags"]},
                }
                for line in order["lines"]
            ],
            "pageInfo": _no_more(),
        },
        "fulfillments": []
        if ship is None
        else [
            {
                "id": f"gid://shopify/Fulfillment/{ship['id']}",
                "createdAt": _iso(ship["created_at"]),
                "displayStatus": ship["shown"],
                "estimatedDeliveryAt": _iso(ship["estimated"]),
                "deliveredAt": _iso(ship["delivered_at"]),
                "events": {
                    "nodes": [{"status": "DELAYED", "message": ship["delay_reason"]}]
                    if ship["delay_reason"]
                    else [],
                    "pageInfo": _no_more(),
                },
                "trackingInfo": [
                    {"company": ship["carrier"], "number": ship["tracking"], "url": ship["url"]}
                ],
                "fulfillmentLineItems": {
                    "nodes": [
                        {
                            "id": f"gid://shopify/FulfillmentLineItem/{line['id']}",
                            "quantity": line["quantity"],
                            "lineItem": {"sku": line["sku"]},
                        }
                        for line in order["lines"]
                    ],
                    "pageInfo": _no_more(),
                },
            }
        ],
        "returns": {
            "nodes": [
                {
                    "id": f"gid://shopify/Return/{order['id']}{n}",
                    "name": r["name"],
                    "status": r["status"],
                }
                for n, r in enumerate(order["returns"], 1)
            ],
            "pageInfo": _no_more(),
        },
        "refunds": [
            {
                "id": f"gid://shopify/Refund/{order['id']}{n}",
                "createdAt": _iso(r["created_at"]),
                "totalRefundedSet": _money_bag(r["amount"], currency),
                "transactions": {"nodes": [_transaction(r)], "pageInfo": _no_more()},
            }
            for n, r in enumerate(order["refunds"], 1)
        ],
    }


def _transaction(refund: dict[str, Any]) -> dict[str, Any]:
    method = refund["method"]
    card = re.fullmatch(r"(\w+) ending (\d{4})", method)
    return {
        "kind": "REFUND",
        "status": refund["status"],
        "processedAt": _iso(refund["processed_at"]),
        "gateway": "shopify_payments" if card else method.lower().replace(" ", "_"),
        "formattedGateway": "Shopify Payments" if card else method,
        "paymentDetails": None
        if not card
        else {
            "__typename": "CardPaymentDetails",
            "company": card.group(1),
            "number": f"•••• •••• •••• {card.group(2)}",
        },
    }


def _money_bag(amount: Decimal, currency: str) -> dict[str, Any]:
    money = {"amount": f"{Decimal(amount):.2f}", "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


def _cost(requested: int, actual: int | None, available: float) -> dict[str, Any]:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": 2000.0,
                "currentlyAvailable": available,
                "restoreRate": 100.0,
            },
        }
    }


def _no_more() -> dict[str, Any]:
    return {"hasNextPage": False, "hasPreviousPage": False}


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _iso(moment: datetime | None) -> str | None:
    """Shopify's DateTime: ISO 8601 in UTC, to the second."""
    if moment is None:
        return None
    return moment.replace(microsecond=0).isoformat() + "Z"


# --- the shop ships an order, as Shopify records it and tells its webhooks --------------------


def ship(
    fake: FakeShopifyAdmin,
    number: str,
    carrier: str,
    tracking: str,
    url: str,
    shown: str = "FULFILLED",
) -> dict[str, Any]:
    """Order `number` is fulfilled with one tracked parcel (a fulfillment whose trackingInfo is
    company/number/url, shown as `shown`), and the `fulfillments/create` webhook's payload that
    Shopify then sends: the REST Fulfillment resource (which names the order as "#N.1")."""
    with fake.lock:
        order = fake.orders[number]
        created = _now()
        fulfillment_id = 5_000_000 + order["id"]
        order["packed"] = False
        order["fulfillment"] = {
            "id": fulfillment_id,
            "created_at": created,
            "shown": shown,
            "carrier": carrier,
            "tracking": tracking,
            "url": url,
            "delay_reason": None,
            "estimated": None,
            "delivered_at": None,
        }
        address = order["address"]
        return {
            "id": fulfillment_id,
            "admin_graphql_api_id": f"gid://shopify/Fulfillment/{fulfillment_id}",
            "order_id": order["id"],
            "name": f"{order['name']}.1",
            "status": "success",
            "service": "manual",
            "shipment_status": None,
            "location_id": 24826418,
            "created_at": _offset_iso(created),
            "updated_at": _offset_iso(created),
            "email": order["email"],
            "origin_address": None,
            "destination": {
                "first_name": address["firstName"],
                "last_name": address["lastName"],
                "address1": address["address1"],
                "address2": address["address2"] or None,
                "city": address["city"],
                "zip": address["zip"],
                "country_code": address["countryCode"],
            },
            "line_items": [
                {
                    "id": line["id"],
                    "admin_graphql_api_id": f"gid://shopify/LineItem/{line['id']}",
                    "title": line["name"],
                    "name": line["name"],
                    "sku": line["sku"],
                    "quantity": line["quantity"],
                    "fulfillable_quantity": 0,
                    "fulfillment_status": "fulfilled",
                    "price": f"{Decimal(line['price']):.2f}",
                }
                for line in order["lines"]
            ],
            "tracking_company": carrier,
            "tracking_number": tracking,
            "tracking_numbers": [tracking],
            "tracking_url": url,
            "tracking_urls": [url],
            "receipt": {},
        }


def _offset_iso(moment: datetime) -> str:
    """Shopify's REST/webhook DateTime: ISO 8601 with the shop's UTC offset (UTC here)."""
    return moment.replace(microsecond=0, tzinfo=UTC).isoformat()

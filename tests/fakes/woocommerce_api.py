"""A fake WooCommerce REST API (wc/v3): the demo shop's orders (read from the seeded SQL store,
so the same numbers exist) served in WooCommerce's documented shapes, with state kept across
changes.

It stands in for a shop outside this machine. What it serves: orders (`GET /orders`,
`GET|PUT /orders/<id>`), refunds (`GET|POST /orders/<id>/refunds`), notes
(`GET|POST /orders/<id>/notes`) and products (`GET /products?include=`), behind basic auth with
the consumer key and secret, with WooCommerce's error body `{"code", "message", "data":
{"status"}}` and the paging headers X-WP-Total, X-WP-TotalPages and Link on lists. The demo
shop's states become WooCommerce's: paid and packed are `processing`; anything shipped is
`completed` with a Shipment Tracking item in `_wc_shipment_tracking_items`; a delivered parcel
has its delivery time in `_date_delivered`; returns are private notes. Tests can make it answer
429 or 503 the next N times, answer slowly, or be down (503 always).
"""

from __future__ import annotations

import asyncio
import base64
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
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

API = "/wp-json/wc/v3"
STATUS = {
    "pending": "pending",
    "paid": "processing",
    "packed": "processing",
    "shipped": "completed",
    "in_transit": "completed",
    "out_for_delivery": "completed",
    "delayed": "completed",
    "delivered": "completed",
    "return_requested": "completed",
    "cancelled": "cancelled",
    "refunded": "refunded",
}
FINAL_SALE_BY_TAG = "SALE-"  # these SKUs are final sale by product tag, others by line meta


@dataclass
class FakeWooCommerce:
    engine: Engine
    key: str = "ck_test_key"
    secret: str = "cs_test_secret"
    id_offset: int = 0  # order ids differ from order numbers by this much (0: WooCommerce's way)
    down: bool = False
    faults: list[Fault] = field(default_factory=list)
    calls: list[tuple[str, int | None, Any]] = field(default_factory=list)
    attempts: int = 0

    OPERATIONS = (
        "list_orders",
        "get_order",
        "update_order",
        "list_refunds",
        "create_refund",
        "list_notes",
        "create_note",
        "list_products",
    )

    def __post_init__(self) -> None:
        self.lock = threading.Lock()
        self.orders, self.products = _load(self.engine, self.id_offset)
        self.next_id = 900000
        self.app = Starlette(
            routes=[
                Route(f"{API}/orders", self.handle, methods=["GET"], name="list_orders"),
                Route(f"{API}/orders/{{id:int}}", self.handle, methods=["GET", "PUT"]),
                Route(f"{API}/orders/{{id:int}}/refunds", self.handle, methods=["GET", "POST"]),
                Route(f"{API}/orders/{{id:int}}/notes", self.handle, methods=["GET", "POST"]),
                Route(f"{API}/products", self.handle, methods=["GET"]),
            ]
        )

    # --- the test's side --------------------------------------------------------------------
    def fail(self, kind: str, times: int = 1, operation: str | None = None, seconds: float = 0):
        assert operation is None or operation in self.OPERATIONS
        self.faults.append(Fault(kind, times, operation, seconds))

    def sent(self, operation: str) -> list[Any]:
        """The bodies (or query parameters) of the requests for `operation` that were run."""
        with self.lock:
            return [body for name, _, body in self.calls if name == operation]

    def order(self, number: str) -> dict[str, Any]:
        return next(o for o in self.orders.values() if o["number"] == number)

    # --- the API's side ---------------------------------------------------------------------
    async def handle(self, request: Request) -> JSONResponse:
        if not self._authorized(request):
            return _error("woocommerce_rest_authentication_error", "Consumer key is invalid.", 401)
        self.attempts += 1  # every authenticated request, answered or not
        if self.down:
            return _error("service_unavailable", "Service Unavailable", 503)
        order_id = request.path_params.get("id")
        operation = _operation(request.method, request.url.path, order_id is not None)
        fault = take_fault(self.faults, self.lock, operation)
        if fault and fault.kind == "429":
            return _error("too_many_requests", "Too many requests.", 429, {"Retry-After": "0.1"})
        if fault and fault.kind == "503":
            return _error("service_unavailable", "Service Unavailable", 503)
        body = await request.json() if request.method in ("POST", "PUT") else None
        params = dict(request.query_params)
        with self.lock:
            self.calls.append((operation, order_id, body if body is not None else params))
            response = self._answer(operation, order_id, body, params, request)
        if fault and fault.kind == "slow":
            await asyncio.sleep(fault.seconds)
        return response

    def _authorized(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            given = base64.b64decode(encoded).decode()
        except ValueError:
            return False
        return given == f"{self.key}:{self.secret}"

    def _answer(
        self,
        operation: str,
        order_id: int | None,
        body: Any,
        params: dict[str, str],
        request: Request,
    ) -> JSONResponse:
        if operation == "list_products":
            wanted = {int(i) for i in params.get("include", "").split(",") if i}
            found = [p for pid, p in self.products.items() if pid in wanted]
            return _page(found, params, request)
        if operation == "list_orders":
            search = params.get("search", "")
            found = [
                _order_json(o)
                for o in self.orders.values()
                if not search or search in (o["number"], str(o["id"])) or search in o["email"]
            ]
            return _page(found, params, request)
        order = self.orders.get(order_id or 0)
        if order is None:
            return _error("woocommerce_rest_shop_order_invalid_id", "Invalid ID.", 404)
        if operation == "get_order":
            return JSONResponse(_order_json(order))
        if operation == "update_order":
            return JSONResponse(_update(order, body or {}))
        if operation == "list_refunds":
            return _page([_refund_json(r) for r in order["refunds"]], params, request)
        if operation == "create_refund":
            return self._refund(order, body or {})
        if operation == "list_notes":
            return JSONResponse([_note_json(n) for n in reversed(order["notes"])])
        if operation == "create_note":
            note = {
                "id": self._new_id(),
                "created": _now(),
                "note": str((body or {}).get("note", "")),
                "customer_note": bool((body or {}).get("customer_note", False)),
                "author": "Storefront Assist",
            }
            if not note["note"]:
                return _error("woocommerce_rest_missing_note", "Note is required.", 400)
            order["notes"].append(note)
            return JSONResponse(_note_json(note), 201)
        return _error("rest_no_route", "No route was found.", 404)

    def _refund(self, order: dict[str, Any], body: dict[str, Any]) -> JSONResponse:
        try:
            amount = Decimal(str(body.get("amount", "0")))
        except ArithmeticError:
            amount = Decimal(0)
        refunded = sum((r["amount"] for r in order["refunds"]), Decimal())
        if amount <= 0 or amount > _total(order) - refunded:
            return _error(
                "woocommerce_rest_cannot_create_order_refund", "Invalid refund amount.", 500
            )
        refund = {
            "id": self._new_id(),
            "created": _now(),
            "amount": amount,
            "reason": str(body.get("reason", "")),
            # api_refund (default true) asks the payment gateway; this fake's always succeeds.
            "refunded_payment": bool(body.get("api_refund", True)),
        }
        order["refunds"].append(refund)
        if refunded + amount >= _total(order):  # fully refunded: WooCommerce marks it so
            order["status"] = "refunded"
        return JSONResponse(_refund_json(refund), 201)

    def _new_id(self) -> int:
        self.next_id += 1
        return self.next_id


def _operation(method: str, path: str, has_id: bool) -> str:
    if path.endswith("/products"):
        return "list_products"
    if path.endswith("/refunds"):
        return "create_refund" if method == "POST" else "list_refunds"
    if path.endswith("/notes"):
        return "create_note" if method == "POST" else "list_notes"
    if not has_id:
        return "list_orders"
    return "update_order" if method == "PUT" else "get_order"


def _update(order: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    if "status" in body:
        order["status"] = str(body["status"])
        if order["status"] == "completed" and order["completed"] is None:
            order["completed"] = _now()
    if isinstance(body.get("shipping"), dict):  # only the fields sent change
        order["shipping"].update({k: str(v) for k, v in body["shipping"].items()})
    return _order_json(order)


def _page(items: list[Any], params: dict[str, str], request: Request) -> JSONResponse:
    """A list with WooCommerce's paging headers."""
    per_page = max(1, min(int(params.get("per_page", "10")), 100))
    page = max(1, int(params.get("page", "1")))
    pages = max(1, -(-len(items) // per_page))
    headers = {"X-WP-Total": str(len(items)), "X-WP-TotalPages": str(pages)}
    links = []
    if page > 1:
        links.append(f'<{request.url.include_query_params(page=page - 1)}>; rel="prev"')
    if page < pages:
        links.append(f'<{request.url.include_query_params(page=page + 1)}>; rel="next"')
    if links:
        headers["Link"] = ", ".join(links)
    chunk = items[(page - 1) * per_page : page * per_page]
    return JSONResponse(chunk, headers=headers)


def _error(code: str, message: str, status: int, headers: dict[str, str] | None = None):
    return JSONResponse(
        {"code": code, "message": message, "data": {"status": status}}, status, headers=headers
    )


# --- the demo shop's orders, as WooCommerce would hold them ---------------------------------------


def _load(engine: Engine, id_offset: int) -> tuple[dict[int, dict[str, Any]], dict[int, Any]]:
    orders = demo_orders(engine, lambda row: _order(row, id_offset))
    skus = sorted({line["sku"] for o in orders for line in o["lines"]})
    product_ids = {sku: 500 + n for n, sku in enumerate(skus)}
    final_sale = {line["sku"] for o in orders for line in o["lines"] if line["final_sale"]}
    for order in orders:
        for line in order["lines"]:
            line["product_id"] = product_ids[line["sku"]]
            line["meta_final_sale"] = line["final_sale"] and not line["sku"].startswith(
                FINAL_SALE_BY_TAG
            )
    products = {
        pid: {
            "id": pid,
            "sku": sku,
            "tags": [{"id": 77, "name": "Final sale", "slug": "final-sale"}]
            if sku in final_sale and sku.startswith(FINAL_SALE_BY_TAG)
            else [],
        }
        for sku, pid in product_ids.items()
    }
    return {o["id"]: o for o in orders}, products


def _order(row: Order, id_offset: int) -> dict[str, Any]:
    first, _, last = row.ship_name.partition(" ")
    ship = row.shipment
    paid = row.status != "pending" and not (row.status == "cancelled" and not row.refunds)
    tracking = []
    if ship is not None:
        tracking.append(
            {
                "tracking_provider": ship.carrier,
                "custom_tracking_provider": "",
                "custom_tracking_link": tracking_link(ship.carrier, ship.tracking_number) or "",
                "tracking_number": ship.tracking_number,
                "date_shipped": str(_stamp(ship.shipped_at)),
                "tracking_id": f"{row.id:08x}{ship.id:024x}",
            }
        )
    meta: dict[str, Any] = {"_wc_shipment_tracking_items": tracking} if tracking else {}
    if ship is not None and ship.delivered_at is not None:
        meta["_date_delivered"] = str(_stamp(ship.delivered_at))
    if ship is not None and ship.out_for_delivery_at is not None:
        meta["_out_for_delivery"] = str(_stamp(ship.out_for_delivery_at))
    if row.status == "delayed":
        meta["_delayed"] = "1"
    if ship is not None and ship.delay_reason:
        meta["_delay_reason"] = ship.delay_reason
    notes = []
    for n, r in enumerate(row.returns, 1):
        skus = ", ".join(line.sku for line in row.lines)
        notes.append(
            {
                "id": row.id * 100 + n,
                "created": r.created_at,
                "note": f"Return {r.rma_number} requested for SKUs: {skus}.",
                "customer_note": False,
                "author": "shop manager",
            }
        )
        if r.status != "requested":
            notes.append(
                {
                    "id": row.id * 100 + 50 + n,
                    "created": r.created_at,
                    "note": f"Return {r.rma_number} {r.status}.",
                    "customer_note": False,
                    "author": "shop manager",
                }
            )
    return {
        "id": int(row.number) + id_offset,
        "number": row.number,
        "status": STATUS[row.status],
        "created": row.placed_at,
        "paid": row.placed_at if paid else None,
        "completed": ship.shipped_at if ship is not None else None,
        "currency": row.currency,
        "email": row.customer.email,
        "payment_method_title": row.payment_method,
        "shipping": {
            "first_name": first,
            "last_name": last,
            "company": "",
            "address_1": row.ship_line1,
            "address_2": "",
            "city": row.ship_city,
            "state": "",
            "postcode": row.ship_postcode,
            "country": row.ship_country,
            "phone": "",
        },
        "lines": [
            {
                "id": line.id,
                "sku": line.sku,
                "name": line.name,
                "quantity": line.quantity,
                "price": Decimal(line.unit_price),
                "final_sale": line.final_sale,
            }
            for line in row.lines
        ],
        "meta": meta,
        "refunds": [
            {
                "id": row.id * 100 + n,
                "created": r.issued_at or r.created_at,
                "amount": Decimal(r.amount),
                "reason": "Order cancelled" if row.status == "cancelled" else "Returned",
                "refunded_payment": r.status == "issued",
            }
            for n, r in enumerate(row.refunds, 1)
        ],
        "notes": notes,
    }


def _total(order: dict[str, Any]) -> Decimal:
    return sum((line["price"] * line["quantity"] for line in order["lines"]), Decimal())


def _order_json(order: dict[str, Any]) -> dict[str, Any]:
    """The order object as GET /wp-json/wc/v3/orders/<id> returns it (the site's timezone is
    UTC here, so the local and GMT times are the same)."""
    total = f"{_total(order):.2f}"
    first, last = order["shipping"]["first_name"], order["shipping"]["last_name"]
    return {
        "id": order["id"],
        "parent_id": 0,
        "number": order["number"],
        "order_key": f"wc_order_{order['id']:x}",
        "created_via": "checkout",
        "version": "9.4.0",
        "status": order["status"],
        "currency": order["currency"],
        "date_created": _wc(order["created"]),
        "date_created_gmt": _wc(order["created"]),
        "date_modified": _wc(order["created"]),
        "date_modified_gmt": _wc(order["created"]),
        "discount_total": "0.00",
        "discount_tax": "0.00",
        "shipping_total": "0.00",
        "shipping_tax": "0.00",
        "cart_tax": "0.00",
        "total": total,
        "total_tax": "0.00",
        "prices_include_tax": False,
        "customer_id": 0,
        "customer_ip_address": "",
        "customer_user_agent": "",
        "customer_note": "",
        "billing": {
            "first_name": first,
            "last_name": last,
            "company": "",
            "address_1": order["shipping"]["address_1"],
            "address_2": "",
            "city": order["shipping"]["city"],
            "state": "",
            "postcode": order["shipping"]["postcode"],
            "country": order["shipping"]["country"],
            "email": order["email"],
            "phone": "",
        },
        "shipping": dict(order["shipping"]),
        "payment_method": "",
        "payment_method_title": order["payment_method_title"],
        "transaction_id": "",
        "date_paid": _wc(order["paid"]),
        "date_paid_gmt": _wc(order["paid"]),
        "date_completed": _wc(order["completed"]),
        "date_completed_gmt": _wc(order["completed"]),
        "cart_hash": "",
        "meta_data": [
            {"id": order["id"] * 10 + n, "key": key, "value": value}
            for n, (key, value) in enumerate(order["meta"].items(), 1)
        ],
        "line_items": [
            {
                "id": line["id"],
                "name": line["name"],
                "product_id": line["product_id"],
                "variation_id": 0,
                "quantity": line["quantity"],
                "tax_class": "",
                "subtotal": f"{line['price'] * line['quantity']:.2f}",
                "subtotal_tax": "0.00",
                "total": f"{line['price'] * line['quantity']:.2f}",
                "total_tax": "0.00",
                "taxes": [],
                "meta_data": [{"id": line["id"] * 10, "key": "final-sale", "value": "yes"}]
                if line["meta_final_sale"]
                else [],
                "sku": line["sku"],
                "price": float(line["price"]),
                "parent_name": None,
            }
            for line in order["lines"]
        ],
        "tax_lines": [],
        "shipping_lines": [],
        "fee_lines": [],
        "coupon_lines": [],
        "refunds": [
            {"id": r["id"], "reason": r["reason"], "total": f"-{r['amount']:.2f}"}
            for r in order["refunds"]
        ],
        "set_paid": False,
    }


def _refund_json(refund: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": refund["id"],
        "date_created": _wc(refund["created"]),
        "date_created_gmt": _wc(refund["created"]),
        "amount": f"{refund['amount']:.2f}",
        "reason": refund["reason"],
        "refunded_by": 1,
        "refunded_payment": refund["refunded_payment"],
        "meta_data": [],
        "line_items": [],
        "shipping_lines": [],
        "tax_lines": [],
        "fee_lines": [],
    }


def _note_json(note: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": note["id"],
        "author": note["author"],
        "date_created": _wc(note["created"]),
        "date_created_gmt": _wc(note["created"]),
        "note": note["note"],
        "customer_note": note["customer_note"],
    }


def _stamp(moment: datetime) -> int:
    return int(moment.replace(tzinfo=UTC).timestamp())


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None, microsecond=0)


def _wc(moment: datetime | None) -> str | None:
    """WooCommerce's date-time: ISO 8601 to the second, without a zone."""
    if moment is None:
        return None
    return moment.replace(microsecond=0).isoformat()


# --- the shop ships an order, as WooCommerce records it and tells its webhooks ----------------


def ship(fake: FakeWooCommerce, number: str, carrier: str, tracking: str, url: str):
    """Order `number` is completed with one Shipment Tracking item (the extension's
    `_wc_shipment_tracking_items` meta, as `_order` builds it from the demo shop), and the
    `order.updated` webhook's payload WooCommerce then sends: the order as GET returns it."""
    with fake.lock:
        order = fake.order(number)
        shipped = _now()
        order["status"] = "completed"
        order["completed"] = shipped
        order["meta"]["_wc_shipment_tracking_items"] = [
            {
                "tracking_provider": carrier,
                "custom_tracking_provider": "",
                "custom_tracking_link": url,
                "tracking_number": tracking,
                "date_shipped": str(_stamp(shipped)),
                "tracking_id": f"{order['id']:08x}{fake.next_id:024x}",
            }
        ]
        return _order_json(order)

"""The order source: the one small interface the actions use to read and change orders.

The demo shop's source is `bot.store.sql_source.SqlOrderSource`. A real shop plugs in its own
(Shopify, an ERP, a REST API...) by implementing `OrderSource` and setting
`ORDER_SOURCE=package.module:ClassName`; the class is constructed without arguments.
Business rules (what may be cancelled, returned, when it arrives) live in `bot.policy`
and work on the plain records below, whatever the source.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from typing import Protocol

from bot.settings import get_settings


@dataclass(frozen=True)
class LineInfo:
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    final_sale: bool = False


@dataclass(frozen=True)
class ShipmentInfo:
    carrier: str
    tracking_number: str
    shipped_at: datetime
    promised_from: date
    promised_to: date
    revised_eta: date | None = None
    delivered_at: datetime | None = None
    tracking_url: str | None = None
    out_for_delivery: bool = False
    delay_reason: str | None = None  # what the shop told shoppers about a late parcel


@dataclass(frozen=True)
class ReturnInfo:
    rma_number: str
    created_at: datetime
    status: str


@dataclass(frozen=True)
class RefundInfo:
    amount: Decimal
    currency: str
    method: str
    status: str  # "pending" or "issued"
    created_at: datetime
    issued_at: datetime | None = None


@dataclass(frozen=True)
class OrderInfo:
    number: str
    status: str
    placed_at: datetime
    currency: str
    email: str
    postcode: str
    ship_to: str
    lines: tuple[LineInfo, ...]
    shipment: ShipmentInfo | None = None
    returns: tuple[ReturnInfo, ...] = ()
    refunds: tuple[RefundInfo, ...] = ()
    ship_name: str = ""  # the name on the delivery address (staff's saved replies greet by it)

    @property
    def total(self) -> Decimal:
        return sum((line.unit_price * line.quantity for line in self.lines), Decimal("0"))


def joined(separator: str, *parts: str | None) -> str:
    """The parts that are there, joined ("Zoe Müller"; "1 High St, Leeds, LS1 4AB")."""
    return separator.join(part for part in parts if part)


class OrderChangeRefused(Exception):
    """The source refused a change because the order's state no longer allows it."""


class OrderSourceUnavailable(Exception):
    """The shop's order system could not be reached, or failed to answer, even after retries.
    A change that raised it was not made: the shopper is told so and offered a person."""


class OrderSource(Protocol):
    """Every method may raise OrderSourceUnavailable when the shop's system is down."""

    def get_order(self, number: str) -> OrderInfo | None:
        """The order with this number, or None."""

    def cancel_order(self, number: str) -> OrderInfo:
        """Cancel an unshipped order (refunding what was paid); raises OrderChangeRefused."""

    def change_address(self, number: str, new_address: str) -> OrderInfo:
        """Replace the delivery address of an unshipped order; raises OrderChangeRefused."""

    def create_return(self, number: str, skus: list[str]) -> ReturnInfo:
        """Open a return (RMA) for these lines of a delivered order; raises OrderChangeRefused."""


@cache
def get_order_source() -> OrderSource:
    """The configured order source (one per process)."""
    spec = get_settings().order_source
    if spec == "shopify":  # SHOPIFY_SHOP_URL and SHOPIFY_ACCESS_TOKEN, or a ValueError
        from bot.sources.shopify import ShopifyOrderSource

        return ShopifyOrderSource()
    if spec == "woocommerce":  # WOOCOMMERCE_URL, _CONSUMER_KEY and _CONSUMER_SECRET, or ValueError
        from bot.sources.woocommerce import WooCommerceOrderSource

        return WooCommerceOrderSource()
    if spec:
        module_name, _, class_name = spec.partition(":")
        return getattr(importlib.import_module(module_name), class_name)()
    from bot.store.sql_source import SqlOrderSource

    return SqlOrderSource()

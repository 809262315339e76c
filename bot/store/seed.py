"""Load the demo shop from `data/shop/seed.yml`, turning relative days into real dates."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import yaml
from sqlalchemy.orm import Session

from bot.clock import utcnow
from bot.store.models import (
    Customer,
    Order,
    OrderLine,
    Refund,
    ReturnRequest,
    Shipment,
)


def load_seed(session: Session, path: Path, now: datetime | None = None) -> int:
    """Insert the seed file's customers and orders; returns the number of orders."""
    now = now or utcnow()
    data = yaml.safe_load(path.read_text(encoding="utf-8"))

    def ago(days: int | None) -> datetime | None:
        return None if days is None else now - timedelta(days=days)

    customers = {
        row["id"]: Customer(id=row["id"], name=row["name"], email=row["email"])
        for row in data["customers"]
    }
    addresses = {row["id"]: row["address"] for row in data["customers"]}
    session.add_all(customers.values())

    for row in data["orders"]:
        customer = customers[row["customer"]]
        address = addresses[row["customer"]]
        order = Order(
            number=str(row["number"]),
            customer=customer,
            status=row["status"],
            placed_at=ago(row["placed_days_ago"]),
            currency=row.get("currency", "USD"),
            payment_method=row["payment_method"],
            ship_name=customer.name,
            ship_line1=address["line1"],
            ship_city=address["city"],
            ship_postcode=address["postcode"],
            ship_country=address["country"],
            cancelled_at=ago(row.get("cancelled_days_ago")),
        )
        order.lines = [
            OrderLine(
                sku=line["sku"],
                name=line["name"],
                quantity=line["quantity"],
                unit_price=Decimal(str(line["unit_price"])),
                final_sale=line.get("final_sale", False),
            )
            for line in row["lines"]
        ]
        if ship := row.get("shipment"):
            shipped_at = ago(ship["shipped_days_ago"])
            first, last = ship["window_days"]
            revised = ship.get("revised_eta_in_days")
            order.shipment = Shipment(
                carrier=ship["carrier"],
                tracking_number=str(ship["tracking_number"]),
                shipped_at=shipped_at,
                promised_from=(shipped_at + timedelta(days=first)).date(),
                promised_to=(shipped_at + timedelta(days=last)).date(),
                revised_eta=None if revised is None else (now + timedelta(days=revised)).date(),
                delivered_at=ago(ship.get("delivered_days_ago")),
                out_for_delivery_at=ago(ship.get("out_for_delivery_days_ago")),
                delay_reason=ship.get("delay_reason"),
            )
        order.returns = [
            ReturnRequest(
                rma_number=r["rma_number"],
                created_at=ago(r["created_days_ago"]),
                status=r["status"],
            )
            for r in row.get("returns", [])
        ]
        order.refunds = [
            Refund(
                amount=Decimal(str(r["amount"])),
                method=r["method"],
                status=r["status"],
                created_at=ago(r["created_days_ago"]),
                issued_at=ago(r.get("issued_days_ago")),
            )
            for r in row.get("refunds", [])
        ]
        session.add(order)
    return len(data["orders"])

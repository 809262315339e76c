"""A store database as it was before migrations existed: the tables of
tests/store_before_migrations.<dialect>.sql (what `Base.metadata.create_all` made) with a few
rows in them; and a description of a database's schema, to compare two databases by."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, func, inspect, select

from bot.store.migrations import VERSION_TABLE

HERE = Path(__file__).parent
ORDER_NUMBER = "90001"  # the order add_rows makes (the demo shop's numbers are 104xx)


def create_tables(engine: Engine) -> None:
    """The tables alone, as create_all made them on the engine's database."""
    sql = (HERE / f"store_before_migrations.{engine.dialect.name}.sql").read_text()
    lines = [line for line in sql.splitlines() if not line.startswith("--")]
    with engine.begin() as connection:
        for statement in "\n".join(lines).split(";"):
            if statement.strip():
                connection.exec_driver_sql(statement)


def add_rows(engine: Engine) -> None:
    """A customer with an order of one line, and a staff account: written through the
    database's own tables (reflected), not today's models, which may have moved on."""
    tables = MetaData()
    tables.reflect(engine)
    customers, orders = tables.tables["customers"], tables.tables["orders"]
    with engine.begin() as connection:
        customer = connection.execute(
            customers.insert().values(name="Ada Lovelace", email="ada@example.com")
        ).inserted_primary_key[0]
        order = connection.execute(
            orders.insert().values(
                number=ORDER_NUMBER,
                customer_id=customer,
                status="paid",
                placed_at=datetime(2024, 5, 1, 10, 0),
                currency="EUR",
                payment_method="card",
                ship_name="Ada Lovelace",
                ship_line1="12 St James's Square",
                ship_city="London",
                ship_postcode="SW1Y 4JH",
                ship_country="GB",
            )
        ).inserted_primary_key[0]
        connection.execute(
            tables.tables["order_lines"]
            .insert()
            .values(
                order_id=order,
                sku="BTL-STEEL",
                name="Steel bottle",
                quantity=2,
                unit_price=Decimal("19.90"),
                final_sale=False,
            )
        )
        connection.execute(
            tables.tables["staff_users"]
            .insert()
            .values(username="alex", password_hash="-", created_at=datetime(2024, 5, 1, 9, 0))
        )


def make_database(engine: Engine) -> None:
    create_tables(engine)
    add_rows(engine)


def row_counts(engine: Engine) -> dict[str, int]:
    """Rows in each table, the migrations' own record left out."""
    tables = MetaData()
    tables.reflect(engine)
    with engine.connect() as connection:
        return {
            name: connection.scalar(select(func.count()).select_from(table))
            for name, table in tables.tables.items()
            if name != VERSION_TABLE
        }


def describe_schema(connection: Connection) -> dict[str, dict[str, Any]]:
    """Every table (the migrations' record left out) with its columns, keys, constraints and
    indexes, by name where the database names them."""
    inspector = inspect(connection)
    schema = {}
    for table in sorted(set(inspector.get_table_names()) - {VERSION_TABLE}):
        foreign_keys = inspector.get_foreign_keys(table)
        uniques = inspector.get_unique_constraints(table)
        schema[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            "primary key": inspector.get_pk_constraint(table),
            "foreign keys": sorted(
                (f["name"] or "", f["constrained_columns"], f["referred_table"])
                + (f["referred_columns"],)
                for f in foreign_keys
            ),
            "unique": sorted((u["name"] or "", u["column_names"]) for u in uniques),
            "indexes": sorted(
                (i["name"], i["column_names"], i["unique"]) for i in inspector.get_indexes(table)
            ),
        }
    return schema

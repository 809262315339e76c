"""`bot` command line: manage the store database."""

from __future__ import annotations

import argparse
import sys

from sqlalchemy import func, select

from bot.store.db import get_engine, reset_database, session_scope
from bot.store.models import Order


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bot", description="Storefront Assist tools")
    sub = parser.add_subparsers(dest="command", required=True)
    db = sub.add_parser("db", help="the store database (STORE_DATABASE_URL)")
    db.add_argument(
        "action",
        choices=["init", "reset"],
        help="init: create and seed if empty; reset: drop everything and seed the demo shop again",
    )
    args = parser.parse_args(argv)

    engine = get_engine()  # creates and seeds an empty database
    if args.action == "reset":
        reset_database(engine)
    with session_scope(engine) as session:
        orders = session.scalar(select(func.count(Order.id)))
    print(f"{engine.url.render_as_string(hide_password=True)}: {orders} orders")
    return 0


if __name__ == "__main__":
    sys.exit(main())

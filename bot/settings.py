"""Settings read from the environment, with defaults that run the bundled demo shop."""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DB_PATH = PROJECT_ROOT / "var" / "store.db"
SEED_FILE = PROJECT_ROOT / "data" / "shop" / "seed.yml"
SHOP_POLICY_FILE = PROJECT_ROOT / "data" / "shop" / "policy.yml"


def database_url() -> str:
    """`STORE_DATABASE_URL`, or a SQLite file under var/."""
    return os.environ.get("STORE_DATABASE_URL") or f"sqlite:///{DEFAULT_DB_PATH}"


def order_source_spec() -> str | None:
    """`ORDER_SOURCE=package.module:ClassName` plugs in a shop's own order source."""
    return os.environ.get("ORDER_SOURCE") or None

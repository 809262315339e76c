"""An order source that answers slowly, like a shop's own system under strain."""

from __future__ import annotations

import os
import time

from bot.store.sql_source import SqlOrderSource


class SlowOrderSource(SqlOrderSource):
    def get_order(self, number: str):
        time.sleep(float(os.environ.get("SLOW_ORDERS_SECONDS", "3")))
        return super().get_order(number)

"""Order sources for a shop whose order system is down: a stand-in for a platform outside this
machine (Shopify, WooCommerce) that cannot be reached, the way a real source reports it."""

from __future__ import annotations

from bot.orders import OrderSourceUnavailable
from bot.store.sql_source import SqlOrderSource


class DownOrderSource:
    """Nothing answers."""

    def _down(self, *args, **kwargs):
        raise OrderSourceUnavailable("the shop's order system did not answer")

    get_order = cancel_order = change_address = create_return = _down


class ReadOnlyOrderSource(SqlOrderSource):
    """Orders are read, but the system goes down before any change is made."""

    def cancel_order(self, number: str):
        raise OrderSourceUnavailable("the shop's order system did not answer")

    change_address = create_return = cancel_order

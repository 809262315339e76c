"""The demo shop database and the SQL order source."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select

from bot.orders import OrderChangeRefused, get_order_source
from bot.settings import get_settings
from bot.store.db import reset_database, session_scope
from bot.store.models import ORDER_STATES, Customer, Order
from bot.store.sql_source import SqlOrderSource


def test_seed_covers_every_state_and_repeat_customers(store):
    with session_scope(store) as session:
        states = Counter(session.scalars(select(Order.status)))
        per_customer = Counter(session.scalars(select(Order.customer_id)))
        assert session.scalar(select(func.count(Customer.id))) >= 10
    assert sum(states.values()) >= 60
    assert set(states) == set(ORDER_STATES)
    assert sum(1 for n in per_customer.values() if n >= 3) >= 5


def test_seeding_happens_once_and_reset_reseeds(store):
    source = SqlOrderSource(store)
    source.cancel_order("10409")
    assert source.get_order("10409").status == "cancelled"
    reset_database(store)
    assert source.get_order("10409").status == "paid"


def test_unknown_order_is_none(store):
    assert get_order_source().get_order("99999") is None


def test_shipped_orders_have_carrier_tracking_and_window(store):
    source = SqlOrderSource(store)
    order = source.get_order("10402")
    assert order.shipment.carrier and order.shipment.tracking_number
    assert order.shipment.promised_from <= order.shipment.promised_to


def test_changes_are_refused_in_the_wrong_state(store):
    source = SqlOrderSource(store)
    with pytest.raises(OrderChangeRefused):
        source.cancel_order("10402")  # shipped
    with pytest.raises(OrderChangeRefused):
        source.change_address("10424", "1 New Street, Leeds LS1 1AA")  # delivered
    with pytest.raises(OrderChangeRefused):
        source.create_return("10409", ["X"])  # not delivered
    with pytest.raises(OrderChangeRefused):
        source.cancel_order("99999")


def test_cancelling_an_unpaid_order_creates_no_refund(store):
    source = SqlOrderSource(store)
    order = source.cancel_order("10401")  # pending: awaiting payment
    assert order.status == "cancelled" and order.refunds == ()


def test_order_source_is_pluggable(monkeypatch, store):
    monkeypatch.setenv("ORDER_SOURCE", "tests.unit.test_store:EmptyShop")
    get_settings.cache_clear()
    get_order_source.cache_clear()
    assert isinstance(get_order_source(), EmptyShop)


class EmptyShop:
    def get_order(self, number):
        return None

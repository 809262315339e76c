"""The store on PostgreSQL, selected by URL: a throwaway server on loopback."""

from __future__ import annotations

import pytest

from bot.store.db import get_engine
from bot.store.sql_source import SqlOrderSource
from tests.postgres_server import PostgresServer


@pytest.fixture(scope="module")
def postgres_url():
    server = PostgresServer()
    try:
        yield server.url
    finally:
        server.stop(check=False)


def test_store_runs_on_postgresql(postgres_url):
    source = SqlOrderSource(get_engine(postgres_url))
    assert source.get_order("10423").status == "paid"
    cancelled = source.cancel_order("10423")
    assert cancelled.status == "cancelled" and cancelled.refunds[0].status == "pending"
    rma = source.create_return("10424", ["BTL-STEEL"])
    assert source.get_order("10424").returns[0].rma_number == rma.rma_number

"""The store's migrations on a throwaway PostgreSQL server: an empty database is upgraded to
exactly the models' schema, the first revision is what create_all made (constraint names
included), and `alembic upgrade head` upgrades a database made before migrations in place."""

from __future__ import annotations

import subprocess
import sys
from uuid import uuid4

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, make_url

from bot.settings import PROJECT_ROOT, child_environment
from bot.store.db import create_store_engine, get_engine
from bot.store.migrations import (
    FIRST_REVISION,
    alembic_config,
    current_revision,
    head_revision,
    upgrade_to_head,
)
from bot.store.models import Base
from bot.store.sql_source import SqlOrderSource
from tests import store_before_migrations as before_migrations
from tests.postgres_server import PostgresServer


@pytest.fixture(scope="module")
def server():
    server = PostgresServer()
    try:
        yield server
    finally:
        server.stop(check=False)


@pytest.fixture
def new_database(server):
    """Makes an empty database on the server; returns its URL."""

    def make() -> str:
        name = f"store_{uuid4().hex[:12]}"
        admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
        admin.dispose()
        return make_url(server.url).set(database=name).render_as_string(hide_password=False)

    return make


def test_an_empty_database_upgraded_to_head_has_exactly_the_models_schema(new_database):
    engine = create_store_engine(new_database())
    upgrade_to_head(engine)

    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        assert compare_metadata(context, Base.metadata) == []
    engine.dispose()


def test_the_first_revision_is_the_schema_create_all_made_before_migrations(new_database):
    migrated = create_store_engine(new_database())
    command.upgrade(alembic_config(migrated), FIRST_REVISION)
    made_before = create_store_engine(new_database())
    before_migrations.create_tables(made_before)

    with migrated.connect() as new, made_before.connect() as old:
        schema = before_migrations.describe_schema(new)
        assert schema == before_migrations.describe_schema(old)
    # The server named the constraints, as it did for create_all.
    assert schema["returns"]["unique"] == [("returns_rma_number_key", ["rma_number"])]
    assert ("orders_customer_id_fkey", ["customer_id"]) in [
        key[:2] for key in schema["orders"]["foreign keys"]
    ]
    migrated.dispose()
    made_before.dispose()


def test_alembic_upgrade_head_upgrades_a_database_made_before_migrations(new_database):
    url = new_database()
    engine = create_store_engine(url)
    before_migrations.make_database(engine)
    rows = before_migrations.row_counts(engine)

    upgrade = subprocess.run(
        [sys.executable, "-m", "alembic", "upgrade", "head"],
        cwd=PROJECT_ROOT,
        env=child_environment({"STORE_DATABASE_URL": url}),
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert upgrade.returncode == 0, upgrade.stderr
    assert f"recorded as {FIRST_REVISION}" in upgrade.stderr
    assert current_revision(engine) == head_revision()
    after = before_migrations.row_counts(engine)
    assert {table: after[table] for table in rows} == rows
    # The store starts on it as it is (no demo shop on top) and changes it.
    source = SqlOrderSource(get_engine(url))
    assert before_migrations.row_counts(engine)["orders"] == 1
    cancelled = source.cancel_order(before_migrations.ORDER_NUMBER)
    assert cancelled.status == "cancelled" and cancelled.refunds[0].status == "pending"
    engine.dispose()


def test_processes_starting_at_once_migrate_one_after_the_other(new_database):
    url = new_database()
    upgrade = (
        "from bot.store.db import create_store_engine\n"
        "from bot.store.migrations import upgrade_to_head\n"
        f"upgrade_to_head(create_store_engine({url!r}))\n"
    )
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", upgrade],
            cwd=PROJECT_ROOT,
            env=child_environment(),
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=120)[1] for process in processes]

    assert [process.returncode for process in processes] == [0] * 4, errors
    engine = create_store_engine(url)
    assert current_revision(engine) == head_revision()
    engine.dispose()

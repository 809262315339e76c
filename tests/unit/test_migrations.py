"""The store's migrations on SQLite: head is exactly the models' schema, the first revision is
the schema databases had before migrations, and such a database is upgraded in place with its
rows. tests/e2e/test_migrations_postgres.py does the same on PostgreSQL."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, Engine, inspect

from bot import cli
from bot.settings import PROJECT_ROOT, child_environment, get_settings
from bot.store.db import create_store_engine, ensure_database, reset_database
from bot.store.migrations import (
    FIRST_REVISION,
    MIGRATIONS_DIR,
    VERSION_TABLE,
    UnknownSchemaError,
    alembic_config,
    current_revision,
    head_revision,
    upgrade_to_head,
)
from bot.store.models import Base
from bot.store.sql_source import SqlOrderSource
from tests import store_before_migrations as before_migrations


@pytest.fixture
def engine(tmp_path) -> Engine:
    engine = create_store_engine(f"sqlite:///{tmp_path / 'store.db'}")
    yield engine
    engine.dispose()


def model_differences(connection: Connection) -> list:
    """What autogenerate would write into a new migration: nothing when the database is the
    models' schema."""
    context = MigrationContext.configure(
        connection, opts={"compare_type": True, "compare_server_default": True}
    )
    return compare_metadata(context, Base.metadata)


def sqlite_ddl(connection: Connection) -> list[tuple[str, str]]:
    """SQLite's own record of each table and index: the statement that made it."""
    rows = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND tbl_name != ? ORDER BY name",
        (VERSION_TABLE,),
    )
    return [(name, " ".join(sql.split())) for name, sql in rows]


def test_an_empty_database_upgraded_to_head_has_exactly_the_models_schema(engine):
    upgrade_to_head(engine)

    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        # A model change without a migration fails here.
        assert model_differences(connection) == []


def test_the_first_revision_is_the_schema_create_all_made_before_migrations(tmp_path, engine):
    command.upgrade(alembic_config(engine), FIRST_REVISION)
    made_before = create_store_engine(f"sqlite:///{tmp_path / 'before.db'}")
    before_migrations.create_tables(made_before)

    with engine.connect() as migrated, made_before.connect() as old:
        assert describe(migrated) == describe(old)
        assert sqlite_ddl(migrated) == sqlite_ddl(old)
    made_before.dispose()


def describe(connection: Connection) -> dict:
    schema = before_migrations.describe_schema(connection)
    assert len(schema) == 13  # every table, not an empty comparison
    return schema


def test_a_database_made_before_migrations_is_upgraded_in_place_keeping_its_rows(engine):
    before_migrations.make_database(engine)
    rows = before_migrations.row_counts(engine)
    assert rows["orders"] == 1 and rows["staff_users"] == 1

    seeded = ensure_database(engine)  # what every process does on start

    assert not seeded  # it has orders: the demo shop stays out
    assert current_revision(engine) == head_revision()
    after = before_migrations.row_counts(engine)
    assert {table: after[table] for table in rows} == rows
    order = SqlOrderSource(engine).get_order(before_migrations.ORDER_NUMBER)
    assert order is not None and order.email == "ada@example.com"
    assert [(line.sku, line.quantity) for line in order.lines] == [("BTL-STEEL", 2)]


def test_a_database_unlike_the_first_revision_is_refused_and_left_alone(engine):
    before_migrations.make_database(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE tickets")
        connection.exec_driver_sql("ALTER TABLE orders DROP COLUMN cancelled_at")

    with pytest.raises(UnknownSchemaError, match="tickets is missing.*orders lacks cancelled_at"):
        upgrade_to_head(engine)

    assert VERSION_TABLE not in inspect(engine).get_table_names()
    assert before_migrations.row_counts(engine)["orders"] == 1


def with_extra_migration(tmp_path: Path, engine: Engine, upgrade: str) -> Config:
    """The store's migrations plus one more after head, whose upgrade() body is `upgrade`;
    the configuration to run them on `engine`."""
    scripts = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    (scripts / "versions" / "9999_extra.py").write_text(
        "import sqlalchemy as sa\n"
        "from alembic import op\n\n"
        f"revision = '9999'\ndown_revision = {head_revision()!r}\n\n\n"
        "def upgrade():\n" + textwrap.indent(textwrap.dedent(upgrade), "    ")
    )
    config = Config()
    config.set_main_option("script_location", str(scripts))
    config.attributes["engine"] = engine
    return config


def test_an_upgrade_that_fails_half_way_leaves_the_database_as_it_was(tmp_path, engine):
    config = with_extra_migration(
        tmp_path,
        engine,
        """
        op.create_table("half_done", sa.Column("id", sa.Integer, primary_key=True))
        raise RuntimeError("broken half way")
        """,
    )

    with pytest.raises(RuntimeError, match="broken half way"):
        command.upgrade(config, "head")

    # Every revision ran in one transaction: the earlier ones are undone too.
    assert inspect(engine).get_table_names() == []


def test_a_table_others_refer_to_can_be_rebuilt_on_sqlite(tmp_path, engine):
    """SQLite alters a table by copying it and dropping the old one: with foreign keys on,
    dropping orders (order_lines refer to it) would fail."""
    ensure_database(engine)
    lines = before_migrations.row_counts(engine)["order_lines"]
    config = with_extra_migration(
        tmp_path,
        engine,
        """
        with op.batch_alter_table("orders", recreate="always") as batch:
            batch.add_column(sa.Column("note", sa.Text(), nullable=True))
        """,
    )

    command.upgrade(config, "head")

    assert current_revision(engine) == "9999"
    assert before_migrations.row_counts(engine)["order_lines"] == lines
    with engine.connect() as connection:  # the pool's one connection, foreign keys on again
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1


def test_a_migration_that_breaks_foreign_keys_is_undone_on_sqlite(tmp_path, engine):
    ensure_database(engine)
    config = with_extra_migration(
        tmp_path,
        engine,
        """
        op.execute("UPDATE order_lines SET order_id = 999999")
        """,
    )

    with pytest.raises(RuntimeError, match="broken foreign keys"):
        command.upgrade(config, "head")

    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_key_check").all() == []


def test_processes_starting_at_once_migrate_one_after_the_other(tmp_path):
    """The gateway and the action server start together on a new database: without the
    lock, one fails with "table customers already exists"."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
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


def test_reset_drops_the_migrations_record_too_and_builds_again(engine):
    before_migrations.make_database(engine)
    upgrade_to_head(engine)

    reset_database(engine)

    assert current_revision(engine) == head_revision()
    with engine.connect() as connection:
        assert model_differences(connection) == []
    assert SqlOrderSource(engine).get_order(before_migrations.ORDER_NUMBER) is None
    assert before_migrations.row_counts(engine)["orders"] > 1  # the demo shop again


def test_alembic_ini_at_the_project_root_finds_the_migrations():
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    assert Path(config.get_main_option("script_location")) == MIGRATIONS_DIR


def test_bot_db_upgrade_upgrades_the_schema_without_seeding(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("STORE_DATABASE_URL", f"sqlite:///{tmp_path / 'store.db'}")

    assert cli.main(["db", "upgrade"]) == 0
    assert cli.main(["db", "upgrade"]) == 0

    first, again = capsys.readouterr().out.splitlines()
    assert first.endswith(f": 0 orders, schema at revision {head_revision()} (was not recorded)")
    assert again.endswith(f": 0 orders, schema at revision {head_revision()}")


def test_bot_db_commands_refuse_a_database_unlike_the_first_revision(engine, monkeypatch, capsys):
    before_migrations.create_tables(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE tickets")
    monkeypatch.setenv("STORE_DATABASE_URL", str(engine.url))
    get_settings.cache_clear()  # the engine fixture read them already

    assert cli.main(["db", "upgrade"]) == 2
    assert cli.main(["db", "init"]) == 2
    assert "error: the store database has tables but no migration history" in (
        capsys.readouterr().err
    )
    assert cli.main(["db", "reset"]) == 0  # the way out it suggests
    assert current_revision(engine) == head_revision()

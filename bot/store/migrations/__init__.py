"""The store's schema migrations (Alembic): `versions/` holds one script per change of
bot/store/models.py, env.py runs them. Every process upgrades its database to head on start
(bot.store.db.ensure_database); `bot db upgrade` and `alembic upgrade head` do it by hand.

A database made before migrations existed (tables from `Base.metadata.create_all`, no
`alembic_version` table) is recognised, recorded as the first revision and upgraded from there.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect, text

logger = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent
FIRST_REVISION = "0001"
VERSION_TABLE = "alembic_version"
# pg_advisory_xact_lock's key for "migrating the store": "STORE" in ASCII, used for nothing else.
POSTGRES_LOCK_KEY = 0x53544F5245


class UnknownSchemaError(RuntimeError):
    """A database without migration history whose tables are not the first revision's."""


def alembic_config(engine: Engine | None = None) -> Config:
    """Alembic's configuration, built in code: no alembic.ini, any working directory. With
    `engine`, env.py migrates that engine's database (else the store's setting)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["engine"] = engine
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision recorded in the database (None: none recorded, empty or made before
    migrations)."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def upgrade_to_head(engine: Engine) -> None:
    """Bring the engine's database to the newest revision, keeping its rows (one made before
    migrations is recognised first); at head already, nothing happens."""
    before = current_revision(engine)
    command.upgrade(alembic_config(engine), "head")
    after = current_revision(engine)
    if after != before:
        url = engine.url.render_as_string(hide_password=True)
        logger.info("store database %s: %s -> %s", url, before or "no revision recorded", after)


@contextmanager
def migrating(connection: Connection) -> Iterator[None]:
    """The one transaction a whole run of migrations happens in, holding the database: the
    processes that start at once (the gateway, the action server) migrate one after the
    other, the later ones finding it at head, and a run that fails leaves nothing half done.

    On SQLite, foreign keys are off meanwhile and checked before committing: a batch
    operation rebuilds a table by copying it, dropping the old one and renaming the copy, and
    dropping a table others refer to fails with them on. They only switch outside a
    transaction."""
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
    try:
        with connection.begin():
            if sqlite:
                # pysqlite opens no transaction for DDL itself; IMMEDIATE takes the write lock.
                connection.exec_driver_sql("BEGIN IMMEDIATE")
            elif connection.dialect.name == "postgresql":
                lock = text("SELECT pg_advisory_xact_lock(:key)")
                connection.execute(lock, {"key": POSTGRES_LOCK_KEY})
            yield
            if sqlite and (broken := connection.exec_driver_sql("PRAGMA foreign_key_check").all()):
                raise RuntimeError(f"the migration left rows with broken foreign keys: {broken}")
    finally:
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def adopt_unversioned_database(context: MigrationContext, script: ScriptDirectory) -> None:
    """Record a database made before migrations (by `Base.metadata.create_all`) as being at
    the first revision, so upgrading it keeps its tables and rows. Its tables and columns are
    checked against the first revision's first: anything else is refused, not guessed at."""
    connection = context.connection
    assert connection is not None
    tables = set(inspect(connection).get_table_names())
    if not tables or VERSION_TABLE in tables:
        return
    expected = first_revision_columns(script)
    if not tables & expected.keys():
        return  # only other applications' tables (a shared database): migrate from scratch
    found = {name: _column_names(connection, name) for name in expected.keys() & tables}
    differences = [f"table {name} is missing" for name in sorted(expected.keys() - tables)]
    for name, columns in sorted(expected.items()):
        if name in found and found[name] != columns:
            missing = [f"lacks {column}" for column in sorted(columns - found[name])]
            extra = [f"has {column}" for column in sorted(found[name] - columns)]
            differences.append(f"table {name} " + ", ".join(missing + extra))
    if differences:
        raise UnknownSchemaError(
            "the store database has tables but no migration history, and they are not those "
            f"of revision {FIRST_REVISION}: " + "; ".join(differences) + ". Bring them to "
            f"revision {FIRST_REVISION} by hand and run `bot db upgrade` again, or start "
            "afresh with `bot db reset` (this deletes every row)."
        )
    context.stamp(script, FIRST_REVISION)
    logger.info("store database made before migrations: recorded as %s", FIRST_REVISION)


def first_revision_columns(script: ScriptDirectory) -> dict[str, set[str]]:
    """Each table of the first revision with its column names: its upgrade() run on a
    scratch in-memory SQLite database."""
    revision = script.get_revision(FIRST_REVISION)
    assert revision is not None and revision.module is not None
    scratch = create_engine("sqlite://")
    try:
        with scratch.connect() as connection:
            with Operations.context(MigrationContext.configure(connection)):
                revision.module.upgrade()
            names = inspect(connection).get_table_names()
            return {name: _column_names(connection, name) for name in names}
    finally:
        scratch.dispose()


def _column_names(connection: Connection, table: str) -> set[str]:
    return {column["name"] for column in inspect(connection).get_columns(table)}

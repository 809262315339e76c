"""Alembic's environment for the store. Run by `alembic ...` from the project root
(alembic.ini) and by bot.store.migrations.upgrade_to_head, which passes the store's engine."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context
from sqlalchemy import Engine

from bot.settings import get_settings
from bot.store.db import create_store_engine
from bot.store.migrations import adopt_unversioned_database, migrating
from bot.store.models import Base

config = context.config
if config.config_file_name:  # the alembic command line: its logging section
    fileConfig(config.config_file_name)


def database_url() -> str:
    """alembic.ini's sqlalchemy.url when set, else the store's setting."""
    return config.get_main_option("sqlalchemy.url") or get_settings().store_database_url


def run_offline() -> None:
    """`alembic upgrade head --sql`: print the SQL instead of running it."""
    url = database_url()
    context.configure(
        url=url,
        target_metadata=Base.metadata,
        literal_binds=True,
        render_as_batch=url.startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    engine: Engine | None = config.attributes.get("engine")
    own_engine = engine is None
    if engine is None:
        engine = create_store_engine(database_url())
    try:
        # Alembic sees the transaction as the caller's and commits nothing itself.
        with engine.connect() as connection, migrating(connection):
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                transactional_ddl=True,  # on SQLite too, in the transaction above
                # SQLite alters tables by copying them: autogenerate writes batch operations.
                render_as_batch=connection.dialect.name == "sqlite",
            )
            adopt_unversioned_database(context.get_context(), context.script)
            context.run_migrations()
    finally:
        if own_engine:
            engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()

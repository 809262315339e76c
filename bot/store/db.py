"""Engine and sessions for the store database, upgraded to the newest schema and seeded on
first use."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import cache
from pathlib import Path

from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from bot.settings import SEED_FILE, get_settings
from bot.store.migrations import VERSION_TABLE, upgrade_to_head
from bot.store.models import Base, Order


def get_engine(url: str | None = None) -> Engine:
    """The store's engine, its schema upgraded to head and the demo shop seeded if empty."""
    return _ready_engine(url or get_settings().store_database_url)


@cache
def _ready_engine(url: str) -> Engine:
    engine = create_store_engine(url)
    ensure_database(engine)
    return engine


def create_store_engine(url: str) -> Engine:
    """An engine for the store's URL, with the SQLite settings, but no upgrade or seed."""
    if url.startswith("sqlite:///"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # How long a write waits for another process's write before failing "locked".
        busy = get_settings().store_db_busy_seconds
        engine = create_engine(url, connect_args={"timeout": busy})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    return engine


def database_reachable(engine: Engine) -> bool:
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError:
        return False
    return True


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    # Commits reach the write-ahead log without an fsync each (one per checkpoint): a crashed
    # process loses nothing, a power cut at most the last moments, and the database is never
    # corrupted. An fsync per commit, several per message, was most of a message's time in
    # the gateway (benchmarks/README.md).
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A transaction: committed when the block ends, rolled back if it raises."""
    session = sessionmaker(engine, expire_on_commit=False)()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def ensure_database(engine: Engine, now: datetime | None = None) -> bool:
    """Upgrade the schema to the newest migration, and seed the demo shop if there are no
    orders yet.

    Returns True when it seeded.
    """
    from bot.store.seed import load_seed

    with _one_process_at_a_time(engine):
        upgrade_to_head(engine)
        with session_scope(engine) as session:
            if session.scalar(select(func.count(Order.id))):
                return False
            load_seed(session, SEED_FILE, now=now)
    return True


SETUP_LOCK = 7_318_205  # PostgreSQL advisory lock id: the store's upgrade and seed


@contextmanager
def _one_process_at_a_time(engine: Engine) -> Iterator[None]:
    """Several processes starting together on a new database (gateways, action servers) must
    not all upgrade and seed it: the first does, the others wait and find it done. PostgreSQL:
    an advisory lock; SQLite: a lock on a file beside the database."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": SETUP_LOCK})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": SETUP_LOCK})
                connection.commit()
        return
    path = engine.url.database
    if engine.dialect.name != "sqlite" or not path or path == ":memory:":
        yield
        return
    with open(f"{path}.setup-lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def reset_database(engine: Engine, now: datetime | None = None) -> None:
    """Drop everything, the migrations' record too, and build and seed the demo shop again."""
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"DROP TABLE IF EXISTS {VERSION_TABLE}")
    ensure_database(engine, now=now)

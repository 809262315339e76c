"""The store on PostgreSQL, selected by URL: a throwaway server on loopback."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from bot.stack import free_port
from bot.store.db import get_engine
from bot.store.sql_source import SqlOrderSource

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _as_postgres(*command: str) -> list[str]:
    # PostgreSQL refuses to run as root; run it as the postgres user when we are root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


@pytest.fixture(scope="module")
def postgres_url():
    if not PG_BIN:
        pytest.skip("PostgreSQL server binaries are not installed")
    bin_dir = PG_BIN[-1]
    # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
    data = Path(tempfile.mkdtemp(prefix="sa-pg-"))
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres(f"{bin_dir}/initdb", "-D", str(data), "-A", "trust", "-U", "sa"),
        check=True,
        capture_output=True,
    )
    subprocess.run(
        _as_postgres(
            f"{bin_dir}/pg_ctl",
            "-D",
            str(data),
            "-w",
            "-l",
            str(data / "log"),
            "-o",
            f"-p {port} -k {data} -c listen_addresses=127.0.0.1",
            "start",
        ),
        check=True,
        capture_output=True,
    )
    try:
        subprocess.run(
            _as_postgres(
                f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "sa", "shop"
            ),
            check=True,
            capture_output=True,
        )
        yield f"postgresql+psycopg://sa@127.0.0.1:{port}/shop"
    finally:
        subprocess.run(
            _as_postgres(f"{bin_dir}/pg_ctl", "-D", str(data), "-m", "fast", "stop"),
            capture_output=True,
        )


def test_store_runs_on_postgresql(postgres_url):
    source = SqlOrderSource(get_engine(postgres_url))
    assert source.get_order("10423").status == "paid"
    cancelled = source.cancel_order("10423")
    assert cancelled.status == "cancelled" and cancelled.refunds[0].status == "pending"
    rma = source.create_return("10424", ["BTL-STEEL"])
    assert source.get_order("10424").returns[0].rma_number == rma.rma_number

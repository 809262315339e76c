"""A throwaway PostgreSQL server on loopback (Debian's server binaries), that tests can stop
and start again."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from bot.stack import free_port

PG_BIN = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


def _as_postgres(*command: str) -> list[str]:
    # PostgreSQL refuses to run as root; run it as the postgres user when we are root.
    return ["runuser", "-u", "postgres", "--", *command] if os.geteuid() == 0 else list(command)


class PostgresServer:
    def __init__(self) -> None:
        # A missing server fails the test that wants it: tests never skip silently.
        if not PG_BIN:
            raise RuntimeError("PostgreSQL server binaries are missing: `make test` installs them")
        self.bin = PG_BIN[-1]
        # Not under pytest's tmp dir: that is private to root, and the server runs as postgres.
        self.data = Path(tempfile.mkdtemp(prefix="sa-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres")
        self.port = free_port()
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "sa")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "sa", "shop")
        self.url = f"postgresql+psycopg://sa@127.0.0.1:{self.port}/shop"

    def create_database(self, name: str) -> str:
        """Another database on this server; its URL."""
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "sa", name)
        return f"postgresql+psycopg://sa@127.0.0.1:{self.port}/{name}"

    def _run(self, tool: str, *args: str, check: bool = True) -> None:
        subprocess.run(_as_postgres(f"{self.bin}/{tool}", *args), check=check, capture_output=True)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        log = str(self.data / "log")
        self._run("pg_ctl", "-D", str(self.data), "-w", "-l", log, "-o", options, "start")

    def stop(self, check: bool = True) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-w", "-m", "fast", "stop", check=check)

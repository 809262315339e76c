"""A Redis server for several gateways and Rasa servers on one machine (`bot stack run
--gateways 2 --rasa 2`) and for the tests: Debian's redis-server on loopback, with a password.

What the gateways keep there (rate limits, live updates, per-conversation order, the delivery
retry queue) and Rasa's conversation locks are worth keeping across a Redis restart only in
part: the queued deliveries are. So the data is an append-only file under `data_dir`
(fsync'd every second), with no RDB snapshots (`save ""`). The password is in a config file
(0600, in a 0700 directory), never on the command line, where `ps` shows it to every user.
Protected mode is off: it stands in for a password and a loopback bind, which this has.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from bot.shared_secrets import redis_password
from bot.stack import HOST, free_port, stop_group

REDIS_SERVER = Path("/usr/bin/redis-server")


class RedisServer:
    """redis-server on `HOST:port` (a free one by default) keeping its data in `data_dir`.
    Stop it and start it again on the same port and data: what was written is still there."""

    def __init__(
        self, data_dir: Path, port: int | None = None, password: str | None = None
    ) -> None:
        if not REDIS_SERVER.exists():
            raise RuntimeError(
                f"{REDIS_SERVER} is missing: install Debian's redis-server (`make test` does)"
            )
        self.data_dir = Path(data_dir).resolve()
        self.port = port or free_port()
        self.password = password or redis_password()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """What REDIS_URL is set to (database 0)."""
        return f"redis://:{quote(self.password, safe='')}@{HOST}:{self.port}/0"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "redis.log"

    def config(self) -> str:
        return "\n".join(
            [
                "# Written by bot/redis_server.py for this run.",
                f"bind {HOST}",
                f"port {self.port}",
                "protected-mode no",
                f"requirepass {self.password}",
                f'dir "{self.data_dir}"',
                "daemonize no",
                'logfile ""',
                "appendonly yes",
                "appendfsync everysec",
                'save ""',
                "",
            ]
        )

    def start(self, timeout: float = 15) -> None:
        """Start it and wait until it answers PING (with the password)."""
        self.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        config = self.data_dir / "redis.conf"
        config.touch(mode=0o600)
        os.chmod(config, 0o600)
        config.write_text(self.config())
        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                [str(REDIS_SERVER), str(config)],
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while not self.ping():
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited early:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"redis-server did not answer within {timeout:.0f}s")
            time.sleep(0.05)

    def ping(self) -> bool:
        """True if the server answers AUTH and PING (a plain socket: no client library)."""
        command = _resp("AUTH", self.password) + _resp("PING")
        try:
            with socket.create_connection((HOST, self.port), timeout=2) as sock:
                sock.sendall(command)
                answer = b""
                while answer.count(b"\r\n") < 2:
                    chunk = sock.recv(256)
                    if not chunk:
                        break
                    answer += chunk
        except OSError:
            return False
        return answer == b"+OK\r\n+PONG\r\n"

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        """SIGTERM: Redis writes and syncs its append-only file, then exits. SIGKILL: a crash
        (what was written more than a second ago is still in the file)."""
        process, self.process = self.process, None
        if process is not None:
            stop_group(process, sig, timeout)

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _resp(*parts: str) -> bytes:
    """One Redis command in its wire format (RESP arrays of bulk strings)."""
    encoded = [part.encode() for part in parts]
    return f"*{len(encoded)}\r\n".encode() + b"".join(
        b"$%d\r\n%s\r\n" % (len(part), part) for part in encoded
    )

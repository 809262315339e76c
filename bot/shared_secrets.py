"""The keys the processes show each other: the gateway's to Rasa (`RASA_SECRET`), Rasa's to
the action server (`ACTION_SERVER_SECRET`), the demo shop's on its order events
(`SHOP_WEBHOOK_SECRET`).

A key is its setting when set (processes on different machines must share one), else it is
generated on first use and kept in `var/secrets/<name>` (directory 0700, file 0600), so a
restart keeps it and every process started from this checkout agrees on it. The file appears
in one atomic step (a hard link of a complete file), so two processes starting together
never see half a key or keep different ones. Keys are never logged.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from pathlib import Path

from bot.settings import PROJECT_ROOT, get_settings

SECRETS_DIR = PROJECT_ROOT / "var" / "secrets"


def rasa_secret() -> str:
    """The key the gateway (and scripts) send to Rasa's channel."""
    return shared_secret("rasa", get_settings().rasa_secret, "RASA_SECRET")


def action_server_secret() -> str:
    """The key Rasa sends to the action server."""
    return shared_secret(
        "action_server", get_settings().action_server_secret, "ACTION_SERVER_SECRET"
    )


def shop_webhook_secret() -> str:
    """The key the demo shop's order events are signed with (`bot shop advance`)."""
    return shared_secret("shop_webhook", get_settings().shop_webhook_secret, "SHOP_WEBHOOK_SECRET")


def shared_secret(name: str, configured: str, variable: str, directory: Path | None = None) -> str:
    """`configured` if set, else the key kept in `directory/name` (default `SECRETS_DIR`),
    generated there the first time. The key travels in an HTTP header: printable ASCII
    without spaces only."""
    if configured:
        if not (configured.isascii() and configured.isprintable() and " " not in configured):
            raise ValueError(f"{variable} must be printable ASCII without spaces")  # not echoed
        return configured
    return stored_secret(name, directory or SECRETS_DIR)


def stored_secret(name: str, directory: Path) -> str:
    """The key in `directory/name`, created with `secrets.token_urlsafe(32)` if missing."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)
    path = directory / name
    existing = _read(path)
    if existing:
        return existing
    # mkstemp makes the file 0600; written whole, then linked into place: a link never
    # replaces an existing file, so the first process to link wins and the others read its key.
    fd, temporary = tempfile.mkstemp(dir=directory, prefix=f".{name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(32) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process was first: its key
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    key = _read(path)
    if not key:
        raise RuntimeError(f"{path} is empty: delete it to generate a new key")
    return key


def _read(path: Path) -> str:
    try:
        key = path.read_text().strip()
    except FileNotFoundError:
        return ""
    os.chmod(path, 0o600)  # tightened if someone loosened it
    return key


def redis_password(directory: Path | None = None) -> str:
    """The password of the Redis server `bot stack run` starts on one machine
    (bot/redis_server.py), kept in `directory/redis` (default `SECRETS_DIR`). It reaches the
    gateways inside REDIS_URL and Rasa through its environment; with your own Redis, REDIS_URL
    carries yours."""
    return stored_secret("redis", directory or SECRETS_DIR)

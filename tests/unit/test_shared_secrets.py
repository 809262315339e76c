"""The processes' keys (bot/shared_secrets.py): generated once and kept private, the same for
every process of this checkout, and the setting wins when there is one."""

from __future__ import annotations

import stat
import subprocess
import sys
import time

import pytest

from bot import shared_secrets
from bot.settings import PROJECT_ROOT, get_settings


@pytest.fixture
def secrets_dir(tmp_path, monkeypatch):
    """The keys go to a temporary var/secrets, not this checkout's."""
    directory = tmp_path / "var" / "secrets"
    monkeypatch.setattr(shared_secrets, "SECRETS_DIR", directory)
    monkeypatch.delenv("RASA_SECRET", raising=False)
    monkeypatch.delenv("ACTION_SERVER_SECRET", raising=False)
    get_settings.cache_clear()
    return directory


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_a_key_is_generated_once_private_and_reused(secrets_dir):
    first = shared_secrets.rasa_secret()
    assert len(first) >= 40  # token_urlsafe(32): 43 characters
    assert mode(secrets_dir) == 0o700
    assert mode(secrets_dir / "rasa") == 0o600
    assert (secrets_dir / "rasa").read_text().strip() == first
    assert shared_secrets.rasa_secret() == first
    other = shared_secrets.action_server_secret()
    assert other != first
    assert mode(secrets_dir / "action_server") == 0o600
    assert sorted(p.name for p in secrets_dir.iterdir()) == ["action_server", "rasa"]


def test_a_loosened_file_is_made_private_again(secrets_dir):
    key = shared_secrets.rasa_secret()
    (secrets_dir / "rasa").chmod(0o644)
    secrets_dir.chmod(0o755)
    assert shared_secrets.rasa_secret() == key
    assert mode(secrets_dir / "rasa") == 0o600 and mode(secrets_dir) == 0o700


def test_the_setting_wins_and_nothing_is_written(secrets_dir, monkeypatch):
    monkeypatch.setenv("RASA_SECRET", "configured-rasa-key")
    monkeypatch.setenv("ACTION_SERVER_SECRET", "configured-action-key")
    get_settings.cache_clear()
    assert shared_secrets.rasa_secret() == "configured-rasa-key"
    assert shared_secrets.action_server_secret() == "configured-action-key"
    assert not secrets_dir.exists()


def test_the_setting_wins_over_a_stored_key(secrets_dir, monkeypatch):
    stored = shared_secrets.rasa_secret()
    monkeypatch.setenv("RASA_SECRET", "configured-rasa-key")
    get_settings.cache_clear()
    assert shared_secrets.rasa_secret() == "configured-rasa-key" != stored


@pytest.mark.parametrize("value", ["clé-non-ascii", "two words", "tab\tkey"])
def test_a_key_that_cannot_travel_in_a_header_is_refused_without_echo(
    secrets_dir, monkeypatch, value
):
    monkeypatch.setenv("RASA_SECRET", value)
    get_settings.cache_clear()
    with pytest.raises(ValueError, match="RASA_SECRET") as raised:
        shared_secrets.rasa_secret()
    assert value not in str(raised.value)


RACE = """
import sys, time
from pathlib import Path
from bot import shared_secrets
start = float(sys.argv[2])
while time.time() < start:
    pass
print(shared_secrets.stored_secret("race", Path(sys.argv[1])))
"""


def test_processes_starting_together_agree_on_one_key(tmp_path):
    directory = tmp_path / "secrets"
    start = time.time() + 1.5  # all of them past their imports by then
    children = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(directory), str(start)],
            cwd=PROJECT_ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    keys = {child.communicate(timeout=60)[0].strip() for child in children}
    assert all(child.returncode == 0 for child in children)
    assert keys == {(directory / "race").read_text().strip()}
    assert [p.name for p in directory.iterdir()] == ["race"]  # no temporary file left behind

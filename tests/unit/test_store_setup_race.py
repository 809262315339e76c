"""Several processes starting together on a new store database (gateways and action servers
of `bot stack run --gateways 2 --rasa 2`): one upgrades and seeds it, the others find it done."""

from __future__ import annotations

import subprocess
import sys

from sqlalchemy import func, select

from bot.settings import PROJECT_ROOT
from bot.store.db import get_engine, session_scope
from bot.store.models import Customer


def test_four_processes_seed_a_new_database_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'store.db'}"
    starting = [
        subprocess.Popen(
            [sys.executable, "-c", f"from bot.store.db import get_engine; get_engine({url!r})"],
            cwd=PROJECT_ROOT,
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    errors = [process.communicate(timeout=120)[1].decode() for process in starting]
    assert [process.returncode for process in starting] == [0, 0, 0, 0], errors
    with session_scope(get_engine(url)) as session:
        assert session.scalar(select(func.count(Customer.id))) == 18

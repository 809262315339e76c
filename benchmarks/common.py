"""What every benchmark that runs the stack starts with."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from bot.settings import PROJECT_ROOT
from bot.stack import Stack

RESULTS = PROJECT_ROOT / "benchmarks" / "results"


def write_results(name: str, results: dict, model: Path | None = None) -> Path:
    """benchmarks/results/<name>.json, stamped with the model, time and machine."""
    stamp = {
        **({"model": model.name} if model else {}),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": f"{os.cpu_count()} cores",
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({**results, **stamp}, indent=2, ensure_ascii=False) + "\n")
    return path


def trained_model() -> Path | None:
    """`SA_MODEL` (set by `make bench`), or None after saying what is missing."""
    model = Path(os.environ.get("SA_MODEL", ""))
    if not model.is_file():
        print("SA_MODEL must name a trained model (run `make bench`)", file=sys.stderr)
        return None
    return model


def fresh_work_dir(name: str) -> Path:
    """var/<name>, without the databases of an earlier run (logs are kept to look at)."""
    work = PROJECT_ROOT / "var" / name
    work.mkdir(parents=True, exist_ok=True)
    for old in work.glob("*.db*"):
        old.unlink()
    return work


def memory_mb(stack: Stack, field: str = "VmHWM") -> dict[str, float]:
    """Each running process's memory from /proc: VmHWM is the peak so far, VmRSS the now."""
    found = {}
    for name, process in stack.processes.items():
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith(f"{field}:"):
                found[name] = round(int(line.split()[1]) / 1024, 1)
    return found


def print_table(rows: list[tuple[str, str]]) -> None:
    """Name and value, the names padded to one width."""
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


# Every simulated shopper comes from 127.0.0.1 and sends as fast as it can: the per-sender
# rate limits (bot/gateway/limits.py) would measure themselves, not the assistant.
NO_RATE_LIMITS = {
    "RATE_LIMIT_MESSAGES_PER_MINUTE": "1000000",
    "RATE_LIMIT_CONVERSATIONS_PER_MINUTE": "1000000",
}

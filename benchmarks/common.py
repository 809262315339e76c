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


def memory_mb(stack: Stack, field: str = "VmHWM", tree: bool = False) -> dict[str, float]:
    """Each running process's memory from /proc: VmHWM is the peak so far, VmRSS the now.
    With `tree`, summed over the process and its descendants: the action server's requests
    run in a Sanic worker process, nginx's in its workers (a sum of peaks is an upper bound
    of the peak of the sum)."""
    found = {}
    children = _children() if tree else {}
    for name, process in stack.processes.items():
        kib = [_status_kib(pid, field) for pid in _tree(process.pid, children)]
        if kib[0] is not None:
            found[name] = round(sum(k or 0 for k in kib) / 1024, 1)
    return found


def cpu_seconds(pids: dict[str, int], tree: bool = True) -> dict[str, float]:
    """CPU seconds (user + system) each named process has used so far, with its descendants
    (and the children they waited for) unless `tree` is False. Sample before and after."""
    children = _children() if tree else {}
    tick = os.sysconf("SC_CLK_TCK")
    used = {}
    for name, pid in pids.items():
        ticks = [_stat_ticks(member, waited=tree) for member in _tree(pid, children)]
        if ticks[0] is not None:
            used[name] = sum(t or 0 for t in ticks) / tick
    return used


def machine_busy_seconds() -> float:
    """CPU seconds every core of the machine has spent busy since boot (/proc/stat), to tell
    what other programs used during a measurement."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _children() -> dict[int, list[int]]:
    """Every process's children, from one pass over /proc."""
    found: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            stat = _stat_fields(int(entry.name))
            if stat is not None:
                found.setdefault(int(stat[1]), []).append(int(entry.name))
    return found


def _tree(pid: int, children: dict[int, list[int]]) -> list[int]:
    """`pid` first, then its descendants."""
    members, todo = [pid], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            members.append(child)
            todo.append(child)
    return members


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/PID/stat from the state on (the command name may hold spaces)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rpartition(")")[2].split()


def _stat_ticks(pid: int, waited: bool) -> int | None:
    fields = _stat_fields(pid)
    if fields is None:
        return None
    utime, stime, cutime, cstime = (int(v) for v in fields[11:15])
    return utime + stime + ((cutime + cstime) if waited else 0)


def _status_kib(pid: int, field: str) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return None


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

"""Latency figures, computed the same way by every benchmark."""

from __future__ import annotations

import statistics


def percentile(ordered: list[float], share: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, round(share * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary(timings_ms: list[float]) -> dict:
    ordered = sorted(timings_ms)
    return {
        "messages": len(ordered),
        "p50_ms": round(statistics.median(ordered), 1),
        "p95_ms": round(percentile(ordered, 0.95), 1),
        "p99_ms": round(percentile(ordered, 0.99), 1),
        "max_ms": round(ordered[-1], 1),
    }

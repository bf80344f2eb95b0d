"""Small statistics helpers: medians and percentiles as quoted in RESULTS.md."""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100), linear interpolation between closest ranks."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


class Latencies:
    """p50/p95 over a dataclass's `ms` samples (mixed into the benchmarks' result records)."""

    ms: list[float]

    @property
    def p50(self) -> float:
        return median(self.ms)

    @property
    def p95(self) -> float:
        return percentile(self.ms, 95)

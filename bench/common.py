"""What every benchmark module shares: timing helpers and the result row it reports."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """One row of the table: a figure, its unit, the target and whether it was met."""

    area: str  # e.g. "procedures", "engine", "kb"
    name: str  # what was measured
    figure: float
    unit: str  # "ms", "msg/s", "MB", "x floor", ...
    target: str = ""  # e.g. "< 1 ms"
    ok: bool | None = None  # None when there is no target
    note: str = ""


def median_of(runs: int, fn: Callable[[], float]) -> float:
    """Median of `runs` calls of `fn`, each returning one measurement."""
    return statistics.median(fn() for _ in range(runs))


def timed(fn: Callable[[], object]) -> float:
    """Seconds one call of `fn` takes, on the monotonic high-resolution clock."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]

"""What every benchmark module shares: timing helpers and the result row it reports."""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

PG_ENV = "SOPBOT_BENCH_POSTGRES_URL"


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


def postgres_server() -> str | None:
    """The PostgreSQL server to measure on as well, when SOPBOT_BENCH_POSTGRES_URL names one."""
    url = os.environ.get(PG_ENV)
    if url and url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url or None


@contextmanager
def scratch_postgres(server: str) -> Iterator[str]:
    """A fresh, empty database on `server`, dropped afterwards (with its connections)."""
    from tests.helpers import databases

    url = databases.new_postgres_database(server, migrated=False)
    try:
        yield url
    finally:
        databases.drop_postgres_database(url)

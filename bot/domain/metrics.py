"""The process metrics, computed from plain numbers; `docs/metrics.md` defines each one.

Services count rows in SQL and hand the counts (and the open-to-resolved durations, which need
a median) to a `Tally`; `Tally.metrics()` turns them into the figures leads read. Nothing here
knows about the database or the clock.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, fields
from datetime import date


def median(values: Sequence[float]) -> float | None:
    """The middle value (the mean of the two middle ones for an even count); None when empty."""
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], pct: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `pct`% of values at or below.

    No interpolation, so the answer is always a duration some ticket really took.
    """
    if not values:
        return None
    if not 0 < pct <= 100:
        raise ValueError("pct must be in (0, 100]")
    ordered = sorted(values)
    rank = math.ceil(pct / 100 * len(ordered))
    return ordered[max(rank, 1) - 1]


def p90(values: Sequence[float]) -> float | None:
    return percentile(values, 90)


def rate(part: int, whole: int) -> float | None:
    """`part / whole`, or None when there is nothing to divide by (not 0: "no data" differs)."""
    return part / whole if whole else None


def per_ticket(total: int, tickets: int) -> float | None:
    return total / tickets if tickets else None


@dataclass(frozen=True)
class Metrics:
    """The figures for one period and one slice (everything, a procedure, or a version)."""

    opened: int
    self_served: int
    resolved: int
    median_resolve_seconds: float | None
    p90_resolve_seconds: float | None
    rework_rate: float | None
    overdue_rate: float | None
    self_serve_rate: float | None
    questions_per_ticket: float | None
    invalid_answers_per_ticket: float | None
    # Approvals decided in the period: the median time from asking to the decision, and the
    # share rejected (None when no approval was decided).
    median_approval_wait_seconds: float | None = None
    rejection_rate: float | None = None

    def as_dict(self) -> dict[str, float | int | None]:
        return asdict(self)


METRIC_NAMES = tuple(f.name for f in fields(Metrics))


@dataclass
class Tally:
    """Counts for one slice, as the queries return them; `add` merges slices for roll-ups."""

    opened: int = 0
    questions_asked: int = 0  # summed over the opened tickets
    invalid_answers: int = 0  # summed over the opened tickets
    self_served: int = 0
    resolve_seconds: list[float] = field(default_factory=list)  # one per resolved ticket
    reworked: int = 0  # resolved tickets that were reopened at least once
    fell_due: int = 0  # tickets whose due time fell in the period (and has passed)
    late: int = 0  # of those, resolved after their due time or still unresolved
    approval_seconds: list[float] = field(default_factory=list)  # one per decided approval
    rejected: int = 0  # of those, rejected

    def add(self, other: Tally) -> None:
        self.opened += other.opened
        self.questions_asked += other.questions_asked
        self.invalid_answers += other.invalid_answers
        self.self_served += other.self_served
        self.resolve_seconds.extend(other.resolve_seconds)
        self.reworked += other.reworked
        self.fell_due += other.fell_due
        self.late += other.late
        self.approval_seconds.extend(other.approval_seconds)
        self.rejected += other.rejected

    def metrics(self) -> Metrics:
        resolved = len(self.resolve_seconds)
        return Metrics(
            opened=self.opened,
            self_served=self.self_served,
            resolved=resolved,
            median_resolve_seconds=median(self.resolve_seconds),
            p90_resolve_seconds=p90(self.resolve_seconds),
            rework_rate=rate(self.reworked, resolved),
            overdue_rate=rate(self.late, self.fell_due),
            self_serve_rate=rate(self.self_served, self.self_served + self.opened),
            questions_per_ticket=per_ticket(self.questions_asked, self.opened),
            invalid_answers_per_ticket=per_ticket(self.invalid_answers, self.opened),
            median_approval_wait_seconds=median(self.approval_seconds),
            rejection_rate=rate(self.rejected, len(self.approval_seconds)),
        )


def merged(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.add(tally)
    return total


def deltas(current: Metrics, previous: Metrics) -> dict[str, float | None]:
    """`current - previous` for every figure; None where either side has no data.

    Rates are fractions, so a delta of 0.05 reads as five percentage points.
    """
    out: dict[str, float | None] = {}
    for name in METRIC_NAMES:
        now, before = getattr(current, name), getattr(previous, name)
        out[name] = None if now is None or before is None else now - before
    return out


@dataclass(frozen=True)
class WeekPoint:
    """One week of the leads' chart."""

    start: date  # the Monday the week begins on, in the team's timezone
    opened: int
    resolved: int
    rework_rate: float | None  # 0..1; None when nothing was resolved that week

"""Did a procedure change help? Figures per version, and the difference between the last two
with a bootstrap interval that says whether it is beyond noise (`docs/metrics.md`).

Pure: the service hands in one row per ticket; the random numbers come from a generator seeded
here, so the same data always gives the same interval.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime

from bot.domain.metrics import median, p90, per_ticket, rate

SEED = 20260
RESAMPLES = 2000
CONFIDENCE = 0.95
MIN_TICKETS = 5  # fewer on either side: no interval, "not enough tickets"


@dataclass(frozen=True)
class TicketFacts:
    """What one opened ticket says about the version it opened under."""

    resolve_seconds: float | None  # None: not resolved
    reworked: bool
    questions: int


@dataclass
class VersionSample:
    """Everything known about one version, as the service reads it."""

    version: str
    first_used: datetime
    tickets: list[TicketFacts] = field(default_factory=list)
    satisfaction: list[bool] = field(default_factory=list)  # True: 👍
    approval_seconds: list[float] = field(default_factory=list)

    @property
    def resolve_seconds(self) -> list[float]:
        return [t.resolve_seconds for t in self.tickets if t.resolve_seconds is not None]

    @property
    def rework(self) -> list[bool]:
        """One per resolved ticket: was it reopened."""
        return [t.reworked for t in self.tickets if t.resolve_seconds is not None]

    def figures(self) -> VersionFigures:
        resolved = self.resolve_seconds
        return VersionFigures(
            version=self.version,
            first_used=self.first_used.isoformat(),
            tickets=len(self.tickets),
            resolved=len(resolved),
            median_resolve_seconds=median(resolved),
            p90_resolve_seconds=p90(resolved),
            rework_rate=rate(sum(self.rework), len(resolved)),
            satisfaction=rate(sum(self.satisfaction), len(self.satisfaction)),
            satisfaction_answers=len(self.satisfaction),
            questions_per_ticket=per_ticket(
                sum(t.questions for t in self.tickets), len(self.tickets)
            ),
            median_approval_wait_seconds=median(self.approval_seconds),
        )


@dataclass(frozen=True)
class VersionFigures:
    version: str
    first_used: str
    tickets: int
    resolved: int
    median_resolve_seconds: float | None
    p90_resolve_seconds: float | None
    rework_rate: float | None
    satisfaction: float | None  # the share of 👍 among the answers
    satisfaction_answers: int
    questions_per_ticket: float | None
    median_approval_wait_seconds: float | None

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Difference:
    """`newer - older` for one figure, with its bootstrap interval; `beyond_noise` when the
    interval leaves out zero. No interval (None) when either side has too few tickets."""

    delta: float | None
    low: float | None
    high: float | None
    beyond_noise: bool | None  # None: not enough data to say
    older_n: int
    newer_n: int

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True)
class Comparison:
    procedure: str
    versions: tuple[VersionFigures, ...]  # oldest first
    older: str | None  # the last two versions compared, when there are two
    newer: str | None
    differences: dict[str, Difference]

    def as_dict(self) -> dict[str, object]:
        difference: dict[str, object] | None = None
        if self.older is not None and self.newer is not None:
            difference = {
                "from": self.older,
                "to": self.newer,
                "method": "bootstrap",
                "confidence": CONFIDENCE,
                "resamples": RESAMPLES,
                "seed": SEED,
                **{name: d.as_dict() for name, d in self.differences.items()},
            }
        return {
            "procedure": self.procedure,
            "versions": [v.as_dict() for v in self.versions],
            "difference": difference,
        }


def compare(procedure: str, samples: Sequence[VersionSample]) -> Comparison:
    """Every version's figures, oldest first, and the difference between the last two."""
    ordered = sorted(samples, key=lambda s: (s.first_used, s.version))
    figures = tuple(s.figures() for s in ordered)
    if len(ordered) < 2:
        return Comparison(procedure, figures, None, None, {})
    older, newer = ordered[-2], ordered[-1]
    differences = {
        "median_resolve_seconds": difference(
            older.resolve_seconds, newer.resolve_seconds, median_of
        ),
        "rework_rate": difference(_ones(older.rework), _ones(newer.rework), mean_of),
        "satisfaction": difference(_ones(older.satisfaction), _ones(newer.satisfaction), mean_of),
    }
    return Comparison(procedure, figures, older.version, newer.version, differences)


def median_of(values: Sequence[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    middle = n // 2
    return ordered[middle] if n % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def mean_of(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def difference(
    older: Sequence[float],
    newer: Sequence[float],
    statistic: Callable[[Sequence[float]], float],
    *,
    resamples: int = RESAMPLES,
    seed: int = SEED,
) -> Difference:
    """`statistic(newer) - statistic(older)` with a percentile bootstrap interval: both samples
    are resampled with replacement, each on its own, `resamples` times."""
    if not older or not newer:
        return Difference(None, None, None, None, len(older), len(newer))
    delta = statistic(newer) - statistic(older)
    if len(older) < MIN_TICKETS or len(newer) < MIN_TICKETS:
        return Difference(delta, None, None, None, len(older), len(newer))
    rng = random.Random(seed)
    a, b = list(older), list(newer)
    spread = sorted(
        statistic(rng.choices(b, k=len(b))) - statistic(rng.choices(a, k=len(a)))
        for _ in range(resamples)
    )
    tail = (1 - CONFIDENCE) / 2
    low = spread[int(tail * resamples)]
    high = spread[min(resamples - 1, int((1 - tail) * resamples))]
    return Difference(delta, low, high, not low <= 0 <= high, len(older), len(newer))


def _ones(flags: Sequence[bool]) -> list[float]:
    return [1.0 if f else 0.0 for f in flags]

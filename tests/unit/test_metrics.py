"""The pure metric arithmetic: medians, nearest-rank p90, rates, roll-ups and deltas."""

from __future__ import annotations

import pytest

from bot.domain import metrics
from bot.domain.metrics import Tally


def test_median_of_odd_and_even_counts():
    assert metrics.median([5, 1, 3]) == 3
    assert metrics.median([1, 2, 3, 10]) == 2.5
    assert metrics.median([]) is None


def test_p90_is_a_value_some_ticket_really_took():
    assert metrics.p90(list(range(1, 11))) == 9
    assert metrics.p90([7]) == 7
    assert metrics.p90([1, 2, 3, 100]) == 100
    assert metrics.p90([]) is None


def test_percentile_refuses_nonsense():
    with pytest.raises(ValueError):
        metrics.percentile([1], 0)


def test_rates_without_a_denominator_are_none_not_zero():
    assert metrics.rate(1, 4) == 0.25
    assert metrics.rate(0, 0) is None
    assert metrics.per_ticket(3, 0) is None


def test_tally_turns_counts_into_the_figures():
    m = Tally(
        opened=4,
        questions_asked=10,
        invalid_answers=2,
        self_served=1,
        resolve_seconds=[60.0, 180.0, 120.0],
        reworked=1,
        fell_due=4,
        late=1,
    ).metrics()
    assert (m.opened, m.resolved, m.self_served) == (4, 3, 1)
    assert m.median_resolve_seconds == 120.0 and m.p90_resolve_seconds == 180.0
    assert m.rework_rate == pytest.approx(1 / 3)
    assert m.overdue_rate == 0.25
    assert m.self_serve_rate == 0.2
    assert (m.questions_per_ticket, m.invalid_answers_per_ticket) == (2.5, 0.5)


def test_roll_up_merges_durations_before_taking_the_median():
    a = Tally(opened=1, resolve_seconds=[1.0, 2.0])
    b = Tally(opened=2, resolve_seconds=[100.0])
    total = metrics.merged([a, b]).metrics()
    assert total.opened == 3 and total.median_resolve_seconds == 2.0
    assert a.resolve_seconds == [1.0, 2.0]  # the parts are left as they were


def test_deltas_are_differences_and_none_where_either_side_lacks_data():
    now = Tally(opened=5, resolve_seconds=[10.0], reworked=1).metrics()
    before = Tally(opened=2).metrics()
    d = metrics.deltas(now, before)
    assert d["opened"] == 3 and d["resolved"] == 1
    assert d["rework_rate"] is None and d["median_resolve_seconds"] is None
    assert set(d) == set(metrics.METRIC_NAMES)

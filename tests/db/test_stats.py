"""Metrics on a constructed history whose answers are worked out by hand (docs/metrics.md)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.db.models import Ticket
from bot.domain.actors import Actor
from bot.services import audit, stats

LEAD = Actor(1, "Lead", "lead")
NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
SINCE, UNTIL = stats.between_days(date(2026, 3, 1), date(2026, 3, 7), ZoneInfo("UTC"))
H = 3600.0


def at(day: int, hour: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def make_ticket(session, number: int, procedure: str, version: str, **columns) -> None:
    """A ticket row with its history in the audit log, written at the times it happened."""
    created = columns.get("opened_at") or columns.get("closed_at") or at(1)
    columns.setdefault("status", "open")
    session.add(
        Ticket(
            id=number,
            procedure_id=procedure,
            procedure_version=version,
            title=f"t{number}",
            reporter_id=2,
            reporter_name="Reporter",
            chat_id=-1,
            chat_type="group",
            created_at=created,
            updated_at=created,
            **columns,
        )
    )
    audit.record(
        session,
        now=created,
        actor=LEAD,
        action="ticket.created",
        ticket_id=number,
        details={"procedure": procedure, "title": f"t{number}", "chat_id": -1},
        procedure_id=procedure,
        procedure_version=version,
    )
    if columns.get("resolved_at"):
        audit.record(
            session,
            now=columns["resolved_at"],
            actor=LEAD,
            action="status.changed",
            ticket_id=number,
            details={"from": "open", "to": "resolved"},
            procedure_id=procedure,
            procedure_version=version,
        )


@pytest.fixture
def history(db):
    with db.transaction() as s:
        # vpn v1: 2 h, on time; 4 h, late, reworked once; and one still open, opened at `since`.
        make_ticket(
            s,
            1,
            "vpn",
            "v1",
            opened_at=at(1, 10),
            resolved_at=at(1, 12),
            status="resolved",
            questions_asked=2,
            invalid_answers=1,
            due_at=at(1, 14),
        )
        make_ticket(
            s,
            2,
            "vpn",
            "v1",
            opened_at=at(2, 10),
            resolved_at=at(2, 14),
            closed_at=at(3),
            status="closed",
            close_reason="done",
            reopen_count=1,
            questions_asked=4,
            due_at=at(2, 12),
        )
        make_ticket(s, 10, "vpn", "v1", opened_at=at(1), questions_asked=1)
        # Opened exactly at `until`: belongs to the next period.
        make_ticket(s, 9, "vpn", "v1", opened_at=at(8), questions_asked=9)
        # vpn v2: still in progress and past due; resolved in 24 h, due after the period.
        make_ticket(
            s,
            3,
            "vpn",
            "v2",
            opened_at=at(3, 10),
            status="in_progress",
            invalid_answers=2,
            due_at=at(4, 10),
        )
        make_ticket(
            s,
            4,
            "vpn",
            "v2",
            opened_at=at(4),
            resolved_at=at(5),
            closed_at=at(6),
            status="closed",
            close_reason="done",
            questions_asked=3,
            due_at=at(9),
        )
        # printer v1: opened before the period, resolved in it after 72 h, reopened twice;
        # a draft the knowledge base solved; one reopened and now waiting for info, its clock
        # stopped before it fell due; a cancelled draft.
        make_ticket(
            s,
            5,
            "printer",
            "v1",
            opened_at=at(27, 0, 2),
            resolved_at=at(2),
            status="resolved",
            reopen_count=2,
            due_at=at(28, 0, 2),
        )
        make_ticket(
            s,
            6,
            "printer",
            "v1",
            closed_at=at(3),
            status="closed",
            close_reason="self_served",
            questions_asked=1,
        )
        make_ticket(
            s,
            7,
            "printer",
            "v1",
            opened_at=at(6),
            resolved_at=at(6, 12),
            status="waiting_for_info",
            reopen_count=1,
            questions_asked=1,
            paused_at=at(6, 18),
            due_at=at(7),
        )
        make_ticket(s, 8, "printer", "v1", status="cancelled", close_reason="cancelled")
    return db


def report(db, since=SINCE, until=UNTIL, compare=False) -> stats.Report:
    with db.reading() as s:
        fn = stats.compare_previous if compare else stats.compute
        return fn(s, since, until, now=NOW)


def test_overall_figures_match_the_hand_worked_answers(history):
    m = report(history).overall
    assert (m.opened, m.self_served, m.resolved) == (6, 1, 4)
    assert m.median_resolve_seconds == pytest.approx(14 * H)  # of 2, 4, 24, 72 hours
    assert m.p90_resolve_seconds == pytest.approx(72 * H)
    assert m.rework_rate == pytest.approx(2 / 4)
    assert m.overdue_rate == pytest.approx(2 / 3)
    assert m.self_serve_rate == pytest.approx(1 / 7)
    assert m.questions_per_ticket == pytest.approx(11 / 6)
    assert m.invalid_answers_per_ticket == pytest.approx(3 / 6)


def test_figures_per_procedure_and_per_version(history):
    r = report(history)
    assert [p.procedure_id for p in r.procedures] == ["printer", "vpn"]
    vpn = r.procedure("vpn")
    assert (vpn.metrics.opened, vpn.metrics.resolved) == (5, 3)
    assert vpn.metrics.median_resolve_seconds == pytest.approx(4 * H)
    assert vpn.metrics.p90_resolve_seconds == pytest.approx(24 * H)
    assert vpn.metrics.rework_rate == pytest.approx(1 / 3)
    assert vpn.metrics.invalid_answers_per_ticket == pytest.approx(0.6)
    v1, v2 = vpn.versions
    assert (v1.version, v1.metrics.opened, v1.metrics.resolved) == ("v1", 3, 2)
    assert v1.metrics.median_resolve_seconds == pytest.approx(3 * H)
    assert v1.metrics.overdue_rate == pytest.approx(0.5)
    assert (v2.version, v2.metrics.overdue_rate, v2.metrics.rework_rate) == ("v2", 1.0, 0.0)
    printer = r.procedure("printer").metrics
    assert (printer.opened, printer.self_served, printer.resolved) == (1, 1, 1)
    assert printer.rework_rate == 1.0
    assert printer.overdue_rate is None  # nothing fell due: no data, not zero


def test_compare_previous_uses_the_same_length_period_before(history):
    r = report(history, compare=True)
    prev = r.previous
    assert (prev.since, prev.until) == (SINCE - timedelta(days=7), SINCE)
    assert (prev.overall.opened, prev.overall.resolved) == (1, 0)
    assert prev.overall.overdue_rate == 1.0  # ticket 5 was due on 28 Feb, resolved on 2 Mar
    data = r.as_dict()
    assert data["overall"]["delta"]["opened"] == 5
    assert data["overall"]["delta"]["overdue_rate"] == pytest.approx(2 / 3 - 1)
    assert data["overall"]["delta"]["median_resolve_seconds"] is None
    vpn = next(p for p in data["procedures"] if p["procedure_id"] == "vpn")
    assert vpn["previous"] is None and vpn["delta"] is None


def test_due_times_still_ahead_are_not_judged(history):
    # Until 4 March 09:00 ticket 3 (due 4 March 10:00) has not fallen due yet.
    with history.reading() as s:
        r = stats.compute(s, SINCE, UNTIL, now=at(4, 9))
    assert r.overall.overdue_rate == pytest.approx(1 / 2)


def test_empty_period_has_counts_of_zero_and_no_rates(history):
    m = report(history, since=at(1, 0, 1), until=at(2, 0, 1)).overall
    assert (m.opened, m.resolved, m.self_served) == (0, 0, 0)
    assert m.median_resolve_seconds is None and m.rework_rate is None


def test_weekly_series_buckets_by_monday_in_the_team_timezone(history):
    with history.reading() as s:
        weeks = stats.weekly(s, date(2026, 3, 1), date(2026, 3, 7), ZoneInfo("UTC"))
    assert [(w.start, w.opened, w.resolved) for w in weeks] == [
        (date(2026, 2, 23), 3, 1),
        (date(2026, 3, 2), 5, 3),  # whole weeks: ticket 9 (Sunday 8 March) too
    ]
    assert weeks[0].rework_rate == 0.0 and weeks[1].rework_rate == pytest.approx(2 / 3)


def test_last_days_starts_at_local_midnight_and_ends_now():
    berlin = ZoneInfo("Europe/Berlin")
    since, until = stats.last_days(7, NOW, berlin)
    assert until == NOW
    assert since == datetime(2026, 3, 4, tzinfo=berlin)
    with pytest.raises(ValueError):
        stats.last_days(0, NOW, berlin)

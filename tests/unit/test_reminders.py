"""The chasing rules with an injected clock: quiet hours, working days, cadence, escalation."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from bot.domain import reminders as rules
from bot.domain.ticket import is_overdue
from bot.services.sweep import lines

BERLIN = ZoneInfo("Europe/Berlin")
EVERY_DAY = (0, 1, 2, 3, 4, 5, 6)
WEEKDAYS = (0, 1, 2, 3, 4)


@dataclass(frozen=True)
class Settings:
    quiet_hours: tuple[time, time] | None = None
    working_days: tuple[int, ...] = EVERY_DAY


@dataclass
class T:
    """A ticket's chasing state, as the sweep sees it."""

    id: int = 1
    status: str = "open"
    due_at: datetime | None = None
    paused_at: datetime | None = None
    updated_at: datetime = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    snoozed_until: datetime | None = None
    last_reminded_at: datetime | None = None
    acknowledged_at: datetime | None = None
    remind_count: int = 0
    escalation_level: int = 0
    assignee_name: str | None = None


NIGHT = Settings(quiet_hours=(time(20, 0), time(8, 0)))
OFFICE = Settings(quiet_hours=(time(20, 0), time(8, 0)), working_days=WEEKDAYS)
CADENCE = rules.Cadence(remind_every=timedelta(hours=2), escalate_after=2)


def berlin(*args) -> datetime:
    return datetime(*args, tzinfo=BERLIN)


# --- quiet hours and working days -----------------------------------------------------------


@pytest.mark.parametrize(
    ("clock", "quiet"),
    [
        (time(19, 59), False),
        (time(20, 0), True),
        (time(23, 30), True),
        (time(0, 0), True),
        (time(7, 59), True),
        (time(8, 0), False),
        (time(12, 0), False),
    ],
)
def test_quiet_hours_crossing_midnight_cover_the_night(clock, quiet):
    assert rules.in_quiet_hours(clock, (time(20, 0), time(8, 0))) is quiet


def test_quiet_hours_within_one_day_cover_only_that_range():
    lunch = (time(12, 0), time(13, 0))
    assert rules.in_quiet_hours(time(12, 30), lunch)
    assert not rules.in_quiet_hours(time(13, 0), lunch)
    assert not rules.in_quiet_hours(time(23, 0), lunch)


def test_no_quiet_hours_means_always_allowed():
    assert rules.next_allowed(berlin(2026, 3, 2, 3, 0), Settings(), BERLIN) == berlin(
        2026, 3, 2, 3, 0
    )


def test_a_reminder_at_night_is_deferred_to_the_end_of_quiet_hours_in_the_team_zone():
    now = berlin(2026, 3, 3, 22, 15)
    assert rules.next_allowed(now, NIGHT, BERLIN) == berlin(2026, 3, 4, 8, 0)


def test_after_midnight_the_deferral_is_to_the_same_morning():
    now = berlin(2026, 3, 4, 1, 0)
    assert rules.next_allowed(now, NIGHT, BERLIN) == berlin(2026, 3, 4, 8, 0)


def test_friday_evening_is_deferred_to_monday_morning_on_working_days():
    friday_evening = berlin(2026, 3, 6, 21, 0)
    assert rules.next_allowed(friday_evening, OFFICE, BERLIN) == berlin(2026, 3, 9, 8, 0)


def test_a_weekend_without_quiet_hours_is_deferred_to_monday_midnight():
    saturday = berlin(2026, 3, 7, 14, 0)
    assert rules.next_allowed(saturday, Settings(working_days=WEEKDAYS), BERLIN) == berlin(
        2026, 3, 9, 0, 0
    )


def test_deferral_across_the_spring_dst_change_lands_at_local_eight():
    # 29 March 2026: Berlin moves from UTC+1 to UTC+2 at 02:00.
    evening = datetime(2026, 3, 28, 20, 30, tzinfo=UTC)  # 21:30 local
    result = rules.next_allowed(evening, NIGHT, BERLIN)
    assert result == datetime(2026, 3, 29, 6, 0, tzinfo=UTC)
    assert result.astimezone(BERLIN).time() == time(8, 0)


def test_deferral_across_the_autumn_dst_change_lands_at_local_eight():
    # 25 October 2026: Berlin moves from UTC+2 back to UTC+1 at 03:00.
    evening = datetime(2026, 10, 24, 19, 30, tzinfo=UTC)  # 21:30 local
    result = rules.next_allowed(evening, NIGHT, BERLIN)
    assert result == datetime(2026, 10, 25, 7, 0, tzinfo=UTC)


def test_quiet_hours_ending_in_the_skipped_dst_hour_end_just_after_the_change():
    settings = Settings(quiet_hours=(time(22, 0), time(2, 30)))
    night = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)  # 00:30 local, in quiet hours
    result = rules.next_allowed(night, settings, BERLIN)
    assert result == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # 03:30 summer time
    assert rules.is_allowed(result, settings, BERLIN)


def test_working_days_are_read_in_the_team_zone_not_utc():
    # Monday 00:30 in Berlin is still Sunday in UTC.
    monday_early = berlin(2026, 3, 9, 0, 30)
    assert rules.is_allowed(monday_early, Settings(working_days=WEEKDAYS), BERLIN)
    assert not rules.is_allowed(monday_early, Settings(working_days=WEEKDAYS), UTC)


# --- due times and cadence ------------------------------------------------------------------


def test_a_ticket_is_reminded_once_it_is_due():
    due = berlin(2026, 3, 2, 10, 0)
    p = rules.plan(T(due_at=due), due + timedelta(minutes=5), CADENCE, NIGHT, BERLIN)
    assert p.action == rules.REMIND
    assert p.remind_count == 1
    assert p.chase_at == due + timedelta(hours=2, minutes=5)


def test_a_ticket_not_yet_due_waits_until_its_due_time():
    due = berlin(2026, 3, 2, 10, 0)
    p = rules.plan(T(due_at=due), due - timedelta(hours=1), CADENCE, NIGHT, BERLIN)
    assert (p.action, p.chase_at) == (rules.WAIT, due)


def test_the_next_reminder_comes_remind_every_after_the_last():
    last = berlin(2026, 3, 2, 10, 0)
    t = T(due_at=last - timedelta(hours=1), last_reminded_at=last, remind_count=1)
    early = rules.plan(t, last + timedelta(minutes=90), CADENCE, NIGHT, BERLIN)
    assert (early.action, early.chase_at) == (rules.WAIT, last + timedelta(hours=2))
    on_time = rules.plan(t, last + timedelta(hours=2), CADENCE, NIGHT, BERLIN)
    assert (on_time.action, on_time.remind_count) == (rules.REMIND, 2)


def test_the_next_chase_time_is_moved_out_of_quiet_hours():
    now = berlin(2026, 3, 2, 19, 0)
    p = rules.plan(T(due_at=now - timedelta(hours=1)), now, CADENCE, NIGHT, BERLIN)
    assert p.action == rules.REMIND
    assert p.chase_at == berlin(2026, 3, 3, 8, 0)


def test_a_ticket_due_at_night_waits_for_the_morning_and_is_not_dropped():
    now = berlin(2026, 3, 2, 23, 0)
    t = T(due_at=now - timedelta(hours=1))
    p = rules.plan(t, now, CADENCE, NIGHT, BERLIN)
    assert (p.action, p.chase_at, p.remind_count) == (rules.WAIT, berlin(2026, 3, 3, 8, 0), 0)
    morning = rules.plan(t, p.chase_at, CADENCE, NIGHT, BERLIN)
    assert morning.action == rules.REMIND


def test_a_snoozed_ticket_waits_until_the_snooze_ends():
    now = berlin(2026, 3, 2, 12, 0)
    t = T(due_at=now - timedelta(hours=3), snoozed_until=now + timedelta(minutes=40))
    p = rules.plan(t, now, CADENCE, NIGHT, BERLIN)
    assert (p.action, p.chase_at) == (rules.WAIT, now + timedelta(minutes=40))


@pytest.mark.parametrize("status", ["resolved", "closed", "cancelled"])
def test_a_finished_ticket_is_no_longer_chased(status):
    now = berlin(2026, 3, 2, 12, 0)
    p = rules.plan(T(status=status, due_at=now - timedelta(hours=1)), now, CADENCE, NIGHT, BERLIN)
    assert (p.action, p.chase_at) == (rules.STOP, None)


def test_a_ticket_waiting_for_information_is_not_chased_while_its_clock_is_paused():
    now = berlin(2026, 3, 2, 12, 0)
    t = T(status="waiting_for_info", due_at=now - timedelta(hours=1), paused_at=now)
    assert rules.plan(t, now, CADENCE, NIGHT, BERLIN).action == rules.STOP
    assert not is_overdue(t, now)


def test_every_chase_time_the_plan_returns_is_in_the_future():
    now = berlin(2026, 3, 2, 12, 0)
    cases = [
        T(due_at=now),
        T(due_at=now - timedelta(days=3)),
        T(due_at=now - timedelta(hours=1), snoozed_until=now + timedelta(seconds=1)),
        T(due_at=now - timedelta(hours=9), last_reminded_at=now - timedelta(hours=1)),
    ]
    for t in cases:
        for clock in (now, berlin(2026, 3, 2, 23, 0), berlin(2026, 3, 7, 9, 0)):
            p = rules.plan(t, clock, CADENCE, OFFICE, BERLIN)
            assert p.chase_at is None or p.chase_at > clock


def test_one_planner_for_a_whole_sweep_decides_each_ticket_as_if_alone():
    # The sweep plans thousands of tickets with one Planner, which remembers what depends only
    # on the moment; nothing it remembers may leak from one ticket into the next.
    now = berlin(2026, 3, 2, 12, 0)
    last = now - timedelta(hours=3)
    tickets = [
        T(due_at=now - timedelta(hours=1)),
        T(due_at=now - timedelta(hours=5), last_reminded_at=last, remind_count=3),
        T(
            due_at=now - timedelta(hours=5),
            last_reminded_at=last,
            remind_count=3,
            escalation_level=1,
        ),
        T(
            due_at=now - timedelta(hours=5),
            last_reminded_at=last,
            remind_count=3,
            acknowledged_at=last + timedelta(minutes=1),
        ),
        T(due_at=now - timedelta(hours=1), snoozed_until=now + timedelta(minutes=20)),
        T(due_at=now + timedelta(hours=1)),
        T(
            due_at=now - timedelta(hours=1),
            last_reminded_at=now - timedelta(minutes=30),
            remind_count=4,
        ),
        T(status="resolved", due_at=now - timedelta(hours=1)),
        T(due_at=now - timedelta(hours=1), paused_at=now - timedelta(minutes=5)),
    ]
    cadences = (CADENCE, rules.Cadence(), rules.Cadence(timedelta(minutes=30), None))
    for clock, settings in ((now, OFFICE), (berlin(2026, 3, 2, 22, 0), NIGHT)):
        planner = rules.Planner(clock, settings, BERLIN)
        for _ in range(2):  # the second round is answered from what the first remembered
            for t in tickets:
                for cadence in cadences:
                    assert planner.plan(t, cadence) == rules.plan(
                        t, clock, cadence, settings, BERLIN
                    )


def test_a_procedure_without_a_cadence_is_chased_with_the_defaults():
    assert rules.Cadence.of(None, None) == rules.Cadence(rules.DEFAULT_REMIND_EVERY, None)
    assert rules.Cadence.of(timedelta(hours=1), 4).escalate_after == 4


# --- escalation -----------------------------------------------------------------------------


def _run(t: T, start: datetime, reminders: int) -> list[int | None]:
    """Send `reminders` reminders on cadence without progress; the escalation of each."""
    escalations = []
    clock = start
    for _ in range(reminders):
        p = rules.plan(t, clock, CADENCE, Settings(), UTC)
        assert p.action == rules.REMIND
        escalations.append(p.escalate_to)
        t.last_reminded_at, t.remind_count = clock, p.remind_count
        t.escalation_level = p.escalate_to or p.escalation_level
        clock = p.chase_at
    return escalations


def test_escalation_comes_after_escalate_after_reminders_then_once_per_level():
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    t = T(due_at=start)
    assert _run(t, start, 6) == [None, None, 1, None, 2, None]
    assert t.escalation_level == 2


def test_progress_after_a_reminder_resets_the_count_and_the_level():
    start = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    t = T(due_at=start)
    _run(t, start, 3)
    assert (t.remind_count, t.escalation_level) == (3, 1)
    t.acknowledged_at = t.last_reminded_at + timedelta(minutes=5)
    p = rules.plan(t, t.last_reminded_at + timedelta(hours=2), CADENCE, Settings(), UTC)
    assert (p.remind_count, p.escalation_level, p.escalate_to) == (1, 0, None)


def test_a_change_to_the_ticket_counts_as_progress_but_a_snooze_does_not():
    last = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    t = T(due_at=last, last_reminded_at=last, remind_count=2)
    t.snoozed_until = last + timedelta(hours=1)
    assert not rules.progressed(t)
    t.updated_at = last + timedelta(minutes=1)  # assigned, status changed, edited
    assert rules.progressed(t)


def test_an_escalation_whose_send_failed_is_still_owed():
    last = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    t = T(due_at=last - timedelta(hours=6), last_reminded_at=last, remind_count=3)
    assert rules.pending_escalation(t, 2) == 1
    p = rules.plan(t, last + timedelta(minutes=1), CADENCE, Settings(), UTC)
    assert (p.action, p.escalate_to, p.chase_at) == (rules.WAIT, 1, last + timedelta(hours=2))
    assert rules.pending_escalation(replace(t, escalation_level=1), 2) is None


def test_no_escalation_when_the_procedure_has_none():
    assert rules.escalation_owed(50, None) == 0


# --- texts, grouping, the daily plan --------------------------------------------------------


@pytest.mark.parametrize(
    ("late", "text"),
    [
        (timedelta(seconds=20), "due now"),
        (timedelta(minutes=45), "45 minutes late"),
        (timedelta(hours=2, minutes=10), "2 hours 10 minutes late"),
        (timedelta(days=3, hours=4, minutes=5), "3 days 4 hours late"),
    ],
)
def test_lateness_is_said_in_words(late, text):
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert lines.late(now - late, now) == text


def test_a_ticket_only_just_due_is_not_late_yet():
    now = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
    assert rules.late_by(now - timedelta(seconds=59), now) is None
    assert rules.late_by(now - timedelta(minutes=1), now) == timedelta(minutes=1)


# --- what chasing writes on a ticket --------------------------------------------------------


@dataclass(frozen=True)
class Home:
    home_chat_id: int | None
    chat_id: int = 42


def test_a_ticket_is_chased_in_its_group_else_the_default_chat_else_where_it_began():
    assert rules.chased_in(Home(-100), default_chat=-200) == -100
    assert rules.chased_in(Home(None), default_chat=-200) == -200
    assert rules.chased_in(Home(None), default_chat=None) == 42


def test_a_sent_reminder_leaves_the_planned_count_level_and_next_chase_on_its_ticket():
    now = berlin(2026, 3, 2, 12, 0)
    t = T(
        due_at=now - timedelta(hours=5), last_reminded_at=now - timedelta(hours=2), remind_count=1
    )
    p = rules.plan(t, now, CADENCE, Settings(), BERLIN)
    assert rules.reminded(p, now) == rules.Reminded(
        last_reminded_at=now, remind_count=2, escalation_level=0, chase_at=now + timedelta(hours=2)
    )
    # Tickets left in the same state share one bulk UPDATE.
    assert len({rules.reminded(p, now), rules.reminded(p, now)}) == 1


def test_grouping_keeps_the_order_tickets_came_in():
    groups = rules.group_by([(1, "a"), (2, "b"), (3, "a")], key=lambda x: x[1])
    assert groups == {"a": [(1, "a"), (3, "a")], "b": [(2, "b")]}


def test_the_daily_plan_is_owed_from_its_time_on_working_days_only():
    at = time(9, 0)
    assert rules.daily_plan_day(berlin(2026, 3, 2, 8, 59), at, OFFICE, BERLIN) is None
    assert rules.daily_plan_day(berlin(2026, 3, 2, 9, 0), at, OFFICE, BERLIN) == date(2026, 3, 2)
    assert rules.daily_plan_day(berlin(2026, 3, 7, 10, 0), at, OFFICE, BERLIN) is None
    assert rules.daily_plan_day(berlin(2026, 3, 2, 10, 0), None, OFFICE, BERLIN) is None


def test_the_daily_plan_counts_by_status_and_assignee_and_lists_due_today_and_overdue():
    now = berlin(2026, 3, 2, 9, 0)
    tickets = [
        T(1, "open", now - timedelta(hours=2), assignee_name="Alice"),
        T(2, "in_progress", now + timedelta(hours=3), assignee_name="Alice"),
        T(3, "open", now + timedelta(hours=16)),  # 01:00 tomorrow: not today
        T(4, "in_progress", now - timedelta(days=1), assignee_name="Bob"),
        T(5, "waiting_for_info", now - timedelta(hours=1), paused_at=now),
        T(6, "resolved", now - timedelta(hours=5), assignee_name="Bob"),
    ]
    plan = rules.daily_plan(tickets, now, BERLIN)
    assert plan.total == 5
    assert plan.by_status == [("waiting_for_info", 1), ("open", 2), ("in_progress", 2)]
    assert plan.by_assignee == [("Alice", 2), (None, 2), ("Bob", 1)]
    assert [t.id for t in plan.overdue] == [4, 1]
    assert [t.id for t in plan.due_today] == [2]

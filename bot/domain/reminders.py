"""Overdue chasing, as pure rules: when a ticket is reminded, deferred, escalated or dropped.

Times are aware datetimes (UTC in the database); the wall-clock rules (quiet hours, working
days, "due today") are read in the team's time zone, so they follow daylight saving time.
`now` is always a parameter.

Progress: a ticket made progress when, after its last reminder, someone acknowledged it ("On
it") or changed it (assigned, status changed, edited: anything that moves `updated_at`). A
snooze is not progress. Progress resets the count of reminders without progress, and with it
the escalation level, so a ticket that stalls again escalates again from level 1.

Escalation: reminders are counted while there is no progress. The reminder sent after
`escalate_after` reminders without progress carries escalation level 1, the one after
2 x `escalate_after` level 2, and so on; each level is told to the leads once.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import NamedTuple, Protocol, TypeVar

from bot.domain import lifecycle
from bot.domain.ticket import is_chased, is_overdue

# A procedure without `sla.remind_every` is still chased (nothing open slips); these are also
# used when the procedure's file cannot be read.
DEFAULT_REMIND_EVERY = timedelta(hours=4)
DEFAULT_ESCALATE_AFTER = 3
SNOOZE = timedelta(hours=1)

REMIND = "remind"
WAIT = "wait"
STOP = "stop"

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)


class Schedule(Protocol):
    """When the bot may chase: `bot.config.RemindersConfig` has these attributes."""

    quiet_hours: tuple[time, time] | None
    working_days: tuple[int, ...]


class ChaseState(Protocol):
    """The chasing state of one ticket: `bot.db.models.Ticket` has these attributes."""

    status: str
    due_at: datetime | None
    paused_at: datetime | None
    updated_at: datetime
    snoozed_until: datetime | None
    last_reminded_at: datetime | None
    acknowledged_at: datetime | None
    remind_count: int
    escalation_level: int


@dataclass(frozen=True)
class Cadence:
    """How often a late ticket is reminded, and after how many reminders it escalates."""

    remind_every: timedelta = DEFAULT_REMIND_EVERY
    escalate_after: int | None = DEFAULT_ESCALATE_AFTER  # None: never escalate

    @classmethod
    def of(cls, remind_every: timedelta | None, escalate_after: int | None) -> Cadence:
        """A procedure's `sla.remind_every` / `sla.escalate_after`, defaults filled in."""
        every = remind_every if remind_every and remind_every > timedelta(0) else None
        after = escalate_after if escalate_after and escalate_after > 0 else None
        return cls(every or DEFAULT_REMIND_EVERY, after)


# --- quiet hours and working days ----------------------------------------------------------


def in_quiet_hours(local: time, quiet: tuple[time, time] | None) -> bool:
    """Whether a wall-clock time is inside `start-end` (a range may cross midnight)."""
    if quiet is None:
        return False
    start, end = quiet
    local = local.replace(tzinfo=None, fold=0)
    if start < end:
        return start <= local < end
    return local >= start or local < end


def is_allowed(now: datetime, settings: Schedule, tz: tzinfo) -> bool:
    """Whether the bot may chase at `now`: a working day, outside quiet hours."""
    local = now.astimezone(tz)
    if settings.working_days and local.weekday() not in settings.working_days:
        return False
    return not in_quiet_hours(local.time(), settings.quiet_hours)


def next_allowed(now: datetime, settings: Schedule, tz: tzinfo) -> datetime:
    """`now` if chasing is allowed then, else the first moment after it when it is.

    The moments where "not allowed" can turn into "allowed" are midnights and the ends of quiet
    hours, so those are the candidates, each turned into an absolute time in `tz` (a wall-clock
    time skipped by a DST change lands just after the change).
    """
    if is_allowed(now, settings, tz):
        return now
    local_today = now.astimezone(tz).date()
    starts = [time(0, 0)]
    if settings.quiet_hours is not None:
        starts.append(settings.quiet_hours[1])
    for offset in range(9):  # a week and a bit covers any set of working days
        day = local_today + timedelta(days=offset)
        for start in sorted(starts):
            candidate = _wall_clock(day, start, tz)
            if candidate > now and is_allowed(candidate, settings, tz):
                return candidate
    return now  # nothing is ever allowed (cannot happen with valid settings): do not stall


def _wall_clock(day: date, at: time, tz: tzinfo) -> datetime:
    """The absolute moment of a local date and time (normalised through UTC for DST gaps)."""
    return datetime.combine(day, at, tzinfo=tz).astimezone(UTC)


# --- reminders and escalation ---------------------------------------------------------------


def progressed(t: ChaseState) -> bool:
    """Whether the ticket was acknowledged or changed since its last reminder."""
    last = t.last_reminded_at
    if last is None:
        return False
    if t.acknowledged_at is not None and t.acknowledged_at > last:
        return True
    return t.updated_at is not None and t.updated_at > last


def reminder_moment(t: ChaseState, remind_every: timedelta) -> datetime | None:
    """When the next reminder is owed: at due, then `remind_every` after the last one, and
    never before a snooze ends. None when the ticket is not chased at all."""
    if not is_chased(t) or t.due_at is None:
        return None
    moment = t.due_at
    if t.last_reminded_at is not None:
        moment = max(moment, t.last_reminded_at + remind_every)
    if t.snoozed_until is not None:
        moment = max(moment, t.snoozed_until)
    return moment


def escalation_owed(reminders: int, escalate_after: int | None) -> int:
    """The level owed once `reminders` reminders without progress have been sent."""
    if not escalate_after or reminders <= 0:
        return 0
    return (reminders - 1) // escalate_after


@dataclass(frozen=True)
class Plan:
    """What the sweep does with one ticket whose chase time has come."""

    action: str  # REMIND, WAIT (only move chase_at) or STOP (no longer chased)
    chase_at: datetime | None  # the next time the sweep looks at it
    remind_count: int  # reminders without progress, after this action
    escalation_level: int  # the level already told, after any reset by progress
    escalate_to: int | None = None  # a level the leads are owed now


def plan(t: ChaseState, now: datetime, cadence: Cadence, settings: Schedule, tz: tzinfo) -> Plan:
    """Decide for one ticket at `now`. Every chase time it returns is after `now`, so a second
    sweep at the same moment finds nothing to do."""
    return Planner(now, settings, tz).plan(t, cadence)


class Planner:
    """`plan` for the many tickets of one sweep: what depends only on the moment (whether
    chasing is allowed now, the next allowed time after a cadence) is worked out once."""

    def __init__(self, now: datetime, settings: Schedule, tz: tzinfo):
        self.now = now
        self.settings = settings
        self.tz = tz
        self.allowed = is_allowed(now, settings, tz)
        self._next: dict[datetime, datetime] = {}
        # Reminded tickets with the same count, level and cadence get the same (frozen) plan.
        self._reminds: dict[tuple[Cadence, int, int], Plan] = {}

    def next_allowed(self, moment: datetime) -> datetime:
        found = self._next.get(moment)
        if found is None:
            found = self._next[moment] = next_allowed(moment, self.settings, self.tz)
        return found

    def plan(self, t: ChaseState, cadence: Cadence) -> Plan:
        now = self.now
        moment = reminder_moment(t, cadence.remind_every)
        if moment is None:
            return Plan(STOP, None, t.remind_count, t.escalation_level)
        if now < moment:
            owed = pending_escalation(t, cadence.escalate_after)
            if owed is not None and not self.allowed:
                # An escalation still owed (its send failed) waits for the morning, not the
                # reminder.
                return Plan(WAIT, self.next_allowed(now), t.remind_count, t.escalation_level)
            return Plan(WAIT, self.next_allowed(moment), t.remind_count, t.escalation_level, owed)
        if not self.allowed:
            return Plan(WAIT, self.next_allowed(now), t.remind_count, t.escalation_level)
        count, level = (0, 0) if progressed(t) else (t.remind_count, t.escalation_level)
        key = (cadence, count, level)
        found = self._reminds.get(key)
        if found is None:
            count += 1
            owed = escalation_owed(count, cadence.escalate_after)
            found = self._reminds[key] = Plan(
                REMIND,
                self.next_allowed(now + cadence.remind_every),
                count,
                level,
                owed if owed > level else None,
            )
        return found


def pending_escalation(t: ChaseState, escalate_after: int | None) -> int | None:
    """A level owed for reminders already sent but not yet told (e.g. its send failed)."""
    if progressed(t):
        return None
    owed = escalation_owed(t.remind_count, escalate_after)
    return owed if owed > t.escalation_level else None


def late_by(due_at: datetime, now: datetime) -> timedelta | None:
    """How late a ticket is; None while it is only just due (less than a minute)."""
    delta = now - due_at
    return None if delta < timedelta(minutes=1) else delta


# --- what chasing writes on a ticket ----------------------------------------------------------
# The sweep writes these for thousands of tickets at once, in a few bulk statements, so they are
# values to write rather than methods of the Ticket (each is named after the method it becomes).


class Chased(Protocol):
    """Where a ticket lives: `bot.domain.ticket.Ticket` has these attributes."""

    home_chat_id: int | None
    chat_id: int


def chased_in(t: Chased, default_chat: int | None) -> int:
    """Where a ticket is chased: its group, else the default team chat, else where it began."""
    if t.home_chat_id is not None:
        return t.home_chat_id
    return default_chat if default_chat is not None else t.chat_id


class Reminded(NamedTuple):
    """A ticket's chasing state once its reminder went out (`Ticket.reminded(plan, now)`).
    Tickets reminded in one sweep mostly share it, so it is hashable: one UPDATE each."""

    last_reminded_at: datetime
    remind_count: int
    escalation_level: int
    chase_at: datetime | None


def reminded(p: Plan, now: datetime) -> Reminded:
    """What a sent reminder, planned as `p`, leaves on its ticket."""
    return Reminded(now, p.remind_count, p.escalation_level, p.chase_at)


# --- grouping and the daily plan ------------------------------------------------------------


def group_by(items: Iterable[T], key: Callable[[T], K]) -> dict[K, list[T]]:
    """Items grouped by `key`, groups and items in the order first seen (one digest a chat)."""
    groups: dict[K, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    return groups


class PlannedTicket(Protocol):
    id: int
    status: str
    due_at: datetime | None
    paused_at: datetime | None
    assignee_name: str | None


@dataclass(frozen=True)
class DailyPlan:
    """One chat's morning overview: counts by status and assignee, due today, overdue."""

    day: date
    total: int
    by_status: list[tuple[str, int]]  # (status code, count), in lifecycle order
    by_assignee: list[tuple[str | None, int]]  # None: unassigned; largest first
    overdue: list  # tickets, most late first
    due_today: list  # tickets, soonest first


def daily_plan_day(now: datetime, at: time | None, settings: Schedule, tz: tzinfo) -> date | None:
    """The local date whose daily plan is owed at `now` (at or after `at` on a working day,
    outside quiet hours), or None."""
    if at is None or not is_allowed(now, settings, tz):
        return None
    local = now.astimezone(tz)
    if local.time().replace(tzinfo=None) < at:
        return None
    return local.date()


def daily_plan(tickets: Iterable[PlannedTicket], now: datetime, tz: tzinfo) -> DailyPlan:
    """Select and order what the daily plan shows for the active tickets of one chat."""
    active = [t for t in tickets if t.status in lifecycle.ACTIVE]
    local_today = now.astimezone(tz).date()
    tomorrow = _wall_clock(local_today + timedelta(days=1), time(0, 0), tz)
    statuses = Counter(t.status for t in active)
    assignees = Counter(t.assignee_name for t in active)
    overdue = sorted((t for t in active if is_overdue(t, now)), key=lambda t: (t.due_at, t.id))
    due_today = sorted(
        (t for t in active if is_chased(t) and t.due_at is not None and now <= t.due_at < tomorrow),
        key=lambda t: (t.due_at, t.id),
    )
    return DailyPlan(
        day=local_today,
        total=len(active),
        by_status=[(s, statuses[s]) for s in lifecycle.ACTIVE if statuses[s]],
        by_assignee=sorted(
            assignees.items(), key=lambda item: (-item[1], item[0] is None, item[0] or "")
        ),
        overdue=overdue,
        due_today=due_today,
    )

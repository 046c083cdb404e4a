"""Process metrics from the tickets table, aggregated in SQL; `docs/metrics.md` defines them.

Each query groups by (procedure, version) and returns a handful of rows; only the resolved
tickets' durations come back one per ticket, because a median needs them. Overall and
per-procedure figures are roll-ups of the per-version tallies (bot.domain.metrics).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Float, and_, case, cast, func, not_, or_, select
from sqlalchemy.orm import Session

from bot.db.models import ApprovalRequest, Ticket
from bot.domain.metrics import Metrics, Tally, WeekPoint, deltas, merged

Key = tuple[str, str]  # (procedure_id, procedure_version)

# A ticket is resolved while it is `resolved`, or `closed` as done (not self-served); its
# resolution time is resolved_at, or closed_at when it was closed without a resolve step.
_is_resolved = or_(
    Ticket.status == "resolved",
    and_(Ticket.status == "closed", func.coalesce(Ticket.close_reason, "done") == "done"),
)
_resolution = func.coalesce(Ticket.resolved_at, Ticket.closed_at)


def _seconds_between(dialect: str, start, end):
    """`end - start` in seconds, as SQL for this backend."""
    if dialect == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return cast(func.extract("epoch", end - start), Float)


@dataclass(frozen=True)
class VersionStats:
    version: str
    metrics: Metrics


@dataclass(frozen=True)
class ProcedureStats:
    procedure_id: str
    metrics: Metrics
    versions: tuple[VersionStats, ...]


@dataclass(frozen=True)
class Report:
    """The figures for [since, until): overall, per procedure, per procedure version."""

    since: datetime
    until: datetime
    overall: Metrics
    procedures: tuple[ProcedureStats, ...]
    previous: Report | None = None

    def procedure(self, procedure_id: str) -> ProcedureStats | None:
        return next((p for p in self.procedures if p.procedure_id == procedure_id), None)

    def as_dict(self) -> dict[str, Any]:
        """Plain data for `--format json`: each slice with `previous` and `delta` if compared."""
        prev = self.previous

        def block(metrics: Metrics, before: Metrics | None) -> dict[str, Any]:
            out: dict[str, Any] = {"metrics": metrics.as_dict()}
            if prev is not None:
                out["previous"] = before.as_dict() if before else None
                out["delta"] = deltas(metrics, before) if before else None
            return out

        procedures = []
        for p in self.procedures:
            before = prev.procedure(p.procedure_id) if prev else None
            old_versions = {v.version: v.metrics for v in before.versions} if before else {}
            procedures.append(
                {
                    "procedure_id": p.procedure_id,
                    **block(p.metrics, before.metrics if before else None),
                    "versions": [
                        {"version": v.version, **block(v.metrics, old_versions.get(v.version))}
                        for v in p.versions
                    ],
                }
            )
        data: dict[str, Any] = {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "overall": block(self.overall, prev.overall if prev else None),
            "procedures": procedures,
        }
        if prev is not None:
            data["previous_period"] = {
                "since": prev.since.isoformat(),
                "until": prev.until.isoformat(),
            }
        return data


def tallies(session: Session, since: datetime, until: datetime, now: datetime) -> dict[Key, Tally]:
    """Per (procedure, version) counts for [since, until), judged as of `now`."""
    dialect = session.get_bind().dialect.name
    out: dict[Key, Tally] = defaultdict(Tally)
    t = Ticket
    key = (t.procedure_id, t.procedure_version)

    opened = session.execute(
        select(*key, func.count(), func.sum(t.questions_asked), func.sum(t.invalid_answers))
        .where(t.opened_at >= since, t.opened_at < until)
        .group_by(*key)
    )
    for pid, version, count, questions, invalid in opened:
        tally = out[(pid, version)]
        tally.opened, tally.questions_asked, tally.invalid_answers = count, questions, invalid

    self_served = session.execute(
        select(*key, func.count())
        .where(t.close_reason == "self_served", t.closed_at >= since, t.closed_at < until)
        .group_by(*key)
    )
    for pid, version, count in self_served:
        out[(pid, version)].self_served = count

    resolved = session.execute(
        select(
            *key,
            _seconds_between(dialect, t.opened_at, _resolution),
            t.reopen_count > 0,
        ).where(
            _is_resolved,
            t.opened_at.is_not(None),
            _resolution >= since,
            _resolution < until,
        )
    )
    for pid, version, seconds, reworked in resolved:
        tally = out[(pid, version)]
        tally.resolve_seconds.append(max(float(seconds), 0.0))
        tally.reworked += bool(reworked)

    # Only due times that have passed can have been missed; a ticket whose clock was stopped
    # (waiting for info again) before it fell due is not judged until it runs again.
    cut = min(until, now)
    if cut > since:
        late = case((and_(_is_resolved, _resolution <= t.due_at), 0), else_=1)
        stopped = and_(not_(_is_resolved), t.paused_at.is_not(None), t.paused_at <= t.due_at)
        due = session.execute(
            select(*key, func.count(), func.sum(late))
            .where(
                t.opened_at.is_not(None),
                t.status != "cancelled",
                t.due_at >= since,
                t.due_at < cut,
                not_(stopped),
            )
            .group_by(*key)
        )
        for pid, version, count, late_count in due:
            tally = out[(pid, version)]
            tally.fell_due, tally.late = count, int(late_count or 0)
    decided = session.execute(
        select(
            t.procedure_id,
            ApprovalRequest.procedure_version,
            _seconds_between(dialect, ApprovalRequest.requested_at, ApprovalRequest.decided_at),
            ApprovalRequest.outcome,
        )
        .join(t, t.id == ApprovalRequest.ticket_id)
        .where(
            ApprovalRequest.outcome.in_(("approved", "rejected")),
            ApprovalRequest.decided_at >= since,
            ApprovalRequest.decided_at < until,
        )
    )
    for pid, version, seconds, outcome in decided:
        tally = out[(pid, version or "")]
        tally.approval_seconds.append(max(float(seconds), 0.0))
        tally.rejected += outcome == "rejected"
    return dict(out)


def report_from(tallies_by_key: dict[Key, Tally], since: datetime, until: datetime) -> Report:
    by_procedure: dict[str, dict[str, Tally]] = defaultdict(dict)
    for (pid, version), tally in tallies_by_key.items():
        by_procedure[pid][version] = tally
    procedures = []
    for pid in sorted(by_procedure):
        versions = by_procedure[pid]
        procedures.append(
            ProcedureStats(
                procedure_id=pid,
                metrics=merged(versions.values()).metrics(),
                versions=tuple(VersionStats(v, versions[v].metrics()) for v in sorted(versions)),
            )
        )
    return Report(
        since=since,
        until=until,
        overall=merged(tallies_by_key.values()).metrics(),
        procedures=tuple(procedures),
    )


def compute(session: Session, since: datetime, until: datetime, *, now: datetime) -> Report:
    """The metrics for [since, until)."""
    return report_from(tallies(session, since, until, now), since, until)


def compare_previous(
    session: Session, since: datetime, until: datetime, *, now: datetime
) -> Report:
    """The metrics for [since, until), with the same-length period just before it attached."""
    length = until - since
    current = compute(session, since, until, now=now)
    previous = compute(session, since - length, since, now=now)
    return Report(current.since, current.until, current.overall, current.procedures, previous)


# --- periods --------------------------------------------------------------------------------


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz)


def last_days(days: int, now: datetime, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The last `days` calendar days in the team's timezone, today included, up to `now`."""
    if days < 1:
        raise ValueError("days must be at least 1")
    today = now.astimezone(tz).date()
    return local_midnight(today - timedelta(days=days - 1), tz), now


def between_days(since: date, until: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """Local days `since`..`until`, both included, as [start, end) instants."""
    if until < since:
        raise ValueError("the end date is before the start date")
    return local_midnight(since, tz), local_midnight(until + timedelta(days=1), tz)


# --- weekly series for the chart -------------------------------------------------------------


def week_start(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weekly(session: Session, first: date, last: date, tz: ZoneInfo) -> list[WeekPoint]:
    """Opened, resolved and rework rate per local week, for the weeks holding `first`..`last`."""
    monday, end_monday = week_start(first), week_start(last)
    starts = [monday + timedelta(weeks=i) for i in range((end_monday - monday).days // 7 + 1)]
    since = local_midnight(monday, tz)
    until = local_midnight(end_monday + timedelta(weeks=1), tz)
    opened: dict[date, int] = dict.fromkeys(starts, 0)
    resolved: dict[date, int] = dict.fromkeys(starts, 0)
    reworked: dict[date, int] = dict.fromkeys(starts, 0)
    t = Ticket
    for (at,) in session.execute(
        select(t.opened_at).where(t.opened_at >= since, t.opened_at < until)
    ):
        opened[week_start(at.astimezone(tz).date())] += 1
    rows = session.execute(
        select(_resolution.label("at"), t.reopen_count > 0).where(
            _is_resolved, t.opened_at.is_not(None), _resolution >= since, _resolution < until
        )
    )
    for at, again in rows:
        week = week_start(at.astimezone(tz).date())
        resolved[week] += 1
        reworked[week] += bool(again)
    return [
        WeekPoint(s, opened[s], resolved[s], reworked[s] / resolved[s] if resolved[s] else None)
        for s in starts
    ]

"""Leads' review in chat: `/audit` timelines (paginated) and `/stats` with its weekly chart.

Timelines are read by keyset on the audit sequence number, so a page costs the same at the
start of the log as a million events in, and a page never shifts when new events arrive.
Buttons carry `a:<kind>:<key>:<cursor>`: kind `t` (ticket number), `u` (user id) or `d` (day,
YYYYMMDD in the team's timezone); cursor `<id>` for the events after that id, `b<id>` for the
events before it.

One module, a little over 400 lines: both commands are the leads' only window on the audit
trail, share its scopes and its lead-only checks, and change together.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.orm import Session

from bot.chart import weekly_chart
from bot.db.models import AuditEvent, Person
from bot.domain.comparison import MIN_TICKETS, RESAMPLES, SEED
from bot.domain.procedure import Procedure
from bot.domain.text import readable
from bot.procedures.store import ProcedureStore
from bot.render import current_language, render
from bot.services import audit, comparison, records, stats
from bot.services.buttons import Codec
from bot.services.context import Ctx, Registry
from bot.services.messages import Attachment, Button, Outcome, Reply
from bot.version_chart import versions_chart
from bot.words import field_label, field_value

PAGE_SIZE = 15
VERSION_PREFIX = 8
CALLBACK_PREFIX = "a"
TICKET, USER, DAY = "t", "u", "d"
DEFAULT_STATS_DAYS = 30
MAX_STATS_DAYS = 3660
CHART_WEEKS = 12
MAX_CHART_WEEKS = 104

_DIGITS = re.compile(r"^\d{1,19}$")
_KEY = {
    TICKET: re.compile(r"^\d{1,10}$"),
    USER: re.compile(r"^\d{1,19}$"),
    DAY: re.compile(r"^\d{8}$"),
}
_CURSOR = re.compile(r"^(b?)(\d{1,19})$")
_USERNAME = re.compile(r"^@([A-Za-z0-9_]{1,64})$")
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Line:
    """One event as a timeline shows it."""

    id: int
    at: datetime  # in the team's timezone
    who: str
    action: str
    ticket_id: int | None
    details: dict[str, Any]
    version: str | None  # the procedure version's first 8 characters
    procedure_id: str | None = None
    # The procedure as it is now, when it can be read: its labels and step titles name what the
    # event's details only hold as internal names.
    procedure: Procedure | None = field(default=None, compare=False, repr=False)
    tz: ZoneInfo | None = field(default=None, compare=False, repr=False)

    def label(self, name: object) -> str:
        """A field named in the details, as people read it."""
        return field_label(self.procedure, name)

    def step(self, step_id: object) -> str:
        """A step named in the details, by its title."""
        step = self.procedure.step(str(step_id)) if self.procedure else None
        return step.title if step is not None else readable(str(step_id or ""))

    def value(self, name: object, value: object) -> str:
        """A field's value in the details, in words (times in the team's zone, yes/no...)."""
        return field_value(self.procedure, name, value, self.tz)


@dataclass(frozen=True)
class Page:
    lines: tuple[Line, ...]
    earlier: int | None  # cursor `before` for the previous page, when there are earlier events
    later: int | None  # cursor `after` for the next page, when there are later events


@dataclass(frozen=True)
class Scope:
    """Which events a timeline shows: a ticket's, a person's, or a local day's."""

    kind: str
    key: int | date

    def conditions(self, tz: ZoneInfo) -> list[ColumnElement[bool]]:
        e = AuditEvent
        if self.kind == TICKET:
            return [e.ticket_id == self.key]
        if self.kind == USER:
            return [e.actor_id == self.key]
        assert isinstance(self.key, date)
        start = stats.local_midnight(self.key, tz)
        return [e.at >= start, e.at < stats.local_midnight(self.key + timedelta(days=1), tz)]

    @property
    def starts_latest(self) -> bool:
        """A person's timeline opens on their latest events; a ticket's or a day's at the start."""
        return self.kind == USER

    def data(self, cursor: str) -> str:
        key = self.key.strftime("%Y%m%d") if isinstance(self.key, date) else str(self.key)
        return f"{CALLBACK_PREFIX}:{self.kind}:{key}:{cursor}"


def ticket_scope(ticket_id: int) -> Scope:
    return Scope(TICKET, ticket_id)


def actor_scope(user_id: int) -> Scope:
    return Scope(USER, user_id)


def day_scope(day: date) -> Scope:
    return Scope(DAY, day)


def _line(row: AuditEvent, tz: ZoneInfo, procedure: Procedure | None) -> Line:
    details = row.details if isinstance(row.details, dict) else {"value": row.details}
    return Line(
        id=row.id,
        at=row.at.astimezone(tz),
        who=row.actor_name,
        action=row.action,
        ticket_id=row.ticket_id,
        details=details,
        version=row.procedure_version[:VERSION_PREFIX] if row.procedure_version else None,
        procedure_id=row.procedure_id,
        procedure=procedure,
        tz=tz,
    )


def _procedure(procedures: ProcedureStore | None, procedure_id: str | None) -> Procedure | None:
    # Removed or broken since: the trail still reads, by names made readable.
    if procedures is None or not procedure_id:
        return None
    return procedures.load_or_none(procedure_id, current_language())  # the reader's


def timeline(
    session: Session,
    scope: Scope,
    tz: ZoneInfo,
    *,
    after: int | None = None,
    before: int | None = None,
    limit: int | None = None,
    procedures: ProcedureStore | None = None,
) -> Page:
    """One page of the scope's events in id order: after `after`, before `before`, or the
    scope's natural start (the first page, or for a person the latest one)."""
    audit.flush(session)  # what this transaction has done so far is part of the trail
    e = AuditEvent
    limit = limit or PAGE_SIZE
    where = scope.conditions(tz)
    if after is None and before is None and not scope.starts_latest:
        after = 0
    if after is not None:
        rows = list(
            session.scalars(select(e).where(*where, e.id > after).order_by(e.id).limit(limit + 1))
        )
        more_later = len(rows) > limit
        rows = rows[:limit]
        more_earlier = bool(rows) and _any(session, where, e.id < rows[0].id)
    else:
        bound = _MAX_ID if before is None else before
        rows = list(
            session.scalars(
                select(e).where(*where, e.id < bound).order_by(e.id.desc()).limit(limit + 1)
            )
        )
        more_earlier = len(rows) > limit
        rows = rows[:limit][::-1]
        more_later = bool(rows) and _any(session, where, e.id > rows[-1].id)
    known: dict[str, Procedure | None] = {}  # each procedure read once per page
    for r in rows:
        if r.procedure_id and r.procedure_id not in known:
            known[r.procedure_id] = _procedure(procedures, r.procedure_id)
    lines = tuple(_line(r, tz, known.get(r.procedure_id or "")) for r in rows)
    return Page(
        lines=lines,
        earlier=lines[0].id if lines and more_earlier else None,
        later=lines[-1].id if lines and more_later else None,
    )


def _any(session: Session, where: list[ColumnElement[bool]], extra: ColumnElement[bool]) -> bool:
    return bool(session.scalar(select(exists().where(*where, extra))))


def ticket_timeline(session: Session, ticket_id: int, tz: ZoneInfo, **page: Any) -> Page:
    return timeline(session, ticket_scope(ticket_id), tz, **page)


def actor_timeline(session: Session, user_id: int, tz: ZoneInfo, **page: Any) -> Page:
    return timeline(session, actor_scope(user_id), tz, **page)


def day_timeline(session: Session, day: date, tz: ZoneInfo, **page: Any) -> Page:
    return timeline(session, day_scope(day), tz, **page)


def iter_timeline(
    session: Session,
    scope: Scope,
    tz: ZoneInfo,
    *,
    batch: int = 500,
    procedures: ProcedureStore | None = None,
) -> Iterator[Line]:
    """Every event of the scope from the first, a page at a time (for the command line)."""
    after = 0
    while True:
        page = timeline(session, scope, tz, after=after, limit=batch, procedures=procedures)
        yield from page.lines
        if page.later is None:
            return
        after = page.later


def resolve_actor(session: Session, text: str) -> int | None:
    """`@username` (as the bot last saw it) or a numeric user id -> the user id."""
    text = text.strip()
    if _DIGITS.match(text):
        return int(text)
    if not _USERNAME.match(text):
        return None
    person = records.person_by_username(session, text)
    return person.user_id if person else None


def person_name(session: Session, user_id: int) -> str | None:
    name = session.scalar(select(Person.name).where(Person.user_id == user_id))
    if name:
        return name
    return session.scalar(
        select(AuditEvent.actor_name)
        .where(AuditEvent.actor_id == user_id)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    )


# --- chat: /audit ---------------------------------------------------------------------------


def _scope_from_text(ctx: Ctx, text: str) -> Scope | str:
    """The scope `/audit <text>` asks for, or the name of the template that explains why not."""
    words = text.split()
    if not words:
        return "audit/usage.html"
    first = words[0].lower()
    if len(words) == 1 and re.fullmatch(r"#?\d{1,10}", first):
        return ticket_scope(int(first.lstrip("#")))
    if first in ("today", "yesterday") and len(words) == 1:
        today = ctx.now.astimezone(ctx.config.tz).date()
        return day_scope(today if first == "today" else today - timedelta(days=1))
    if len(words) == 1 and _ISO_DAY.match(first):
        try:
            return day_scope(date.fromisoformat(first))
        except ValueError:
            return "audit/usage.html"
    if first == "user" and len(words) == 2 and _DIGITS.match(words[1]):
        return actor_scope(int(words[1]))
    if len(words) == 1 and _USERNAME.match(words[0]):
        user_id = resolve_actor(ctx.session, words[0])
        return "audit/unknown_person.html" if user_id is None else actor_scope(user_id)
    return "audit/usage.html"


def _page_reply(ctx: Ctx, scope: Scope, page: Page, *, edit: bool) -> Reply:
    tz = ctx.config.tz
    row: list[Button] = []
    if page.earlier is not None:
        row.append(Button(render("audit/button_earlier.txt"), scope.data(f"b{page.earlier}")))
    if page.later is not None:
        row.append(Button(render("audit/button_later.txt"), scope.data(str(page.later))))
    person = person_name(ctx.session, scope.key) if scope.kind == USER else None
    text = render(
        "audit/timeline.html",
        scope_kind=scope.kind,
        key=scope.key,
        person=person,
        lines=page.lines,
        timezone=tz.key,
    )
    reply = Reply(
        chat_id=ctx.incoming.chat_id,
        text=text,
        buttons=(tuple(row),) if row else (),
        thread_id=ctx.incoming.thread_id,
        reply_to=None if edit or ctx.incoming.is_private else ctx.incoming.message_id,
        ticket_id=scope.key if scope.kind == TICKET else None,
        kind="audit",
        edit_message_id=ctx.incoming.callback_message_id if edit else None,
    )
    return ctx.send(reply)


def audit_command(ctx: Ctx, text: str) -> Outcome | None:
    """/audit N | @user | user ID | today | yesterday | YYYY-MM-DD: a timeline, paginated."""
    if not ctx.is_lead:
        ctx.say("audit/leads_only.html")
        return None
    scope = _scope_from_text(ctx, text)
    if isinstance(scope, str):
        ctx.say(scope, text=text.strip())
        return None
    page = timeline(ctx.session, scope, ctx.config.tz, procedures=ctx.procedures)
    if not page.lines:
        ctx.say("audit/empty.html", scope_kind=scope.kind, key=scope.key)
        return None
    _page_reply(ctx, scope, page, edit=False)
    return None


def parse_callback(parts: list[str]) -> tuple[Scope, int | None, int | None] | None:
    """`[kind, key, cursor]` from `a:kind:key:cursor` -> (scope, after, before); None if forged."""
    if len(parts) != 3:
        return None
    kind, key, cursor = parts
    pattern = _KEY.get(kind)
    m = _CURSOR.match(cursor)
    if pattern is None or not pattern.match(key) or m is None:
        return None
    position = int(m.group(2))
    if position > _MAX_ID:
        return None
    if kind == DAY:
        try:
            scope = day_scope(datetime.strptime(key, "%Y%m%d").date())
        except ValueError:
            return None
    else:
        scope = Scope(kind, int(key))
    if m.group(1):
        return scope, None, position
    return scope, position, None


@dataclass(frozen=True)
class AuditPage(Codec):
    """A timeline's Earlier/Later button, as pressed: `parse_callback` reads it, so that a
    damaged one is answered with the audit trail's own explanation."""

    prefix: ClassVar[str] = CALLBACK_PREFIX
    parts: tuple[str, ...]

    @classmethod
    def parse(cls, parts: list[str]) -> AuditPage | None:
        return cls(tuple(parts))


def _page_button(ctx: Ctx, pressed: AuditPage) -> Outcome | None:
    return audit_callback(ctx, list(pressed.parts))


def audit_callback(ctx: Ctx, parts: list[str]) -> Outcome | None:
    """A timeline's Earlier/Later button: show that page in place of the old one."""
    if not ctx.is_lead:
        ctx.say("audit/leads_only.html")
        return None
    parsed = parse_callback(parts)
    if parsed is None:
        ctx.say("audit/bad_button.html")
        return Outcome(toast=render("audit/bad_button_toast.txt"))
    scope, after, before = parsed
    page = timeline(
        ctx.session, scope, ctx.config.tz, after=after, before=before, procedures=ctx.procedures
    )
    if not page.lines:
        ctx.say("audit/stale_button.html")
        return Outcome(toast=render("audit/stale_button_toast.txt"))
    _page_reply(ctx, scope, page, edit=ctx.incoming.callback_message_id is not None)
    return None


# --- chat: /stats ---------------------------------------------------------------------------


def stats_command(ctx: Ctx, text: str) -> Outcome | None:
    """/stats [days] (with the previous period compared) or /stats chart [weeks]."""
    if not ctx.is_lead:
        ctx.say("audit/leads_only.html")
        return None
    words = text.split()
    tz = ctx.config.tz
    if words and words[0].lower() == "compare":
        if len(words) != 2:
            ctx.say("stats/usage.html", max_days=MAX_STATS_DAYS, max_weeks=MAX_CHART_WEEKS)
            return None
        send_comparison(ctx, words[1])
        return None
    if words and words[0].lower() == "chart":
        weeks = CHART_WEEKS
        if len(words) > 2 or (len(words) == 2 and not _DIGITS.match(words[1])):
            ctx.say("stats/usage.html", max_days=MAX_STATS_DAYS, max_weeks=MAX_CHART_WEEKS)
            return None
        if len(words) == 2:
            weeks = int(words[1])
            if not 1 <= weeks <= MAX_CHART_WEEKS:
                ctx.say("stats/usage.html", max_days=MAX_STATS_DAYS, max_weeks=MAX_CHART_WEEKS)
                return None
        send_chart(ctx, weeks)
        return None
    days = DEFAULT_STATS_DAYS
    if words:
        if (
            len(words) > 1
            or not _DIGITS.match(words[0])
            or not 1 <= int(words[0]) <= MAX_STATS_DAYS
        ):
            ctx.say("stats/usage.html", max_days=MAX_STATS_DAYS, max_weeks=MAX_CHART_WEEKS)
            return None
        days = int(words[0])
    since, until = stats.last_days(days, ctx.now, tz)
    report = stats.compare_previous(ctx.session, since, until, now=ctx.now)
    ctx.say("stats/report.html", report=report, days=days, **report_context(report, tz))
    return None


def report_context(report: stats.Report, tz: ZoneInfo) -> dict[str, Any]:
    """What the stats templates need besides the report: its period as local dates."""

    def days(since: datetime, until: datetime) -> tuple[date, date]:
        last = (until - timedelta(microseconds=1)).astimezone(tz)
        return since.astimezone(tz).date(), last.date()

    first_day, last_day = days(report.since, report.until)
    prev_first = prev_last = None
    if report.previous is not None:
        prev_first, prev_last = days(report.previous.since, report.previous.until)
    return {
        "first_day": first_day,
        "last_day": last_day,
        "prev_first": prev_first,
        "prev_last": prev_last,
        "timezone": tz.key,
    }


def compare_context() -> dict[str, Any]:
    """How the comparison was made, for its words."""
    return {"resamples": RESAMPLES, "seed": SEED, "min_n": MIN_TICKETS}


def send_comparison(ctx: Ctx, procedure_id: str) -> None:
    """/stats compare PROCEDURE: the versions' figures, the last change, and the chart."""
    found = comparison.versions(ctx.session, procedure_id.lower())
    ctx.say("stats/compare.html", c=found, **compare_context())
    if not found.versions:
        return
    ctx.send(
        Reply(
            chat_id=ctx.incoming.chat_id,
            text=render("stats/compare_caption.html", procedure=found.procedure),
            thread_id=ctx.incoming.thread_id,
            kind="stats",
            attachment=Attachment(
                "versions.png", versions_chart(found.procedure, found.versions), is_photo=True
            ),
        )
    )


def send_chart(ctx: Ctx, weeks: int) -> Reply:
    today = ctx.now.astimezone(ctx.config.tz).date()
    points = stats.weekly(ctx.session, today - timedelta(weeks=weeks - 1), today, ctx.config.tz)
    png = weekly_chart(points)
    reply = Reply(
        chat_id=ctx.incoming.chat_id,
        text=render("stats/chart_caption.html", weeks=weeks, first=points[0].start),
        thread_id=ctx.incoming.thread_id,
        reply_to=None if ctx.incoming.is_private else ctx.incoming.message_id,
        kind="stats",
        attachment=Attachment("stats.png", png, is_photo=True),
    )
    return ctx.send(reply)


def install(registry: Registry) -> None:
    """Wire /audit, its buttons, and /stats into the conversation engine."""
    registry.command("audit", audit_command, lead_only=True)
    registry.button(AuditPage, _page_button, lead_only=True)
    registry.command("stats", stats_command, lead_only=True)

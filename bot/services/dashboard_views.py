"""What the live view's pages show: open tickets by SLA risk, one ticket, metrics per procedure
version, the audit chain's state. Each takes the `Viewer` and never shows what they may not see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Select, String, cast, func, or_, select
from sqlalchemy.orm import Session

from bot.db.models import ApprovalRequest, Attachment, Ticket
from bot.domain import gate, lifecycle
from bot.domain.procedure import Procedure
from bot.procedures.store import ProcedureStore
from bot.services import records, review, stats, verify
from bot.services.live import Viewer
from bot.words import display, field_label

LIST_LIMIT = 500
TIMELINE_LIMIT = 500
DUE_SOON = timedelta(hours=2)

# SLA risk, most urgent first; the template names each.
OVERDUE, DUE_SOON_RISK, APPROVAL, PAUSED, ON_TRACK, NO_DUE = (
    "overdue",
    "due_soon",
    "approval",
    "paused",
    "on_track",
    "no_due",
)
RISKS = (OVERDUE, DUE_SOON_RISK, APPROVAL, PAUSED, ON_TRACK, NO_DUE)


@dataclass(frozen=True)
class Filters:
    """What the list is narrowed to (each empty means all)."""

    procedure: str = ""
    assignee: str = ""  # a user id, or "none" for unassigned
    chat: str = ""  # a chat id
    status: str = ""
    q: str = ""  # words in the title, or a ticket number

    @classmethod
    def of(cls, params: dict[str, str]) -> Filters:
        return cls(**{k: params.get(k, "").strip()[:100] for k in cls.__dataclass_fields__})

    def apply(self, query: Select) -> Select:
        t = Ticket
        if self.procedure:
            query = query.where(t.procedure_id == self.procedure)
        if self.assignee == "none":
            query = query.where(t.assignee_id.is_(None))
        elif self.assignee.lstrip("-").isdigit():
            query = query.where(t.assignee_id == int(self.assignee))
        if self.chat.lstrip("-").isdigit():
            chat = int(self.chat)
            query = query.where(or_(t.chat_id == chat, t.home_chat_id == chat))
        if self.status in lifecycle.ACTIVE:
            query = query.where(t.status == self.status)
        if self.q:
            words = self.q.lstrip("#")
            like = "%" + self.q.lower().replace("%", "").replace("_", "") + "%"
            title = func.lower(t.title).like(like)
            number = cast(t.id, String) == words if words.isdigit() else None
            query = query.where(or_(title, number) if number is not None else title)
        return query


@dataclass(frozen=True)
class Row:
    """An open ticket as the list shows it."""

    ticket: Ticket
    risk: str
    rank: str  # sorts rows by risk, then due time, then number (the page keeps this order)


def risk_of(t: Ticket, now: datetime, *, awaiting_approval: bool = False) -> str:
    """How much at risk a ticket is; late or nearly late comes before waiting for approval."""
    if t.status == lifecycle.WAITING:
        return PAUSED
    if t.due_at is not None and t.due_at < now:
        return OVERDUE
    if t.due_at is not None and t.due_at - now <= DUE_SOON:
        return DUE_SOON_RISK
    if awaiting_approval:
        return APPROVAL
    return NO_DUE if t.due_at is None else ON_TRACK


def awaiting_approval(session: Session, ids: list[int]) -> set[int]:
    """Which of these tickets wait for an approval decision (in their current round)."""
    if not ids:
        return set()
    query = (
        select(ApprovalRequest.ticket_id)
        .join(Ticket, Ticket.id == ApprovalRequest.ticket_id)
        .where(
            ApprovalRequest.ticket_id.in_(ids),
            ApprovalRequest.decided_at.is_(None),
            ApprovalRequest.round == Ticket.reopen_count,
        )
    )
    return set(session.scalars(query))


def _row(t: Ticket, now: datetime, awaiting: set[int] | frozenset[int] = frozenset()) -> Row:
    risk = risk_of(t, now, awaiting_approval=t.id in awaiting)
    due = t.due_at.timestamp() if t.due_at else 0.0
    return Row(t, risk, f"{RISKS.index(risk)}-{due:015.0f}-{t.id:010d}")


def _visible(viewer: Viewer, query: Select) -> Select:
    condition = viewer.tickets()
    return query if condition is None else query.where(condition)


def open_tickets(session: Session, viewer: Viewer, now: datetime, filters: Filters) -> list[Row]:
    """Active tickets the viewer may see, most at risk first."""
    query = filters.apply(
        _visible(viewer, select(Ticket).where(Ticket.status.in_(lifecycle.ACTIVE)))
    )
    tickets = session.execute(query.order_by(Ticket.id).limit(LIST_LIMIT)).scalars().all()
    awaiting = awaiting_approval(session, [t.id for t in tickets])
    return sorted((_row(t, now, awaiting) for t in tickets), key=lambda r: r.rank)


def open_row(
    session: Session, viewer: Viewer, number: int, now: datetime, filters: Filters
) -> Row | None:
    """One ticket as a list row, when it is active, visible and matches the filters."""
    query = filters.apply(
        _visible(
            viewer,
            select(Ticket).where(Ticket.id == number, Ticket.status.in_(lifecycle.ACTIVE)),
        )
    )
    t = session.execute(query).scalar_one_or_none()
    return _row(t, now, awaiting_approval(session, [t.id])) if t is not None else None


@dataclass(frozen=True)
class Choices:
    """The values the filters offer, from the tickets the viewer may see."""

    procedures: list[str]
    assignees: list[tuple[int, str]]
    chats: list[int]


def choices(session: Session, viewer: Viewer) -> Choices:
    base = _visible(viewer, select(Ticket).where(Ticket.status.in_(lifecycle.ACTIVE))).subquery()
    procedures = session.execute(
        select(base.c.procedure_id).distinct().order_by(base.c.procedure_id)
    )
    assignees = session.execute(
        select(base.c.assignee_id, func.max(base.c.assignee_name))
        .where(base.c.assignee_id.is_not(None))
        .group_by(base.c.assignee_id)
    )
    chats = session.execute(select(base.c.chat_id).distinct().order_by(base.c.chat_id))
    return Choices(
        procedures=[p for (p,) in procedures],
        assignees=sorted(((i, n or str(i)) for i, n in assignees), key=lambda a: a[1]),
        chats=[c for (c,) in chats],
    )


@dataclass(frozen=True)
class TicketPage:
    ticket: Ticket
    procedure: Procedure | None
    fields: list[tuple[str, str]]
    steps: list[tuple[str, str | None, datetime | None]]  # title, done by, done at
    attachments: list[Attachment]
    timeline: tuple[review.Line, ...]
    risk: str
    more_timeline: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def ticket_page(
    session: Session,
    viewer: Viewer,
    number: int,
    now: datetime,
    tz: ZoneInfo,
    procedures: ProcedureStore,
) -> TicketPage | None:
    """Everything about one ticket the viewer may see; None when unknown or not theirs."""
    t = session.execute(_visible(viewer, select(Ticket).where(Ticket.id == number))).scalar()
    if t is None:
        return None
    procedure = procedures.load_or_none(t.procedure_id)
    values = records.values_of(session, number)
    if procedure is not None:
        shown = [
            (s.label, display(s, v, tz)) for s, v in gate.visible_values(procedure.fields, values)
        ]
        known = {s.name for s in procedure.fields}
        shown += [
            (field_label(procedure, n), display(None, v, tz))
            for n, v in values.items()
            if n not in known
        ]
    else:
        shown = [(field_label(None, n), display(None, v, tz)) for n, v in values.items()]
    done = records.steps_done(session, number)
    steps: list[tuple[str, str | None, datetime | None]] = []
    for step in procedure.steps if procedure else ():
        if step.applies(values):
            d = done.get(step.id)
            steps.append(
                (step.title, d.done_by_name if d else None, d.done_at.astimezone(tz) if d else None)
            )
    files = list(
        session.execute(
            select(Attachment).where(Attachment.ticket_id == number).order_by(Attachment.id)
        ).scalars()
    )
    page = review.timeline(
        session,
        review.ticket_scope(number),
        tz,
        after=0,
        limit=TIMELINE_LIMIT,
        procedures=procedures,
    )
    return TicketPage(
        ticket=t,
        procedure=procedure,
        fields=shown,
        steps=steps,
        attachments=files,
        timeline=page.lines,
        risk=risk_of(t, now, awaiting_approval=bool(awaiting_approval(session, [t.id])))
        if t.is_active
        else "",
        more_timeline=page.later is not None,
    )


@dataclass(frozen=True)
class MetricsPage:
    report: stats.Report
    days: int
    weeks: list
    context: dict


def metrics(session: Session, now: datetime, tz: ZoneInfo, days: int) -> MetricsPage:
    """The `/stats` figures per procedure and version over the last `days` days."""
    since, until = stats.last_days(days, now, tz)
    report = stats.compare_previous(session, since, until, now=now)
    today = now.astimezone(tz).date()
    weeks = stats.weekly(session, today - timedelta(weeks=review.CHART_WEEKS - 1), today, tz)
    return MetricsPage(report, days, weeks, review.report_context(report, tz))


def chain_status(session: Session) -> verify.VerifyResult:
    """The audit chain recomputed from the first event."""
    return verify.verify_chain(session)

"""The overdue sweep: chase late tickets with one digest per chat, escalate, send the daily plan.

Exactly once, in three steps:

1. Claim. One transaction takes every due ticket (`chase_at <= now`, through the partial index
   `ix_tickets_chase_at`; `FOR UPDATE SKIP LOCKED` on PostgreSQL, the writer lock taken at BEGIN
   on SQLite), decides for each (remind, defer, stop) and leases the ones to remind by moving
   their `chase_at` to `now + LEASE`. Once that commits no other sweeper sees them as due.
2. Send one digest per chat, holding no lock, so people pressing buttons never wait on Telegram.
3. Record. For each digest Telegram accepted: `last_reminded_at`, `remind_count`, the next
   `chase_at`, a `Reminder` row and one `reminder.sent` audit event per ticket, in one
   transaction. A digest that failed is released (due again), so the next sweep retries it.

The gap: a crash after Telegram took a digest and before its record committed sends that digest
again once the lease ends (records are committed at least every RECORD_EVERY, so that is the
digest in flight, or a fraction of a second's worth when sends are very fast). A crash before
sending only delays the claimed tickets by the lease; nothing is dropped.

The chat side (`install`) adds the digest's buttons: "On it", "Snooze 1 h" and "Show".
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections import namedtuple
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import (
    ColumnElement,
    Integer,
    any_,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.config import Config
from bot.db.models import ACTIVE_STATUSES, Reminder, Ticket, tickets
from bot.domain import reminders as rules
from bot.domain.actors import SYSTEM
from bot.procedures.errors import ProcedureError
from bot.render import TELEGRAM_LIMIT, render
from bot.services import audit, records
from bot.services import buttons as data
from bot.services import tickets as ticket_commands
from bot.services.context import Ctx, Registry
from bot.services.database import Database
from bot.services.messages import Button, Outcome, Reply
from bot.words import lateness

log = logging.getLogger(__name__)

BATCH = 20_000  # due tickets looked at in one sweep; the rest wait for the next one
LEASE = timedelta(minutes=10)  # a claimed ticket is not due for other sweepers for this long
SEND_BUDGET = LEASE / 2  # stop sending (and release) well before a claim could expire
RECORD_EVERY = timedelta(milliseconds=200)  # sent digests are committed at least this often
DIGEST_LIMIT = 30  # tickets in one digest (3 buttons each; Telegram allows 100 buttons)
ESCALATION_BUTTONS = 30


class Sender(Protocol):
    """Sends one message; returns its message id and raises when it was not sent."""

    def send(self, reply: Reply) -> int: ...


class ProcedureSource(Protocol):
    def load(self, procedure_id: str) -> Any: ...


@dataclass(frozen=True)
class Sent:
    """A message the sweep sent (or, in a dry run, would send)."""

    chat_id: int
    kind: str  # digest, escalation, daily
    ticket_ids: tuple[int, ...]
    text: str
    message_id: int | None = None


@dataclass(frozen=True)
class Failed:
    chat_id: int
    kind: str
    ticket_ids: tuple[int, ...]
    error: str


@dataclass
class SweepReport:
    now: datetime
    dry_run: bool = False
    sent: list[Sent] = field(default_factory=list)
    failed: list[Failed] = field(default_factory=list)
    reminded: int = 0  # tickets in the digests sent
    escalated: int = 0  # tickets whose escalation level was raised
    deferred: int = 0  # tickets whose chase moved without a reminder (quiet hours, snooze)
    stopped: int = 0  # tickets no longer chased (finished or paused)
    # Wall time of each phase: claim, send (recording included), record, escalate, daily.
    seconds: dict[str, float] = field(default_factory=dict)

    def of_kind(self, kind: str) -> list[Sent]:
        return [s for s in self.sent if s.kind == kind]

    @property
    def digests(self) -> list[Sent]:
        return self.of_kind("digest")


@dataclass(frozen=True)
class _Owed:
    ticket_id: int
    level: int
    chat_id: int


# --- the sweep ------------------------------------------------------------------------------


def sweep(
    db: Database,
    config: Config,
    procedures: ProcedureSource | None,
    sender: Sender,
    now: datetime,
    dry_run: bool = False,
) -> SweepReport:
    """One pass: digests to every chat with due tickets, escalations, the daily plans."""
    report = SweepReport(now=now, dry_run=dry_run)
    cadence_for = _cadences(procedures)
    with _phase(report, "claim"):
        digests, owed = _claim_due(db, config, cadence_for, now, dry_run, report)
    with _phase(report, "send"):
        owed += _send_digests(db, sender, now, dry_run, digests, report)
    if owed:
        with _phase(report, "escalate"):
            _escalate(db, config, cadence_for, sender, now, dry_run, owed, report)
    with _phase(report, "daily"):
        _daily_plans(db, config, sender, now, dry_run, report)
    return report


@contextmanager
def _phase(report: SweepReport, name: str) -> Iterator[None]:
    started = time.perf_counter()
    try:
        yield
    finally:
        report.seconds[name] = report.seconds.get(name, 0.0) + time.perf_counter() - started


def _chat_of(t, default_chat: int | None) -> int:
    """Where a ticket is chased: its group, else the default team chat, else where it began."""
    if t.home_chat_id is not None:
        return t.home_chat_id
    return default_chat if default_chat is not None else t.chat_id


def _cadences(procedures: ProcedureSource | None) -> Callable[[str], rules.Cadence]:
    """The procedure's reminder cadence, read once per sweep; defaults when it cannot be read."""
    known: dict[str, rules.Cadence] = {}

    def cadence_for(procedure_id: str) -> rules.Cadence:
        if procedure_id not in known:
            cadence = rules.Cadence()
            if procedures is not None:
                try:
                    sla = procedures.load(procedure_id).sla
                    cadence = rules.Cadence.of(sla.remind_every, sla.escalate_after)
                except (ProcedureError, OSError) as e:
                    log.warning(
                        "procedure %s unreadable, chasing with defaults: %s", procedure_id, e
                    )
            known[procedure_id] = cadence
        return known[procedure_id]

    return cadence_for


@contextmanager
def _unit(db: Database, dry_run: bool) -> Iterator[Session]:
    """A write transaction, or for a dry run a read-only one that changes nothing."""
    if dry_run:
        with db.reading() as session:
            yield session
    else:
        with db.transaction() as session:
            yield session


def _claim(query, dry_run: bool):
    # SKIP LOCKED: rows another sweeper (or a person pressing a button) holds are left to them.
    return query if dry_run else query.with_for_update(skip_locked=True)


@dataclass
class _Digest:
    """One chat's claimed tickets and the digest that lists them."""

    chat_id: int
    tickets: list  # rows of _CHASE_COLUMNS, most late first
    plans: dict[int, rules.Plan]
    text: str
    late: dict[int, str]  # ticket id -> "2h 10m late", as the digest says it

    @property
    def ticket_ids(self) -> tuple[int, ...]:
        return tuple(t.id for t in self.tickets)


def _claim_due(
    db: Database,
    config: Config,
    cadence_for: Callable[[str], rules.Cadence],
    now: datetime,
    dry_run: bool,
    report: SweepReport,
) -> tuple[list[_Digest], list[_Owed]]:
    """In one transaction: take every due ticket, decide for each, and lease the ones to remind.

    The lease (`chase_at = now + LEASE`) is the claim: once it commits, no other sweeper sees
    those tickets as due. Deferred and finished tickets get their new chase time here.
    """
    settings, tz = config.reminders, config.tz
    default_chat = config.default_chat.id if config.default_chat else None
    digests: list[_Digest] = []
    owed: list[_Owed] = []
    with _unit(db, dry_run) as session:
        query = (
            select(*_CHASE_COLUMNS)
            .where(_TICKETS.c.chase_at.is_not(None), _TICKETS.c.chase_at <= now)
            .order_by(_TICKETS.c.chase_at)
            .limit(BATCH)
        )
        # Plain named tuples: a Row's attribute access costs far more, and each is read ~20 times.
        rows = [_Chase._make(r) for r in session.execute(_claim(query, dry_run))]
        planner = rules.Planner(now, settings, tz)
        plans = {t.id: planner.plan(t, cadence_for(t.procedure_id)) for t in rows}
        moved: dict[datetime | None, list[int]] = {}
        leased: list[int] = []
        for t in rows:
            p = plans[t.id]
            if p.action == rules.STOP:
                report.stopped += 1
            elif p.action == rules.WAIT:
                report.deferred += 1
                if p.escalate_to is not None:
                    owed.append(_Owed(t.id, p.escalate_to, _chat_of(t, default_chat)))
            if p.action != rules.REMIND:
                moved.setdefault(p.chase_at, []).append(t.id)
        due = [t for t in rows if plans[t.id].action == rules.REMIND]
        for chat_id, tickets in rules.group_by(due, lambda t: _chat_of(t, default_chat)).items():
            tickets.sort(key=lambda t: (t.due_at, t.id))
            listed, text, late = _fit_digest(tickets, now)
            # Tickets beyond one message stay due and lead the next sweep's digest.
            if listed:
                chosen = {t.id: plans[t.id] for t in listed}
                digests.append(_Digest(chat_id, listed, chosen, text, late))
                leased += [t.id for t in listed]
        if not dry_run:
            for chase_at, ids in moved.items():
                _set(session, ids, chase_at=chase_at)
            _set(session, leased, chase_at=now + LEASE)
    return digests, owed


def _send_digests(
    db: Database,
    sender: Sender,
    now: datetime,
    dry_run: bool,
    digests: list[_Digest],
    report: SweepReport,
) -> list[_Owed]:
    """Send each chat's digest; record the sent ones, release the others for the next sweep."""
    owed: list[_Owed] = []
    if dry_run:
        for d in digests:
            report.sent.append(Sent(d.chat_id, "digest", d.ticket_ids, d.text))
            report.reminded += len(d.tickets)
            owed += _owed_by(d)
        return owed
    book = _Book(db, now, report)
    started = time.monotonic()
    position = 0
    try:
        for position, d in enumerate(digests):  # noqa: B007 (read in `finally`)
            if time.monotonic() - started > SEND_BUDGET.total_seconds():
                # Past half the lease another sweeper could take these over: leave them to it.
                report.failed.append(Failed(d.chat_id, "digest", d.ticket_ids, "out of time"))
                book.release(d)
                continue
            reply = Reply(
                chat_id=d.chat_id, text=d.text, buttons=_digest_buttons(d.tickets), kind="digest"
            )
            try:
                message_id = sender.send(reply)
            except Exception as e:  # any failure of the transport: release, retry next sweep
                log.warning("digest to chat %s not sent, retried next sweep: %s", d.chat_id, e)
                report.failed.append(Failed(d.chat_id, "digest", d.ticket_ids, str(e)))
                book.release(d)
                continue
            book.sent(d, message_id)
            owed += _owed_by(d)
        position = len(digests)
    finally:
        # Interrupted (shutdown, a crash in the sender): what was sent is recorded, what was
        # not tried yet is due again; the one in flight keeps its lease (it may have arrived).
        for d in digests[position + 1 :]:
            book.release(d)
        book.flush()
    return owed


def _owed_by(d: _Digest) -> list[_Owed]:
    return [
        _Owed(t.id, d.plans[t.id].escalate_to, d.chat_id)
        for t in d.tickets
        if d.plans[t.id].escalate_to is not None
    ]


class _Book:
    """Records sent digests (state, Reminder row, audit) and releases unsent claims.

    Records are committed as soon as a send took longer than RECORD_EVERY, and otherwise in
    batches: when sends are quick (many chats), one transaction records many digests, so each
    ticket page is written once instead of once per chat.
    """

    def __init__(self, db: Database, now: datetime, report: SweepReport):
        self.db = db
        self.now = now
        self.report = report
        self.done: list[tuple[_Digest, int]] = []
        self.released: list[_Digest] = []
        self.since: float | None = None

    def sent(self, d: _Digest, message_id: int) -> None:
        self.done.append((d, message_id))
        self.report.sent.append(Sent(d.chat_id, "digest", d.ticket_ids, d.text, message_id))
        self.report.reminded += len(d.tickets)
        self._maybe_flush()

    def release(self, d: _Digest) -> None:
        self.released.append(d)
        self._maybe_flush()

    def _maybe_flush(self) -> None:
        if self.since is None:
            self.since = time.monotonic()
        if time.monotonic() - self.since >= RECORD_EVERY.total_seconds():
            self.flush()

    def flush(self) -> None:
        if not self.done and not self.released:
            return
        now, lease = self.now, self.now + LEASE
        with _phase(self.report, "record"), self.db.transaction() as session:
            for d in self.released:
                # Back to due, unless someone changed the ticket meanwhile (snoozed, resolved).
                session.execute(
                    update(_TICKETS)
                    .where(_among(session, d.ticket_ids), _TICKETS.c.chase_at == lease)
                    .values(chase_at=now)
                )
            groups: dict[tuple, list[int]] = {}
            reminders, events = [], []
            for d, message_id in self.done:
                for t in d.tickets:
                    p = d.plans[t.id]
                    groups.setdefault((p.chase_at, p.remind_count, p.escalation_level), []).append(
                        t.id
                    )
                    events.append(
                        _event(
                            t,
                            "reminder.sent",
                            chat_id=d.chat_id,
                            message_id=message_id,
                            reminder=p.remind_count,
                            late=d.late[t.id],
                        )
                    )
                counts = [(t.id, d.plans[t.id].remind_count) for t in d.tickets]
                reminders.append(
                    {
                        "chat_id": d.chat_id,
                        "kind": "digest",
                        "ticket_ids": list(d.ticket_ids),
                        "dedupe_key": _dedupe("digest", d.chat_id, now, counts),
                        "message_id": message_id,
                        "sent_at": now,
                    }
                )
            for (chase_at, remind_count, level), ids in groups.items():
                _set(
                    session,
                    ids,
                    last_reminded_at=now,
                    remind_count=remind_count,
                    escalation_level=level,
                    chase_at=chase_at,
                )
            if reminders:
                session.execute(insert(Reminder.__table__), reminders)
            _record_many(session, now, events)
        self.done, self.released, self.since = [], [], None


_TICKETS = tickets
# What the sweep reads of a ticket: its chasing state and what a digest shows. Table columns,
# not ORM attributes: plain rows are all the sweep needs, and they skip the ORM's loading.
_CHASE_COLUMNS = tuple(
    _TICKETS.c[name]
    for name in (
        "id",
        "procedure_id",
        "procedure_version",
        "title",
        "status",
        "due_at",
        "paused_at",
        "updated_at",
        "snoozed_until",
        "last_reminded_at",
        "acknowledged_at",
        "remind_count",
        "escalation_level",
        "assignee_id",
        "assignee_name",
        "home_chat_id",
        "chat_id",
    )
)
_Chase = namedtuple("_Chase", [c.key for c in _CHASE_COLUMNS])


def _set(session: Session, ids: list[int], **values: Any) -> None:
    """Set the same values on many tickets in one statement (most reminders share them)."""
    if ids:
        session.execute(update(_TICKETS).where(_among(session, ids)).values(**values))


def _among(session: Session, ids: list[int] | tuple[int, ...]) -> ColumnElement[bool]:
    """`tickets.id IN ids` with the ids as one bound value (PostgreSQL: an array; SQLite: a
    JSON array read by json_each), not one placeholder each: for 5,000 ids, building, sending
    and parsing the placeholders took a third of the UPDATE's time on PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return _TICKETS.c.id == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(Integer)))
    listed = func.json_each(json.dumps(list(ids))).table_valued("value")
    return _TICKETS.c.id.in_(select(listed.c.value))


def _fit_digest(due: list, now: datetime) -> tuple[list, str, dict[int, str]]:
    """The tickets one digest lists (most late first) and its text, within Telegram's limit.
    Tickets left out stay due and lead the next sweep's digest."""
    count = min(len(due), DIGEST_LIMIT)
    lines = [_line(t, now) for t in due[:count]]
    while count > 0:
        listed = due[:count]
        text = render("reminders/digest.html", tickets=lines[:count], more=len(due) - count)
        if len(text) <= TELEGRAM_LIMIT:
            return listed, text, {line["id"]: line["late"] for line in lines[:count]}
        count -= 5
    return [], "", {}


def _line(t, now: datetime) -> dict[str, Any]:
    return {
        "id": t.id,
        "title": t.title,
        "assignee_id": t.assignee_id,
        "assignee_name": t.assignee_name,
        "late": lateness(t.due_at, now) if t.due_at else "",
        "reminders": t.remind_count,
        "level": t.escalation_level,
    }


def _digest_buttons(tickets: list) -> tuple[tuple[Button, ...], ...]:
    return tuple(
        (
            Button(data.label("on_it", number=t.id), data.Chase("on", t.id).encode()),
            Button(data.label("snooze"), data.Chase("sn", t.id).encode()),
            Button(data.label("show"), data.Chase("sh", t.id).encode()),
        )
        for t in tickets
    )


def _escalation_targets(config: Config) -> list[int]:
    """The leads: in the default team chat, else each lead privately."""
    return [config.chats[0].id] if config.chats else sorted(config.leads)


def _escalate(
    db: Database,
    config: Config,
    cadence_for: Callable[[str], rules.Cadence],
    sender: Sender,
    now: datetime,
    dry_run: bool,
    owed: list[_Owed],
    report: SweepReport,
) -> None:
    """Tell the leads about tickets owed an escalation level, in one message per recipient."""
    targets = _escalation_targets(config)
    levels = {o.ticket_id: o for o in owed}
    names = {c.id: c.name for c in config.chats}
    with _unit(db, dry_run) as session:
        query = select(Ticket).where(_among(session, list(levels)))
        query = query.order_by(Ticket.due_at, Ticket.id)
        tickets = session.scalars(_claim(query, dry_run)).all()
        if not dry_run:
            # Re-check on the locked rows: another sweeper or a person may have been first.
            checked = {
                t.id: rules.pending_escalation(t, cadence_for(t.procedure_id).escalate_after)
                for t in tickets
            }
            tickets = [t for t in tickets if checked[t.id] is not None]
            level_of = {t.id: checked[t.id] for t in tickets}
        else:
            level_of = {t.id: levels[t.id].level for t in tickets}
        if not tickets:
            return
        items = [
            _line(t, now) | {"level": level_of[t.id], "chat": names.get(levels[t.id].chat_id)}
            for t in tickets
        ]
        text = render("reminders/escalation.html", tickets=items)
        buttons = tuple(
            (Button(data.label("show_ticket", number=t.id), data.Chase("sh", t.id).encode()),)
            for t in tickets[:ESCALATION_BUTTONS]
        )
        ticket_ids = tuple(t.id for t in tickets)
        if dry_run:
            report.sent += [Sent(chat, "escalation", ticket_ids, text) for chat in targets]
            report.escalated += len(tickets)
            return
        delivered: list[tuple[int, int]] = []
        for chat in targets:
            try:
                message_id = sender.send(
                    Reply(chat_id=chat, text=text, buttons=buttons, kind="escalation")
                )
            except Exception as e:  # this recipient failed; the others may still be told
                log.warning("escalation to chat %s not sent: %s", chat, e)
                report.failed.append(Failed(chat, "escalation", ticket_ids, str(e)))
                continue
            delivered.append((chat, message_id))
            report.sent.append(Sent(chat, "escalation", ticket_ids, text, message_id))
        if targets and not delivered:
            # Nobody was told: look at these tickets again at the next sweep.
            for t in tickets:
                t.chase_at = now
            return
        if not targets:
            log.warning("escalation owed but no team chat or lead is configured; recorded only")
        for chat, message_id in delivered:
            session.add(
                Reminder(
                    chat_id=chat,
                    kind="escalation",
                    ticket_ids=list(ticket_ids),
                    dedupe_key=_dedupe(
                        "escalation", chat, now, [(t.id, level_of[t.id]) for t in tickets]
                    ),
                    message_id=message_id,
                    sent_at=now,
                )
            )
        events = []
        for t in tickets:
            t.escalation_level = level_of[t.id]
            events.append(
                _event(
                    t,
                    "reminder.escalated",
                    level=level_of[t.id],
                    reminders=t.remind_count,
                    chats=[chat for chat, _ in delivered],
                )
            )
        _record_many(session, now, events)
        report.escalated += len(tickets)


class _NotSent(Exception):
    """Rolls back a daily plan's claim when its message could not be sent."""


def _daily_plans(
    db: Database, config: Config, sender: Sender, now: datetime, dry_run: bool, report: SweepReport
) -> None:
    """Each team chat's daily plan, once per local day, at `reminders.daily_digest`."""
    tz = config.tz
    day = rules.daily_plan_day(now, config.reminders.daily_digest, config.reminders, tz)
    if day is None:
        return
    for index, chat in enumerate(config.chats):
        key = f"daily:{chat.id}:{day.isoformat()}"
        try:
            with _unit(db, dry_run) as session:
                if not _claim_daily(session, key, chat.id, now, dry_run):
                    continue
                query = select(Ticket).where(
                    Ticket.status.in_(ACTIVE_STATUSES), Ticket.opened_at.is_not(None)
                )
                mine = Ticket.home_chat_id == chat.id
                # The default chat also holds tickets started privately (no home chat).
                if index == 0:
                    mine = or_(mine, Ticket.home_chat_id.is_(None))
                tickets = session.scalars(query.where(mine)).all()
                daily = rules.daily_plan(tickets, now, tz)
                text = render(
                    "reminders/daily_plan.html",
                    plan=daily,
                    overdue=[_line(t, now) for t in daily.overdue[:DIGEST_LIMIT]],
                    due_today=[
                        _line(t, now) | {"due": t.due_at.astimezone(tz).strftime("%H:%M")}
                        for t in daily.due_today[:DIGEST_LIMIT]
                    ],
                    more_overdue=max(0, len(daily.overdue) - DIGEST_LIMIT),
                    more_due_today=max(0, len(daily.due_today) - DIGEST_LIMIT),
                )
                ticket_ids = tuple(t.id for t in tickets)
                if dry_run:
                    report.sent.append(Sent(chat.id, "daily", ticket_ids, text))
                    continue
                try:
                    message_id = sender.send(Reply(chat_id=chat.id, text=text, kind="daily"))
                except Exception as e:
                    raise _NotSent(str(e)) from e
                session.execute(
                    update(Reminder)
                    .where(Reminder.dedupe_key == key)
                    .values(message_id=message_id, ticket_ids=list(ticket_ids))
                )
                _record_many(
                    session,
                    now,
                    [
                        {
                            "action": "reminder.daily_plan",
                            "ticket_id": None,
                            "details": {
                                "chat_id": chat.id,
                                "day": day.isoformat(),
                                "message_id": message_id,
                                "open": daily.total,
                                "overdue": len(daily.overdue),
                                "due_today": len(daily.due_today),
                            },
                        }
                    ],
                )
                report.sent.append(Sent(chat.id, "daily", ticket_ids, text, message_id))
        except _NotSent as e:
            log.warning("daily plan for chat %s not sent, retried next sweep: %s", chat.id, e)
            report.failed.append(Failed(chat.id, "daily", (), str(e)))


def _claim_daily(session: Session, key: str, chat_id: int, now: datetime, dry_run: bool) -> bool:
    """Take the day's plan for this chat; False when it was sent (or is being sent) already.

    The unique `dedupe_key` is the claim: a second sweeper's insert waits for the first one's
    transaction and then does nothing.
    """
    if dry_run:
        exists = session.scalar(select(Reminder.id).where(Reminder.dedupe_key == key))
        return exists is None
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    claimed = session.execute(
        dialect.insert(Reminder)
        .values(chat_id=chat_id, kind="daily", ticket_ids=[], dedupe_key=key, sent_at=now)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(Reminder.id)
    ).scalar()
    return claimed is not None


def _dedupe(kind: str, chat_id: int, now: datetime, items: list[tuple[int, int]]) -> str:
    """The same reminder of the same tickets at the same moment is refused by the database."""
    digest = hashlib.sha256(repr(sorted(items)).encode()).hexdigest()[:16]
    return f"{kind}:{chat_id}:{now.isoformat()}:{digest}"


def _event(t, action: str, **details: Any) -> dict[str, Any]:
    return {
        "action": action,
        "ticket_id": t.id,
        "details": details,
        "procedure_id": t.procedure_id,
        "procedure_version": t.procedure_version,
    }


def _record_many(session: Session, now: datetime, events: list[dict[str, Any]]) -> None:
    """Audit events by the bot itself, in one go (a sweep may audit thousands)."""
    if events:
        audit.record_many(session, now=now, actor=SYSTEM, events=events)


# --- the buttons under a digest -------------------------------------------------------------


def install(registry: Registry) -> None:
    """The digest's buttons: `r:on:<id>`, `r:sn:<id>`, `r:sh:<id>`."""
    registry.button(data.Chase, on_button)


def on_button(ctx: Ctx, pressed: data.Chase) -> Outcome | None:
    """A press of "On it", "Snooze 1 h" or "Show" under a digest."""
    ticket = records.lock_ticket(ctx.session, pressed.ticket)
    if ticket is None:
        return _toast("gone", number=pressed.ticket)
    if pressed.action == "sh":
        show(ctx, ticket)
        return None
    if not ticket.is_active:
        return _toast("not_chased", number=ticket.id, status=ticket.status)
    return on_it(ctx, ticket) if pressed.action == "on" else snooze(ctx, ticket)


def on_it(ctx: Ctx, ticket: Ticket) -> Outcome:
    """Acknowledge the ticket, and take it when nobody has: that is progress (no escalation)."""
    assigned = False
    if ticket.assignee_id is None:
        if not ticket_commands.assign_to(ctx, ticket, ctx.actor.user_id, ctx.actor.name):
            return _toast("cannot_take", number=ticket.id)
        assigned = True
    ticket.acknowledge(ctx.now)
    ctx.audit(
        "reminder.acknowledged",
        ticket_id=ticket.id,
        details={"assigned": assigned},
        procedure_id=ticket.procedure_id,
        procedure_version=ticket.procedure_version,
    )
    if assigned:
        return _toast("taken", number=ticket.id)
    if ticket.assignee_id == ctx.actor.user_id:
        return _toast("on_it", number=ticket.id)
    return _toast("noted", number=ticket.id, assignee=ticket.assignee_name)


def snooze(ctx: Ctx, ticket: Ticket) -> Outcome:
    """No reminder for this ticket for a while (a snooze is not progress)."""
    until = ctx.now + rules.SNOOZE
    ticket.snooze(until)
    ctx.audit(
        "reminder.snoozed",
        ticket_id=ticket.id,
        details={"until": until.isoformat()},
        procedure_id=ticket.procedure_id,
        procedure_version=ticket.procedure_version,
    )
    local = until.astimezone(ctx.config.tz).strftime("%H:%M")
    return _toast("snoozed", number=ticket.id, until=local)


def _toast(reason: str, **context: Any) -> Outcome:
    return Outcome(toast=render("reminders/toast.txt", reason=reason, **context))


def show(ctx: Ctx, ticket: Ticket) -> None:
    """The ticket in short: title, status, assignee, due."""
    tz = ctx.config.tz
    due = ""
    if ticket.due_at is not None:
        due = ticket.due_at.astimezone(tz).strftime("%a %d %b %H:%M")
    ctx.say(
        "reminders/show.html",
        ticket=_line(ticket, ctx.now),
        status=ticket.status,
        due=due,
        overdue=rules.is_overdue(ticket, ctx.now),
        paused=ticket.paused_at is not None,
        ticket_id=ticket.id,
    )

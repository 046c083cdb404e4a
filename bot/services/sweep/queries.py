"""The sweep's named read-side queries and bulk statements, in Core for the data's size.

A sweep looks at up to 20,000 due tickets among a million, and writes to thousands of them in a
few statements (see docs/performance.md). What to write comes from `bot.domain.reminders`; this
module only says how it is read and written.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Integer, Select, any_, bindparam, func, insert, or_, select
from sqlalchemy import update as update_statement
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session

from bot.db.models import Reminder, Ticket, tickets
from bot.domain import lifecycle
from bot.domain.actors import SYSTEM
from bot.services import audit
from bot.services.database import Database

S = TypeVar("S", bound=Select[Any])


@contextmanager
def unit(db: Database, dry_run: bool) -> Iterator[Session]:
    """A write transaction, or for a dry run a read-only one that changes nothing."""
    if dry_run:
        with db.reading() as session:
            yield session
    else:
        with db.transaction() as session:
            yield session


def locked(query: S, lock: bool) -> S:
    # SKIP LOCKED: rows another sweeper (or a person pressing a button) holds are left to them.
    return query.with_for_update(skip_locked=True) if lock else query


def due_tickets(session: Session, now: datetime, limit: int, *, lock: bool) -> list[Ticket]:
    """The tickets whose chase time has come, longest due first (the partial index
    `ix_tickets_chase_at`); locked, unless `lock` is false (a dry run).

    Domain Tickets, loaded by the ORM: for the 5,000 due tickets of the million-ticket benchmark
    that costs about 100-150 ms more than plain rows (docs/reminders.md), well within the
    sweep's 1 s, and the sweep reads the same Ticket as every other use case."""
    query = (
        select(Ticket)
        .where(tickets.c.chase_at.is_not(None), tickets.c.chase_at <= now)
        .order_by(tickets.c.chase_at)
        .limit(limit)
    )
    return list(session.scalars(locked(query, lock)))


def tickets_by_id(session: Session, ids: Sequence[int], *, lock: bool) -> Sequence[Ticket]:
    """Domain Tickets by number, soonest due first (an escalation's few)."""
    query = select(Ticket).where(among(session, ids)).order_by(tickets.c.due_at, tickets.c.id)
    return session.scalars(locked(query, lock)).all()


def active_tickets(session: Session, chat_id: int, *, homeless: bool) -> Sequence[Ticket]:
    """The opened tickets still owed work in one chat; with `homeless`, also those started
    privately (no home chat), which the default chat holds."""
    mine = tickets.c.home_chat_id == chat_id
    if homeless:
        mine = or_(mine, tickets.c.home_chat_id.is_(None))
    query = select(Ticket).where(
        tickets.c.status.in_(lifecycle.ACTIVE), tickets.c.opened_at.is_not(None), mine
    )
    return session.scalars(query).all()


def update_tickets(session: Session, ids: Sequence[int], **values: Any) -> None:
    """Set the same values on many tickets in one statement (most reminders share them)."""
    if ids:
        session.execute(update_statement(tickets).where(among(session, ids)).values(**values))


def among(session: Session, ids: Sequence[int]) -> ColumnElement[bool]:
    """`tickets.id IN ids` with the ids as one bound value (PostgreSQL: an array; SQLite: a
    JSON array read by json_each), not one placeholder each: for 5,000 ids, building, sending
    and parsing the placeholders took a third of the UPDATE's time on PostgreSQL."""
    if session.get_bind().dialect.name == "postgresql":
        return tickets.c.id == any_(bindparam(None, list(ids), type_=postgresql.ARRAY(Integer)))
    listed = func.json_each(json.dumps(list(ids))).table_valued("value")
    return tickets.c.id.in_(select(listed.c.value))


def add_reminders(session: Session, rows: list[dict[str, Any]]) -> None:
    """`Reminder` rows in one INSERT (a sweep may send hundreds of digests)."""
    if rows:
        session.execute(insert(Reminder.__table__), rows)


def dedupe_key(kind: str, chat_id: int, now: datetime, items: list[tuple[int, int]]) -> str:
    """The same reminder of the same tickets at the same moment is refused by the database."""
    digest = hashlib.sha256(repr(sorted(items)).encode()).hexdigest()[:16]
    return f"{kind}:{chat_id}:{now.isoformat()}:{digest}"


def event(t: Ticket, action: str, **details: Any) -> dict[str, Any]:
    """An audit event about ticket `t`, for `record_events`."""
    return {
        "action": action,
        "ticket_id": t.id,
        "details": details,
        "procedure_id": t.procedure_id,
        "procedure_version": t.procedure_version,
    }


def record_events(session: Session, now: datetime, events: list[dict[str, Any]]) -> None:
    """Audit events by the bot itself, in one go (a sweep may audit thousands)."""
    if events:
        audit.record_many(session, now=now, actor=SYSTEM, events=events)

"""Reading and writing ticket rows inside a service's transaction (no commits here).

The statements every message runs are built once, at import: building an ORM select costs
more than running it on SQLite, and a built statement keeps its cache key between runs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import JSON, bindparam, func, insert, select, type_coerce, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.db.models import BotMessage, PendingQuestion, Person, StepDone, Ticket, TicketField
from bot.services import rows
from bot.services.messages import Delivered
from bot.services.rows import PendingRow, TicketRow


def lock_ticket(session: Session, ticket_id: int) -> TicketRow | None:
    """The ticket, locked until commit so concurrent answers queue instead of racing.

    Read once per transaction: a ticket this transaction holds cannot change under it."""
    ticket = rows.known(session, TicketRow, ticket_id)
    if ticket is not None:
        return ticket  # type: ignore[return-value]
    found = session.connection().execute(_LOCK_TICKET, {"id": ticket_id}).mappings().first()
    return rows.loaded(session, TicketRow, found) if found is not None else None


def add_ticket(session: Session, ticket: TicketRow) -> TicketRow:
    """Store a new ticket now (its fields and question refer to it); it has neither yet."""
    rows.insert_now(session, ticket)
    session.info.setdefault("field_rows", {})[ticket.id] = {}
    session.info.setdefault("pending", {})[ticket.id] = None
    return ticket


@dataclass(frozen=True)
class FieldRow:
    """A stored field value and how it got there."""

    value: Any  # None: skipped
    phase: str


def field_rows(session: Session, ticket_id: int) -> dict[str, FieldRow]:
    """The ticket's field values, read once per transaction.

    Every write goes through `set_value`, which writes through to the database at once and
    keeps this map current: the gate looks at a ticket's values several times per message.
    Plain rows through Core, not ORM objects: this is the busiest table of a conversation.
    """
    cache = session.info.setdefault("field_rows", {})
    if ticket_id not in cache:
        rows = session.connection().execute(_FIELDS, {"ticket": ticket_id})
        cache[ticket_id] = {name: FieldRow(value, phase) for name, value, phase in rows}
    return cache[ticket_id]


def values_of(session: Session, ticket_id: int) -> dict[str, Any]:
    """Field name -> value; a skipped field is present with None."""
    return {name: row.value for name, row in field_rows(session, ticket_id).items()}


def set_value(
    session: Session,
    ticket_id: int,
    name: str,
    value: Any,
    *,
    phase: str,
    by: int | None,
    now: datetime,
) -> Any:
    """Store a field value (None = skipped); returns the previous value."""
    rows = field_rows(session, ticket_id)
    old = rows.get(name)
    session.connection().execute(
        _INSERT_FIELD if old is None else _UPDATE_FIELD,
        {"ticket": ticket_id, "field": name, "value": value, "phase": phase, "by": by, "at": now},
    )
    rows[name] = FieldRow(value, phase)
    return None if old is None else old.value


class StepRow(NamedTuple):
    """A step marked done: by whom and when."""

    step_id: str
    done_by_id: int
    done_by_name: str
    done_at: datetime


def steps_done(session: Session, ticket_id: int) -> dict[str, StepRow]:
    """The ticket's steps done, read once per transaction and kept current by `mark_done`."""
    cache = session.info.setdefault("steps", {})
    if ticket_id not in cache:
        found = session.connection().execute(_STEPS, {"ticket": ticket_id})
        cache[ticket_id] = {row.step_id: StepRow(*row) for row in found}
    return cache[ticket_id]


def mark_done(session: Session, ticket_id: int, step: StepRow) -> None:
    done = steps_done(session, ticket_id)
    session.connection().execute(_INSERT_STEP, {"ticket_id": ticket_id, **step._asdict()})
    done[step.step_id] = step


def pending_for_ticket(session: Session, ticket_id: int) -> PendingRow | None:
    """The ticket's pending question, locked; read from the database once per transaction."""
    cache = session.info.setdefault("pending", {})
    if ticket_id in cache:
        return cache[ticket_id]
    rows.flush(session)
    fields = session.info.setdefault("field_rows", {})
    params = {"ticket": ticket_id}
    if ticket_id in fields or _writers_queue(session):
        found = session.connection().execute(_LOCK_PENDING, params).mappings().first()
    else:
        # PostgreSQL answers right after locking the ticket: its fields come along, saving a
        # round trip on every answer.
        found = session.connection().execute(_LOCK_PENDING_WITH_FIELDS, params).mappings().first()
        if found is not None:
            fields[ticket_id] = _field_rows(found["fields"])
    cache[ticket_id] = _pending(session, found)
    return cache[ticket_id]


def _field_rows(aggregated: list[list[Any]] | None) -> dict[str, FieldRow]:
    """Field rows aggregated by the database as [name, stored JSON text, phase] lists."""
    return {
        name: FieldRow(None if value is None else json.loads(value), phase)
        for name, value, phase in aggregated or ()
    }


def new_pending(session: Session, **values: Any) -> PendingRow:
    """A pending question, written with its final values when the transaction flushes."""
    pending = PendingRow(values)
    rows.add(session, pending)
    if pending.ticket_id is not None:
        session.info.setdefault("pending", {})[pending.ticket_id] = pending
    return pending


def store_pending(session: Session, **values: Any) -> PendingRow:
    """A pending question written at once, because its id is needed now (button data)."""
    return rows.insert_now(session, PendingRow(values))


def drop_pending(session: Session, pending: PendingRow) -> None:
    rows.delete_now(session, pending)
    if pending.ticket_id is not None:
        session.info.setdefault("pending", {})[pending.ticket_id] = None


def latest_pending(session: Session, chat_id: int, user_id: int) -> PendingRow | None:
    """The most recent question waiting on this person in this chat."""
    rows.flush(session)
    params = {"chat": chat_id, "user": user_id}
    if _writers_queue(session):
        return _latest_with_ticket(session, params)
    found = session.connection().execute(_LATEST_PENDING, params)
    return _pending(session, found.mappings().first())


def _latest_with_ticket(session: Session, params: dict[str, int]) -> PendingRow | None:
    """SQLite: the question, its ticket and the ticket's fields in one statement.

    Read under the database's single write lock, so no one can change them before we commit:
    locking the ticket need not read anything again (PostgreSQL must; see
    `Conversation._pending_for`). Every message that answers a question starts here.
    """
    found = session.connection().execute(_LATEST_WITH_TICKET, params).mappings().first()
    if found is None:
        return None
    pending = _pending(session, found)
    ticket_id = pending.ticket_id
    if ticket_id is None or found["t_id"] is None:
        return pending
    session.info.setdefault("pending", {})[ticket_id] = pending
    if rows.known(session, TicketRow, ticket_id) is None:
        rows.loaded(session, TicketRow, {name: found[f"t_{name}"] for name in TicketRow.names})
    fields = session.info.setdefault("field_rows", {})
    if ticket_id not in fields:
        fields[ticket_id] = _field_rows(found["fields"])
    return pending


def _pending(session: Session, found: Any) -> PendingRow | None:
    if found is None:
        return None
    return rows.loaded(session, PendingRow, {name: found[name] for name in PendingRow.names})


def _writers_queue(session: Session) -> bool:
    """Whether a write transaction holds the whole database (SQLite's BEGIN IMMEDIATE)."""
    return session.get_bind().dialect.name == "sqlite"


def pending_by_id(session: Session, pending_id: int) -> PendingRow | None:
    rows.flush(session)
    found = session.connection().execute(_PENDING_BY_ID, {"id": pending_id}).mappings()
    return _pending(session, found.first())


def clear_pending(session: Session, ticket_id: int) -> None:
    pending = pending_for_ticket(session, ticket_id)
    if pending is not None:
        drop_pending(session, pending)


def remember_sent(session: Session, delivered: Sequence[Delivered]) -> None:
    """Where replies about tickets landed: a reply to any of them finds its ticket, and a
    question knows its message. One statement each, whatever the number of replies."""
    conn = session.connection()
    insert_sent = _INSERT_SENT[session.get_bind().dialect.name]
    conn.execute(
        insert_sent,
        [
            {
                "chat_id": d.chat_id,
                "message_id": d.message_id,
                "ticket_id": d.reply.ticket_id,
                "kind": d.reply.kind,
                "created_at": d.sent_at,
            }
            for d in delivered
        ],
    )
    questions = [
        {"ticket": d.reply.ticket_id, "chat": d.chat_id, "message": d.message_id}
        for d in delivered
        if d.reply.kind == "question"
    ]
    if questions:
        conn.execute(_QUESTION_MESSAGE, questions)


def ticket_for_message(session: Session, chat_id: int, message_id: int) -> int | None:
    """The ticket a bot message was about, so a reply to it reaches that ticket."""
    row = session.get(BotMessage, (chat_id, message_id))
    return row.ticket_id if row else None


def remember_person(
    session: Session, user_id: int, username: str | None, name: str, now: datetime
) -> None:
    person = session.get(Person, user_id)
    handle = username.lower() if username else None
    if person is None:
        session.add(Person(user_id=user_id, username=handle, name=name, last_seen_at=now))
    else:
        person.username, person.name, person.last_seen_at = handle, name, now


def person_by_username(session: Session, username: str) -> Person | None:
    return session.execute(
        select(Person).where(Person.username == username.lstrip("@").lower()).limit(1)
    ).scalar_one_or_none()


_T = Ticket.__table__
_P = PendingQuestion.__table__
_LOCK_TICKET = select(_T).where(_T.c.id == bindparam("id")).with_for_update()
_F = TicketField.__table__
_FIELDS = select(_F.c.name, _F.c.value, _F.c.phase).where(_F.c.ticket_id == bindparam("ticket"))
_INSERT_FIELD = insert(_F).values(
    ticket_id=bindparam("ticket"),
    name=bindparam("field"),
    value=bindparam("value", type_=_F.c.value.type),
    phase=bindparam("phase"),
    set_by_id=bindparam("by"),
    set_at=bindparam("at", type_=_F.c.set_at.type),
)
_UPDATE_FIELD = (
    update(_F)
    .where(_F.c.ticket_id == bindparam("ticket"), _F.c.name == bindparam("field"))
    .values(
        value=bindparam("value", type_=_F.c.value.type),
        phase=bindparam("phase"),
        set_by_id=bindparam("by"),
        set_at=bindparam("at", type_=_F.c.set_at.type),
    )
)
_S = StepDone.__table__
_STEPS = (
    select(_S.c.step_id, _S.c.done_by_id, _S.c.done_by_name, _S.c.done_at)
    .where(_S.c.ticket_id == bindparam("ticket"))
    .order_by(_S.c.id)
)
_INSERT_STEP = insert(_S)
_LOCK_PENDING = select(_P).where(_P.c.ticket_id == bindparam("ticket")).with_for_update()
_PENDING_BY_ID = select(_P).where(_P.c.id == bindparam("id")).with_for_update()
_LATEST_PENDING = (
    select(_P)
    .where(_P.c.chat_id == bindparam("chat"), _P.c.user_id == bindparam("user"))
    .order_by(_P.c.asked_at.desc(), _P.c.id.desc())
    .limit(1)
)
_SQLITE_FIELDS = (
    select(func.json_group_array(func.json_array(_F.c.name, _F.c.value, _F.c.phase)))
    .where(_F.c.ticket_id == _T.c.id)
    .scalar_subquery()
)
_LATEST_WITH_TICKET = (
    select(
        _P,
        *(c.label(f"t_{c.key}") for c in _T.columns),
        type_coerce(_SQLITE_FIELDS, JSON()).label("fields"),
    )
    .outerjoin(_T, _T.c.id == _P.c.ticket_id)
    .where(_P.c.chat_id == bindparam("chat"), _P.c.user_id == bindparam("user"))
    .order_by(_P.c.asked_at.desc(), _P.c.id.desc())
    .limit(1)
)
_POSTGRES_FIELDS = (
    select(func.json_agg(func.json_build_array(_F.c.name, _F.c.value, _F.c.phase)))
    .where(_F.c.ticket_id == bindparam("ticket"))
    .scalar_subquery()
)
_LOCK_PENDING_WITH_FIELDS = (
    select(_P, type_coerce(_POSTGRES_FIELDS, JSON()).label("fields"))
    .where(_P.c.ticket_id == bindparam("ticket"))
    .with_for_update(of=_P)
)
_B = BotMessage.__table__
# A message id is recorded once: sending is retried after a timeout, and may land twice.
_INSERT_SENT = {
    "sqlite": sqlite.insert(_B).on_conflict_do_nothing(),
    "postgresql": postgresql.insert(_B).on_conflict_do_nothing(),
}
_QUESTION_MESSAGE = (
    update(_P)
    .where(_P.c.ticket_id == bindparam("ticket"), _P.c.chat_id == bindparam("chat"))
    .values(message_id=bindparam("message"))
)

"""Reading and writing ticket rows inside a service's transaction (no commits here).

The statements every message runs are built once, at import: building an ORM select costs
more than running it on SQLite, and a built statement keeps its cache key between runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from bot.db.models import BotMessage, PendingQuestion, Person, StepDone, Ticket, TicketField


def lock_ticket(session: Session, ticket_id: int) -> Ticket | None:
    """The ticket, locked until commit so concurrent answers queue instead of racing."""
    return session.execute(_LOCK_TICKET, {"id": ticket_id}).scalar_one_or_none()


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


def steps_done(session: Session, ticket_id: int) -> dict[str, StepDone]:
    rows = session.execute(_STEPS, {"ticket": ticket_id}).scalars()
    return {row.step_id: row for row in rows}


def pending_for_ticket(session: Session, ticket_id: int) -> PendingQuestion | None:
    """The ticket's pending question, locked; read from the database once per transaction."""
    cache = session.info.setdefault("pending", {})
    if ticket_id not in cache:
        cache[ticket_id] = session.execute(
            _LOCK_PENDING, {"ticket": ticket_id}
        ).scalar_one_or_none()
    return cache[ticket_id]


def add_pending(session: Session, pending: PendingQuestion) -> None:
    session.add(pending)
    if pending.ticket_id is not None:
        session.info.setdefault("pending", {})[pending.ticket_id] = pending


def latest_pending(session: Session, chat_id: int, user_id: int) -> PendingQuestion | None:
    """The most recent question waiting on this person in this chat."""
    pending = session.execute(
        _LATEST_PENDING, {"chat": chat_id, "user": user_id}
    ).scalar_one_or_none()
    if pending is not None and pending.ticket_id is not None and _writers_queue(session):
        # Read under the database's single write lock: no one can change it before we commit,
        # so locking its ticket need not read it again (PostgreSQL must; see
        # `Conversation._pending_for`).
        session.info.setdefault("pending", {})[pending.ticket_id] = pending
    return pending


def new_ticket(session: Session, ticket_id: int) -> None:
    """A ticket created in this transaction has no fields and no question yet: no need to ask."""
    session.info.setdefault("field_rows", {})[ticket_id] = {}
    session.info.setdefault("pending", {})[ticket_id] = None


def _writers_queue(session: Session) -> bool:
    """Whether a write transaction holds the whole database (SQLite's BEGIN IMMEDIATE)."""
    return session.get_bind().dialect.name == "sqlite"


def pending_by_id(session: Session, pending_id: int) -> PendingQuestion | None:
    return session.get(PendingQuestion, pending_id, with_for_update=True)


def clear_pending(session: Session, ticket_id: int) -> None:
    pending = pending_for_ticket(session, ticket_id)
    if pending is not None and pending in session.new:
        session.expunge(pending)  # asked and answered within this transaction: never stored
    elif pending is not None:
        session.delete(pending)
        session.flush()  # gone now, so a new question for the ticket can take its place
    session.info.setdefault("pending", {})[ticket_id] = None


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


_LOCK_TICKET = (
    select(Ticket)
    .where(Ticket.id == bindparam("id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
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
_STEPS = select(StepDone).where(StepDone.ticket_id == bindparam("ticket"))
_LOCK_PENDING = (
    select(PendingQuestion)
    .where(PendingQuestion.ticket_id == bindparam("ticket"))
    .with_for_update()
    .execution_options(populate_existing=True)
)
_LATEST_PENDING = (
    select(PendingQuestion)
    .where(
        PendingQuestion.chat_id == bindparam("chat"), PendingQuestion.user_id == bindparam("user")
    )
    .order_by(PendingQuestion.asked_at.desc(), PendingQuestion.id.desc())
    .limit(1)
)

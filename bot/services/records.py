"""Loading and saving tickets, their fields, steps and questions inside a service's transaction
(no commits here). Everything goes through the ORM; what a transaction changes is flushed by
the session before its queries and at commit.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.db.models import BotMessage, PendingQuestion, Person, StepDone, Ticket, TicketField
from bot.domain.actors import Actor
from bot.domain.question import Phase
from bot.services.messages import Delivered

SEEN_EVERY = timedelta(hours=1)


def lock_ticket(session: Session, ticket_id: int) -> Ticket | None:
    """The ticket, locked until commit so concurrent answers queue instead of racing."""
    return session.get(Ticket, ticket_id, with_for_update=True, populate_existing=True)


def add_ticket(session: Session, ticket: Ticket) -> Ticket:
    """Store a new ticket now: its fields and question refer to it."""
    session.add(ticket)
    session.flush()
    return ticket


def field_rows(session: Session, ticket_id: int) -> dict[str, TicketField]:
    """The ticket's stored field values by name (a skipped field has the value None)."""
    found = session.scalars(_FIELDS, {"ticket": ticket_id})
    return {row.name: row for row in found}


def values_of(session: Session, ticket_id: int) -> dict[str, Any]:
    """Field name -> value; a skipped field is present with None."""
    return {name: row.value for name, row in field_rows(session, ticket_id).items()}


def set_value(
    session: Session,
    ticket_id: int,
    name: str,
    value: Any,
    *,
    phase: Phase,
    by: int | None,
    now: datetime,
) -> Any:
    """Store a field value (None = skipped); returns the previous value."""
    row = field_rows(session, ticket_id).get(name)
    old = None if row is None else row.value
    if row is None:
        row = TicketField(ticket_id=ticket_id, name=name)
        session.add(row)
    row.value, row.phase, row.set_by_id, row.set_at = value, phase.value, by, now
    return old


def steps_done(session: Session, ticket_id: int) -> dict[str, StepDone]:
    """The ticket's steps done, in the order they were done."""
    return {row.step_id: row for row in session.scalars(_STEPS, {"ticket": ticket_id})}


def mark_done(session: Session, ticket_id: int, step_id: str, by: Actor, now: datetime) -> None:
    session.add(
        StepDone(
            ticket_id=ticket_id,
            step_id=step_id,
            done_by_id=by.user_id,
            done_by_name=by.name,
            done_at=now,
        )
    )


def pending_for_ticket(session: Session, ticket_id: int) -> PendingQuestion | None:
    """The ticket's pending question, locked (read after the ticket's own lock)."""
    return session.scalars(_LOCK_PENDING, {"ticket": ticket_id}).first()


def new_pending(session: Session, **values: Any) -> PendingQuestion:
    pending = PendingQuestion(**values)
    session.add(pending)
    return pending


def store_pending(session: Session, **values: Any) -> PendingQuestion:
    """A pending question written at once, because its id is needed now (button data)."""
    pending = new_pending(session, **values)
    session.flush()
    return pending


def drop_pending(session: Session, pending: PendingQuestion) -> None:
    """Remove a question at once, so a new one may take the ticket's unique slot."""
    session.delete(pending)
    session.flush()


def latest_pending(session: Session, chat_id: int, user_id: int) -> PendingQuestion | None:
    """The most recent question waiting on this person in this chat."""
    return session.scalars(_LATEST_PENDING, {"chat": chat_id, "user": user_id}).first()


def pending_by_id(session: Session, pending_id: int) -> PendingQuestion | None:
    return session.get(PendingQuestion, pending_id, with_for_update=True, populate_existing=True)


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
    session: Session,
    user_id: int,
    username: str | None,
    name: str,
    now: datetime,
    language_code: str | None = None,
) -> Person:
    """Remember who wrote, so `@username` finds them and the sweep knows their language; a quiet
    row is not rewritten on every message (last seen is kept to the hour)."""
    person = session.get(Person, user_id)
    handle = username.lower() if username else None
    code = language_code[:35] if language_code else None
    if person is None:
        person = Person(
            user_id=user_id, username=handle, name=name, last_seen_at=now, language_code=code
        )
        session.add(person)
    elif (person.username, person.name) != (handle, name) or (
        now - person.last_seen_at >= SEEN_EVERY
    ):
        person.username, person.name, person.last_seen_at = handle, name, now
    if person.language_code != code and code is not None:
        person.language_code = code
    return person


def person_by_username(session: Session, username: str) -> Person | None:
    return session.execute(
        select(Person).where(Person.username == username.lstrip("@").lower()).limit(1)
    ).scalar_one_or_none()


_FIELDS = select(TicketField).where(TicketField.ticket_id == bindparam("ticket"))
_STEPS = select(StepDone).where(StepDone.ticket_id == bindparam("ticket")).order_by(StepDone.id)
_LOCK_PENDING = (
    select(PendingQuestion)
    .where(PendingQuestion.ticket_id == bindparam("ticket"))
    .with_for_update()
    # Read again after the ticket's lock: another message may have moved the question on.
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
_P = PendingQuestion.__table__
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

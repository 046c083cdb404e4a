"""Appending audit events, always inside the caller's transaction.

Two ways in: `record` / `record_many` write at once and say where the event landed; `defer`
queues an event on the session and `flush` writes the queue (the unit of work flushes it just
before commit, so deferred events still commit or roll back with the change they record). A
chat message usually audits two or three things; writing them together costs one counter
update and one insert instead of a pair of statements each.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, insert, select, update
from sqlalchemy.orm import Session

from bot.db.models import AuditEvent, Counter
from bot.domain.actors import Actor
from bot.domain.audit_chain import GENESIS, canonical_event, chain_hash
from bot.domain.procedure import Procedure


@dataclass(frozen=True)
class Appended:
    """Where an event landed in the chain: its sequence number and hash."""

    id: int
    hash: str


_COUNTERS = Counter.__table__
_EVENTS = AuditEvent.__table__
_QUEUE = "audit_queue"
_HEAD = "audit_head"

# The last committed event of each database, as this process saw it commit. An event never
# changes once committed and the counter hands out gapless numbers under a row lock, so when
# the number before ours is the one remembered here, its hash is the one remembered here.
_committed_heads: weakref.WeakKeyDictionary[Engine, tuple[int, str]] = weakref.WeakKeyDictionary()


def next_value(session: Session, name: str, count: int = 1) -> int:
    """Take the next `count` numbers of a gapless counter and return the last one; the row
    stays locked until commit, which also serialises concurrent writers of the audit chain."""
    # Core, not an ORM-enabled UPDATE: nothing in the session needs synchronising with this
    # row, and the ORM path costs several times more on every audited action.
    value = (
        session.connection()
        .execute(_NEXT_VALUE, {"counter": name, "count": count})
        .scalar_one_or_none()
    )
    if value is None:
        session.add(Counter(name=name, value=count))
        session.flush()
        value = count
    return value


def _event(
    now: datetime,
    actor: Actor,
    action: str,
    ticket_id: int | None,
    details: dict[str, Any] | None,
    procedure: Procedure | None,
    procedure_id: str | None,
    procedure_version: str | None,
) -> dict[str, Any]:
    if procedure is not None:
        procedure_id, procedure_version = procedure.id, procedure.version
    return {
        "at": now,
        "actor_id": actor.user_id,
        "actor_name": actor.name,
        "ticket_id": ticket_id,
        "action": action,
        "details": details or {},
        "procedure_id": procedure_id,
        "procedure_version": procedure_version,
    }


def defer(
    session: Session,
    *,
    now: datetime,
    actor: Actor,
    action: str,
    ticket_id: int | None = None,
    details: dict[str, Any] | None = None,
    procedure: Procedure | None = None,
    procedure_id: str | None = None,
    procedure_version: str | None = None,
) -> None:
    """Queue one event; it is written by `flush`, at the latest just before commit."""
    event = _event(
        now, actor, action, ticket_id, details, procedure, procedure_id, procedure_version
    )
    session.info.setdefault(_QUEUE, []).append(event)


def record(session: Session, **event: Any) -> Appended:
    """Append one event to the chain now (the arguments of `defer`); it commits or rolls back
    with the change it records. Events queued before it keep their place ahead of it."""
    defer(session, **event)
    return _flush_queue(session)


def record_many(
    session: Session, *, now: datetime, actor: Actor, events: Sequence[dict[str, Any]]
) -> Appended:
    """Append several events by one actor at one moment: one counter update and one insert
    for the lot (a sweep may audit thousands). Each event is a dict with `action` and
    optionally `ticket_id`, `details`, `procedure_id`, `procedure_version`. Returns where
    the last one landed."""
    if not events:
        raise ValueError("no events to record")
    for e in events:
        defer(session, now=now, actor=actor, **e)
    return _flush_queue(session)


def flush(session: Session) -> Appended | None:
    """Write the events queued by `defer`, in the order they were queued."""
    return _flush_queue(session) if session.info.get(_QUEUE) else None


def _flush_queue(session: Session) -> Appended:
    return _append(session, session.info.pop(_QUEUE))


def committed(session: Session) -> None:
    """The session's transaction committed: remember the chain's head for the next one."""
    head = session.info.pop(_HEAD, None)
    if head is not None:
        _committed_heads[_engine_of(session)] = head


def rolled_back(session: Session) -> None:
    """Nothing of the transaction was kept: neither its queued events nor its head."""
    session.info.pop(_HEAD, None)
    session.info.pop(_QUEUE, None)


def _append(session: Session, events: list[dict[str, Any]]) -> Appended:
    last = next_value(session, "audit", len(events))
    first = last - len(events) + 1
    prev_hash = _hash_before(session, first)
    rows = []
    for seq, fields in enumerate(events, start=first):
        digest = chain_hash(prev_hash, canonical_event(seq=seq, **fields))
        rows.append({"id": seq, **fields, "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    session.connection().execute(_INSERT, rows)
    session.info[_HEAD] = (last, prev_hash)
    return Appended(last, prev_hash)


def _hash_before(session: Session, first: int) -> str:
    """The hash of event `first - 1`, without a query when this process knows it."""
    if first == 1:
        return GENESIS
    for known in (session.info.get(_HEAD), _committed_heads.get(_engine_of(session))):
        if known is not None and known[0] == first - 1:
            return known[1]
    prev = session.connection().execute(_HASH_OF, {"id": first - 1}).scalar()
    return prev or GENESIS


def _engine_of(session: Session) -> Engine:
    return session.get_bind()


# Built once: a statement object caches its compiled form's key, so executing it again skips
# building and hashing the expression (measurable at several audited actions per message).
_NEXT_VALUE = (
    update(_COUNTERS)
    .where(_COUNTERS.c.name == bindparam("counter"))
    .values(value=_COUNTERS.c.value + bindparam("count"))
    .returning(_COUNTERS.c.value)
)
_INSERT = insert(_EVENTS)
_HASH_OF = select(_EVENTS.c.hash).where(_EVENTS.c.id == bindparam("id"))

"""Appending audit events, always inside the caller's transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
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


def next_value(session: Session, name: str, count: int = 1) -> int:
    """Take the next `count` numbers of a gapless counter and return the last one; the row
    stays locked until commit, which also serialises concurrent writers of the audit chain."""
    # Core, not an ORM-enabled UPDATE: nothing in the session needs synchronising with this
    # row, and the ORM path costs several times more on every audited action.
    value = (
        session.connection()
        .execute(
            update(_COUNTERS)
            .where(_COUNTERS.c.name == name)
            .values(value=_COUNTERS.c.value + count)
            .returning(_COUNTERS.c.value)
        )
        .scalar_one_or_none()
    )
    if value is None:
        session.add(Counter(name=name, value=count))
        session.flush()
        value = count
    return value


def record(
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
) -> Appended:
    """Append one event to the chain; it commits or rolls back with the change it records."""
    if procedure is not None:
        procedure_id, procedure_version = procedure.id, procedure.version
    event = {
        "ticket_id": ticket_id,
        "action": action,
        "details": details or {},
        "procedure_id": procedure_id,
        "procedure_version": procedure_version,
    }
    return record_many(session, now=now, actor=actor, events=[event])


def record_many(
    session: Session, *, now: datetime, actor: Actor, events: Sequence[dict[str, Any]]
) -> Appended:
    """Append several events by one actor at one moment: one counter update and one insert
    for the lot (a sweep may audit thousands). Each event is a dict with `action` and
    optionally `ticket_id`, `details`, `procedure_id`, `procedure_version`. Returns where
    the last one landed."""
    if not events:
        raise ValueError("no events to record")
    last = next_value(session, "audit", len(events))
    first = last - len(events) + 1
    head = session.info.get("audit_head")
    if head is not None and head[0] == first - 1:
        prev_hash = head[1]  # the previous event was written in this same transaction
    else:
        prev = session.execute(select(AuditEvent.hash).where(AuditEvent.id == first - 1)).scalar()
        prev_hash = prev or GENESIS
    rows = []
    for seq, e in enumerate(events, start=first):
        fields = {
            "at": now,
            "actor_id": actor.user_id,
            "actor_name": actor.name,
            "ticket_id": e.get("ticket_id"),
            "action": e["action"],
            "details": e.get("details") or {},
            "procedure_id": e.get("procedure_id"),
            "procedure_version": e.get("procedure_version"),
        }
        digest = chain_hash(prev_hash, canonical_event(seq=seq, **fields))
        rows.append({"id": seq, **fields, "prev_hash": prev_hash, "hash": digest})
        prev_hash = digest
    session.connection().execute(insert(_EVENTS), rows)
    session.info["audit_head"] = (last, prev_hash)
    return Appended(last, prev_hash)

"""Appending audit events, always inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from bot.db.models import AuditEvent, Counter
from bot.domain.actors import Actor
from bot.domain.audit_chain import GENESIS, canonical_event, chain_hash
from bot.domain.procedure import Procedure


def next_value(session: Session, name: str) -> int:
    """Take the next number of a gapless counter; the row stays locked until commit."""
    counters = Counter.__table__
    # Core, not an ORM-enabled UPDATE: no session synchronisation is needed for this row, and
    # the ORM path costs several times more on every audited action.
    value = session.connection().execute(
        update(counters)
        .where(counters.c.name == name)
        .values(value=counters.c.value + 1)
        .returning(counters.c.value)
    ).scalar_one_or_none()
    if value is None:
        session.add(Counter(name=name, value=1))
        session.flush()
        value = 1
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
) -> AuditEvent:
    """Append one event to the chain; it commits or rolls back with the change it records."""
    seq = next_value(session, "audit")  # also serialises concurrent writers of the chain
    head = session.info.get("audit_head")
    if head is not None and head[0] == seq - 1:
        prev_hash = head[1]  # the previous event was written in this same transaction
    else:
        prev = session.execute(select(AuditEvent.hash).where(AuditEvent.id == seq - 1)).scalar()
        prev_hash = prev or GENESIS
    if procedure is not None:
        procedure_id, procedure_version = procedure.id, procedure.version
    details = details or {}
    canonical = canonical_event(
        seq=seq,
        at=now,
        actor_id=actor.user_id,
        actor_name=actor.name,
        ticket_id=ticket_id,
        action=action,
        details=details,
        procedure_id=procedure_id,
        procedure_version=procedure_version,
    )
    event = AuditEvent(
        id=seq,
        at=now,
        actor_id=actor.user_id,
        actor_name=actor.name,
        ticket_id=ticket_id,
        action=action,
        details=details,
        procedure_id=procedure_id,
        procedure_version=procedure_version,
        prev_hash=prev_hash,
        hash=chain_hash(prev_hash, canonical),
    )
    session.add(event)
    session.info["audit_head"] = (seq, event.hash)
    return event

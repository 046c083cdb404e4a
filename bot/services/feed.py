"""The changefeed: what changed, read from the audit chain by keyset on the sequence number.

A consumer's *scope* is every audit event (no chats configured) or the events of tickets whose
`chat_id` or `home_chat_id` is one of its chats. The cursor is the chain hash of the last
in-scope event a page covered; the next page starts after that event's sequence number, so a
page costs the same a million events in and never shifts when new events arrive.

Internal chatter (questions, refusals, rejected answers) is in scope for the cursor but is not
published as an item: the cursor still moves past it, so a consumer never asks for it again.
Each item carries the event's `hash` and `prev_hash`, and each page the `prev_hash` of the first
event after its cursor, so a consumer can check that the chain continues from where it stood
(`continues`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from bot.config import ConsumerConfig
from bot.db.models import AuditEvent, StepDone, Ticket, TicketField
from bot.domain.audit_chain import GENESIS

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
_HASH = re.compile(r"^[0-9a-f]{64}$")


class UnknownCursor(Exception):
    """The cursor is no hash in the audit chain (never was, or the chain was rewritten)."""


class BadCursor(ValueError):
    """The cursor is not a SHA-256 hex digest at all."""


@dataclass(frozen=True)
class Head:
    cursor: str  # hash of the newest event in scope; GENESIS when there is none
    count: int  # events in scope
    last_change_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        return {
            "cursor": self.cursor,
            "count": self.count,
            "last_change_at": iso(self.last_change_at) if self.last_change_at else None,
        }


@dataclass(frozen=True)
class Change:
    """One published fact, mapped from one audit event."""

    seq: int
    hash: str
    prev_hash: str
    kind: str
    ticket: int | None
    at: datetime
    actor_id: int | None
    actor_name: str
    change: dict[str, Any]

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "kind": self.kind,
            "ticket": self.ticket,
            "at": iso(self.at),
            "actor": {"id": self.actor_id, "name": self.actor_name},
            "change": self.change,
            "hash": self.hash,
            "prev_hash": self.prev_hash,
        }


@dataclass(frozen=True)
class Page:
    items: tuple[Change, ...]
    next_cursor: str  # ask with this next; equals the head when `more` is false
    prev_hash: str | None  # the stored prev_hash of the first event after the cursor
    more: bool  # the page was cut at `limit`; ask again at once

    def as_json(self) -> dict[str, Any]:
        return {
            "items": [c.as_json() for c in self.items],
            "next_cursor": self.next_cursor,
            "prev_hash": self.prev_hash,
            "more": self.more,
        }


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- what is published ----------------------------------------------------------------------


def _pick(*keys: str, rename: dict[str, str] | None = None) -> Callable[[dict], dict]:
    names = rename or {}

    def read(details: dict) -> dict:
        return {names.get(k, k): details.get(k) for k in keys if k in details}

    return read


# audit action -> (published kind, the part of `details` that is the change itself). Anything
# not listed is internal chatter; listing is deliberate so nothing leaves the process unseen.
PUBLISHED: dict[str, tuple[str, Callable[[dict], dict]]] = {
    "ticket.created": ("ticket.opened", _pick("title")),
    "answer.accepted": ("field.set", _pick("field", "value", "old")),
    "field.changed": ("field.set", _pick("field", "new", "old", rename={"new": "value"})),
    "field.skipped": ("field.skipped", _pick("field")),
    "status.changed": ("status.changed", _pick("from", "to", "reason")),
    "ticket.assigned": (
        "ticket.assigned",
        _pick("new", "user_id", "old", rename={"new": "assignee", "user_id": "assignee_id"}),
    ),
    "step.done": ("step.done", _pick("step", "title")),
    "comment.added": ("comment.added", _pick("text")),
    "attachment.added": (
        "attachment.added",
        _pick("attachment", "kind", "file_name", "mime_type", "size", "sha256", "note", "too_big"),
    ),
    "ticket.cancelled": ("ticket.cancelled", _pick("reason")),
    "resolution.cancelled": ("resolution.cancelled", _pick("reason")),
    "kb.article_written": ("article.written", _pick("path", "sha256")),
    "kb.self_served": ("ticket.self_served", _pick("path", "article")),
    # The sweep writes these; their details are the bot's own (levels, times), never user text.
    "reminder.sent": ("reminder.sent", dict),
    "reminder.escalated": ("reminder.escalated", dict),
    "reminder.acknowledged": ("reminder.acknowledged", dict),
    "reminder.snoozed": ("reminder.snoozed", dict),
}


# The columns of an audit event that a change is made of (`to_change`); the live view reads
# the same ones, plus who may see the ticket.
COLUMNS = (
    AuditEvent.id,
    AuditEvent.hash,
    AuditEvent.prev_hash,
    AuditEvent.action,
    AuditEvent.ticket_id,
    AuditEvent.at,
    AuditEvent.actor_id,
    AuditEvent.actor_name,
    AuditEvent.details,
)


def to_change(e: Any) -> Change | None:
    """The published fact for an audit event (model or row), or None for internal chatter."""
    mapping = PUBLISHED.get(e.action)
    if mapping is None:
        return None
    kind, read = mapping
    details = e.details if isinstance(e.details, dict) else {}
    return Change(
        seq=e.id,
        hash=e.hash,
        prev_hash=e.prev_hash,
        kind=kind,
        ticket=e.ticket_id,
        at=e.at,
        actor_id=e.actor_id,
        actor_name=e.actor_name,
        change=read(details),
    )


# --- scope ----------------------------------------------------------------------------------


def _in_scope(consumer: ConsumerConfig) -> ColumnElement[bool] | None:
    """A condition on `tickets` limiting a consumer to its chats; None when unlimited."""
    if not consumer.chats:
        return None
    chats = list(consumer.chats)
    return or_(Ticket.chat_id.in_(chats), Ticket.home_chat_id.in_(chats))


def _scoped(query: Select, consumer: ConsumerConfig) -> Select:
    condition = _in_scope(consumer)
    if condition is None:
        return query
    return query.join(Ticket, Ticket.id == AuditEvent.ticket_id).where(condition)


# --- the use cases --------------------------------------------------------------------------


def head(session: Session, consumer: ConsumerConfig) -> Head:
    """The newest event in the consumer's scope: cheap enough to poll."""
    newest = session.execute(
        _scoped(select(AuditEvent.id, AuditEvent.hash, AuditEvent.at), consumer)
        .order_by(AuditEvent.id.desc())
        .limit(1)
    ).first()
    if newest is None:
        return Head(GENESIS, 0, None)
    if consumer.chats:
        count = session.execute(
            _scoped(select(func.count()).select_from(AuditEvent), consumer)
        ).scalar_one()
    else:
        count = newest.id  # the audit sequence is gapless: the newest id is the count
    return Head(newest.hash, count, newest.at)


def resolve_cursor(session: Session, cursor: str) -> int:
    """The sequence number of the event whose hash is `cursor` (0 for GENESIS)."""
    if not _HASH.match(cursor):
        raise BadCursor("a cursor is the 64 hex digits of an audit hash")
    if cursor == GENESIS:
        return 0
    seq = session.execute(select(AuditEvent.id).where(AuditEvent.hash == cursor)).scalar()
    if seq is None:
        raise UnknownCursor(cursor)
    return seq


def changes(
    session: Session,
    *,
    consumer: ConsumerConfig,
    cursor: str | None = None,
    since: datetime | None = None,
    limit: int = DEFAULT_LIMIT,
) -> Page:
    """Up to `limit` in-scope events after `cursor` (or from `since`, or the start), oldest
    first; internal chatter is covered by the cursor but not published."""
    limit = max(1, min(int(limit), MAX_LIMIT))
    if cursor is not None:
        after = resolve_cursor(session, cursor)
        start = cursor
    elif since is not None:
        after = (
            session.execute(select(func.max(AuditEvent.id)).where(AuditEvent.at < since)).scalar()
            or 0
        )
        start = _hash_of(session, after)
    else:
        after, start = 0, GENESIS
    # Plain rows, not ORM objects: a 1,000-event page is read several times faster.
    rows: Sequence[Any] = session.execute(
        _scoped(select(*COLUMNS), consumer)
        .where(AuditEvent.id > after)
        .order_by(AuditEvent.id)
        .limit(limit)
    ).all()
    prev_hash = session.execute(
        select(AuditEvent.prev_hash).where(AuditEvent.id == after + 1)
    ).scalar()
    items = tuple(c for c in map(to_change, rows) if c is not None)
    return Page(
        items=items,
        next_cursor=rows[-1].hash if rows else start,
        prev_hash=prev_hash,
        more=len(rows) == limit,
    )


def _hash_of(session: Session, seq: int) -> str:
    if seq == 0:
        return GENESIS
    return session.execute(select(AuditEvent.hash).where(AuditEvent.id == seq)).scalar_one()


def continues(cursor: str, page: dict[str, Any]) -> bool:
    """Whether a page (as JSON) continues the chain from `cursor`: the first event after it
    names it as previous, and consecutive events within the page link up."""
    if page.get("prev_hash") not in (None, cursor):
        return False
    items = page.get("items", [])
    return all(b["prev_hash"] == a["hash"] for a, b in pairwise(items) if b["seq"] == a["seq"] + 1)


def ticket_state(session: Session, consumer: ConsumerConfig, number: int) -> dict[str, Any] | None:
    """The current state of ticket `number`, or None if unknown or outside the scope."""
    query = select(Ticket).where(Ticket.id == number)
    condition = _in_scope(consumer)
    if condition is not None:
        query = query.where(condition)
    t = session.execute(query).scalar_one_or_none()
    if t is None:
        return None
    fields = session.execute(
        select(TicketField).where(TicketField.ticket_id == number).order_by(TicketField.id)
    ).scalars()
    steps = session.execute(
        select(StepDone).where(StepDone.ticket_id == number).order_by(StepDone.id)
    ).scalars()

    def when(at: datetime | None) -> str | None:
        return iso(at) if at else None

    return {
        "number": t.id,
        "title": t.title,
        "procedure": {"id": t.procedure_id, "version": t.procedure_version},
        "status": t.status,
        "close_reason": t.close_reason,
        "reporter": {"id": t.reporter_id, "name": t.reporter_name},
        "assignee": {"id": t.assignee_id, "name": t.assignee_name} if t.assignee_id else None,
        "chat_id": t.chat_id,
        "home_chat_id": t.home_chat_id,
        "created_at": when(t.created_at),
        "updated_at": when(t.updated_at),
        "due_at": when(t.due_at),
        "resolved_at": when(t.resolved_at),
        "closed_at": when(t.closed_at),
        "escalation_level": t.escalation_level,
        "fields": {f.name: f.value for f in fields},
        "steps_done": [
            {"step": s.step_id, "by": s.done_by_name, "at": when(s.done_at)} for s in steps
        ],
    }

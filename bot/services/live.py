"""The live view's read side: who may see which change, and the changes after a sequence number.

Changes come from the audit chain exactly as the change feed publishes them (`feed.to_change`):
the same kinds, the same item shape, the event's hash as the cursor. Each one carries the facts
of its ticket that decide who may see it, read in the same query, so one read serves every
connected browser.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from bot.config import Config
from bot.db.models import AuditEvent, Ticket
from bot.domain.audit_chain import GENESIS
from bot.services import feed
from bot.services.signin import Visitor

# A reconnect further behind than this many events gets a fresh page instead of a replay.
REPLAY_LIMIT = 5000
PRIVATE = "private"


@dataclass(frozen=True)
class Viewer:
    """A signed-in person and what they may see: leads everything; members their own tickets
    (reported or assigned) and every ticket of the group chats those are in."""

    user_id: int
    name: str
    lead: bool
    chats: frozenset[int] = frozenset()

    def sees(self, change: LiveChange) -> bool:
        if self.lead:
            return True
        if change.ticket is None:
            return False
        return (
            self.user_id in (change.reporter_id, change.assignee_id)
            or change.chat_id in self.chats
            or change.home_chat_id in self.chats
        )

    def learning(self, change: LiveChange) -> Viewer:
        """The viewer after `change`: a ticket of theirs in a new group chat opens that chat."""
        if (
            self.lead
            or self.user_id not in (change.reporter_id, change.assignee_id)
            or change.chat_type == PRIVATE
        ):
            return self
        new = {c for c in (change.chat_id, change.home_chat_id) if c is not None} - self.chats
        return replace(self, chats=self.chats | new) if new else self

    def tickets(self) -> ColumnElement[bool] | None:
        """The same rule as a condition on `tickets`; None when everything is visible."""
        if self.lead:
            return None
        t = Ticket
        chats = list(self.chats)
        return or_(
            t.reporter_id == self.user_id,
            t.assignee_id == self.user_id,
            t.chat_id.in_(chats),
            t.home_chat_id.in_(chats),
        )


def viewer_of(session: Session, who: Visitor, config: Config) -> Viewer:
    """The viewer for a signed-in person, their chats read from their tickets."""
    if config.is_lead(who.user_id):
        return Viewer(who.user_id, who.name, lead=True)
    t = Ticket
    mine = (t.reporter_id == who.user_id) | (t.assignee_id == who.user_id)
    rows = session.execute(
        select(t.chat_id, t.home_chat_id).where(mine, t.chat_type != PRIVATE).distinct()
    ).all()
    chats = frozenset(c for row in rows for c in row if c is not None)
    return Viewer(who.user_id, who.name, lead=False, chats=chats)


@dataclass(frozen=True)
class LiveChange:
    """One published change, its message encoded once for every browser allowed to see it."""

    seq: int
    cursor: str
    ticket: int | None
    message: str  # JSON: {"cursor": ..., "item": <the change feed's item>}
    reporter_id: int | None = None
    assignee_id: int | None = None
    chat_id: int | None = None
    home_chat_id: int | None = None
    chat_type: str | None = None


@dataclass(frozen=True)
class Batch:
    changes: tuple[LiveChange, ...]
    last_seq: int  # the last event covered, published or not


def message(cursor: str, item: dict[str, Any]) -> str:
    return json.dumps({"cursor": cursor, "item": item}, ensure_ascii=False, separators=(",", ":"))


_COLUMNS = (
    *feed.COLUMNS,
    Ticket.reporter_id,
    Ticket.assignee_id,
    Ticket.chat_id,
    Ticket.home_chat_id,
    Ticket.chat_type,
)


def head_seq(session: Session) -> int:
    """The newest event's sequence number: one index lookup, cheap to poll."""
    return int(session.execute(select(func.max(AuditEvent.id))).scalar() or 0)


def head(session: Session) -> tuple[int, str]:
    """The newest event's sequence number and hash (the cursor a fresh page starts from)."""
    row = session.execute(
        select(AuditEvent.id, AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).first()
    return (row.id, row.hash) if row else (0, GENESIS)


def seq_of(session: Session, cursor: str) -> int | None:
    """The sequence number a cursor names; None when it is malformed or not in the chain."""
    try:
        return feed.resolve_cursor(session, cursor)
    except (feed.BadCursor, feed.UnknownCursor):
        return None


def changes_after(
    session: Session, seq: int, *, until: int | None = None, limit: int = 1000
) -> Batch:
    """The published changes after `seq` (up to `until`), oldest first, at most `limit` events."""
    query = (
        select(*_COLUMNS)
        .outerjoin(Ticket, Ticket.id == AuditEvent.ticket_id)
        .where(AuditEvent.id > seq)
        .order_by(AuditEvent.id)
        .limit(limit)
    )
    if until is not None:
        query = query.where(AuditEvent.id <= until)
    rows: Sequence[Any] = session.execute(query).all()
    out = []
    for row in rows:
        change = feed.to_change(row)
        if change is None:
            continue
        out.append(
            LiveChange(
                seq=row.id,
                cursor=row.hash,
                ticket=row.ticket_id,
                message=message(row.hash, change.as_json()),
                reporter_id=row.reporter_id,
                assignee_id=row.assignee_id,
                chat_id=row.chat_id,
                home_chat_id=row.home_chat_id,
                chat_type=row.chat_type,
            )
        )
    return Batch(tuple(out), rows[-1].id if rows else seq)

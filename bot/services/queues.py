"""Claiming work from a table that is a queue per chat (the inbox, the outbox).

Several workers, in one process or several, may claim at the same moment. Each claim takes, chat
by chat, a prefix of that chat's waiting rows (so a chat's work is done in order, and a row that
must wait holds back the ones after it in its chat only) and leases it: nobody else claims those
rows until the lease runs out. A live worker renews its lease; a dead one's runs out.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

Row = TypeVar("Row")


def claim(
    session: Session,
    model: type[Row],
    *,
    key: InstrumentedAttribute[Any],
    chat: InstrumentedAttribute[Any],
    waiting: ColumnElement[bool],
    now: datetime,
    lease: timedelta,
    limit: int,
) -> list[Row]:
    """Lease what may be worked on now: a prefix of each chat's waiting rows, oldest first."""
    claimed_until = model.claimed_until  # type: ignore[attr-defined]
    not_before = model.not_before  # type: ignore[attr-defined]
    free = or_(claimed_until.is_(None), claimed_until <= now)
    query = select(model).where(waiting, free, not_before <= now).order_by(key).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    candidates = list(session.scalars(query))
    if not candidates:
        return []
    chats = {getattr(row, chat.key) for row in candidates} - {None}
    # Every row still waiting in those chats, leased or not: a chat's row may be taken only
    # when every older waiting row of the same chat is taken with it.
    queued = session.execute(select(chat, key).where(waiting, chat.in_(chats)).order_by(key)).all()
    mine = {getattr(row, key.key): row for row in candidates}
    blocked: set[Any] = set()
    allowed: set[Any] = set()
    for chat_id, row_key in queued:
        if chat_id in blocked:
            continue
        if row_key in mine:
            allowed.add(row_key)
        else:
            blocked.add(chat_id)
    taken = [
        row
        for row in candidates
        if getattr(row, chat.key) is None or getattr(row, key.key) in allowed
    ]
    until = now + lease
    for row in taken:
        row.claimed_until = until  # type: ignore[attr-defined]
    return taken


def later(
    session: Session,
    model: type[Any],
    key: InstrumentedAttribute[Any],
    row_key: Any,
    waiting: ColumnElement[bool],
    until: datetime,
    error: str,
) -> None:
    """Not now: free the row, and do not claim it again before `until`."""
    session.execute(
        update(model)
        .where(key == row_key, waiting)
        .values(
            not_before=until,
            claimed_until=None,
            attempts=model.attempts + 1,
            error=error[:1000],
        )
    )


def renew(
    session: Session,
    model: type[Any],
    key: InstrumentedAttribute[Any],
    keys: list[Any],
    waiting: ColumnElement[bool],
    until: datetime,
) -> None:
    """Keep these rows leased until `until` (only those still waiting)."""
    session.execute(update(model).where(key.in_(keys), waiting).values(claimed_until=until))

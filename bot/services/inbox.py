"""Every update from Telegram, stored before Telegram is told it arrived, and handled from here.

The adapter stores what `getUpdates` returned (`store`) before it asks for the next batch with a
higher offset, which is what tells Telegram the earlier ones arrived; in webhook mode it stores
the update before answering 200. A redelivered update is stored once: unique by update id, and
by chat and message id (the same message under a new update id) or callback query id.

Workers then `claim` what waits, a prefix of each chat's updates (one chat's updates are handled
in order), leased while they work. The engine marks an update handled in the same transaction
as everything the update changed (`mark_handled`), so an update is handled once even if the
worker dies just after: a second try finds it handled and changes nothing. An update that never
reaches the engine (group chatter, a chat the bot leaves) is marked `done` by the worker.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from bot.db.models import InboxUpdate
from bot.services import queues
from bot.services.database import Database

LEASE = timedelta(seconds=10)
RETRY_AFTER = timedelta(seconds=2)  # an update the database was too busy for, tried again
CLAIM_LIMIT = 100
_WAITING = InboxUpdate.handled_at.is_(None)


class TryLater(Exception):
    """The update could not be handled now (the database was busy); it stays in the inbox."""


class AlreadyHandled(Exception):
    """The update was handled before (by another worker, or before a crash)."""


@dataclass(frozen=True)
class Waiting:
    """A claimed update: its id and what Telegram sent."""

    update_id: int
    payload: Mapping[str, Any]
    attempts: int
    received_at: datetime


def dedupe_key(update: Mapping[str, Any]) -> str:
    """What makes two updates the same: the chat and message, or the button press."""
    query = update.get("callback_query")
    if query and query.get("id"):
        return f"c:{query['id']}"[:100]
    message = update.get("message")
    if message and message.get("chat") and message.get("message_id") is not None:
        return f"m:{message['chat']['id']}:{message['message_id']}"
    edit = update.get("edited_message")
    if edit and edit.get("chat") and edit.get("message_id") is not None:
        # Each edit is news (and is answered), not the message seen again: its time tells
        # one edit from the next.
        return f"e:{edit['chat']['id']}:{edit['message_id']}:{edit.get('edit_date', '')}"
    return f"u:{update['update_id']}"


def chat_of(update: Mapping[str, Any]) -> int | None:
    """The chat whose updates are handled in order with this one."""
    for key in ("message", "edited_message", "my_chat_member", "chat_member"):
        part = update.get(key)
        if part and part.get("chat"):
            return int(part["chat"]["id"])
    query = update.get("callback_query")
    if query:
        message = query.get("message")
        if message and message.get("chat"):
            return int(message["chat"]["id"])
        return int(query["from"]["id"])
    return None


def mark_handled(session: Session, update_id: int, now: datetime) -> None:
    """In the engine's transaction: this update is handled; raises if it already was."""
    result = session.execute(
        update(InboxUpdate)
        .where(InboxUpdate.update_id == update_id, _WAITING)
        .values(handled_at=now, claimed_until=None)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        known = session.get(InboxUpdate, update_id)
        if known is not None:  # handled already; an update the inbox never saw goes on
            raise AlreadyHandled(update_id)


class Inbox:
    """The adapter's side of the inbox, one transaction per call."""

    def __init__(self, db: Database):
        self.db = db

    def store(self, updates: Sequence[Mapping[str, Any]], now: datetime) -> int:
        """Keep these updates (those not seen before); returns how many were new."""
        if not updates:
            return 0
        rows = [
            {
                "update_id": int(u["update_id"]),
                "dedupe_key": dedupe_key(u),
                "chat_id": chat_of(u),
                "payload": dict(u),
                "received_at": now,
                "not_before": now,
                "attempts": 0,
            }
            for u in updates
        ]

        def work(session: Session) -> int:
            statement = _INSERT[session.get_bind().dialect.name]
            return sum(len(session.execute(statement, row).all()) for row in rows)

        return self.db.run(work)

    def last_update_id(self) -> int | None:
        """The newest update stored: polling goes on after it."""
        with self.db.reading() as session:
            return session.scalar(select(func.max(InboxUpdate.update_id)))

    def claim(self, now: datetime, *, limit: int = CLAIM_LIMIT) -> list[Waiting]:
        """Lease the updates that may be handled now, a prefix of each chat's, oldest first."""

        def work(session: Session) -> list[Waiting]:
            taken = queues.claim(
                session,
                InboxUpdate,
                key=InboxUpdate.update_id,
                chat=InboxUpdate.chat_id,
                waiting=_WAITING,
                now=now,
                lease=LEASE,
                limit=limit,
            )
            return [Waiting(r.update_id, r.payload, r.attempts, r.received_at) for r in taken]

        return self.db.run(work)

    def done(self, update_ids: Sequence[int], now: datetime) -> None:
        """Handled without the engine (or by it already): nothing more to do for these."""
        if update_ids:
            self.db.run(
                lambda session: session.execute(
                    update(InboxUpdate)
                    .where(InboxUpdate.update_id.in_(list(update_ids)), _WAITING)
                    .values(handled_at=now, claimed_until=None)
                )
            )

    def later(self, update_id: int, until: datetime, error: str) -> None:
        """Not handled this time (the database was busy): try again from `until`."""
        self.db.run(
            lambda session: queues.later(
                session, InboxUpdate, InboxUpdate.update_id, update_id, _WAITING, until, error
            )
        )

    def renew(self, update_ids: Sequence[int], now: datetime) -> None:
        if update_ids:
            self.db.run(
                lambda session: queues.renew(
                    session,
                    InboxUpdate,
                    InboxUpdate.update_id,
                    list(update_ids),
                    _WAITING,
                    now + LEASE,
                )
            )

    def waiting_count(self) -> int:
        with self.db.reading() as session:
            return session.scalar(select(func.count(InboxUpdate.update_id)).where(_WAITING)) or 0


_T = InboxUpdate.__table__
# Stored once, whichever of its unique keys (update id, chat and message) was seen before.
_INSERT = {
    "sqlite": sqlite.insert(_T).on_conflict_do_nothing().returning(_T.c.update_id),
    "postgresql": postgresql.insert(_T).on_conflict_do_nothing().returning(_T.c.update_id),
}

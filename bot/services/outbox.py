"""What the bot owes people, stored with the change that makes it owed and sent until it is sent.

The engine writes its replies here in the transaction of the message that caused them
(`owe`): if that transaction commits, the replies exist; if not, neither do they. A sender (the
Telegram adapter's `OutboxSender`) then works through the outbox:

- `claim` takes, chat by chat, the oldest messages still owed that nobody else holds, and
  leases them for a while. A chat's messages are claimed only as a prefix of its queue, so they
  go out in the order they were written even with several senders; a message that must wait
  (Telegram said "retry after") holds back the ones after it in that chat.
- `sent` records where a message landed (and, for messages about a ticket, that a reply to it
  reaches the ticket), in one transaction.
- `later` puts a message back with a time before which it is not tried again.
- `refused` gives up on a message Telegram will never take (the person blocked the bot, the
  chat is gone): the audit trail says so and the leads are told, once per chat and day.

A sender that dies leaves its claims to run out; the messages are claimed again and sent. The
one gap is a sender that dies after Telegram took a message and before `sent` committed: that
message is sent twice. Nothing is ever lost.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, func, select, update
from sqlalchemy.orm import Session

from bot.config import Config
from bot.db.models import OutboxMessage, Person
from bot.domain.actors import SYSTEM
from bot.render import render
from bot.services import audit, queues, records
from bot.services.database import Database
from bot.services.languages import chat_language
from bot.services.messages import Attachment, Button, Delivered, Reply, StoredFile

LEASE = timedelta(seconds=10)  # a live sender renews its claims; a dead one's run out soon
CLAIM_LIMIT = 200  # messages looked at in one claim
GIVE_UP_AFTER = timedelta(days=1)  # a message that could not be sent for this long is refused
LEADS_TOLD_EVERY = timedelta(days=1)  # about one chat that refuses messages


@dataclass(frozen=True)
class Sent:
    """A claimed message that went out, as these Telegram messages, at `at`."""

    owed: Owed
    message_ids: tuple[int, ...]
    at: datetime


@dataclass(frozen=True)
class Owed:
    """A message claimed for sending: its row id, what to send, and how often it was tried."""

    id: int
    reply: Reply
    attempts: int
    created_at: datetime


@dataclass(frozen=True)
class Fate:
    """Where one owed message stands: sent (as `message_id`), waiting (until `not_before`, after
    `error`), or refused for good (`error`)."""

    state: str  # sent, waiting, refused
    message_id: int | None
    not_before: datetime
    error: str | None


def owe(session: Session, replies: Sequence[Reply], now: datetime) -> list[OutboxMessage]:
    """Store `replies` as owed, in the caller's transaction (their ids once it flushes)."""
    rows = [_row(reply, now) for reply in replies]
    session.add_all(rows)
    return rows


def _row(reply: Reply, now: datetime) -> OutboxMessage:
    attachment = reply.attachment
    return OutboxMessage(
        chat_id=reply.chat_id,
        kind=reply.kind,
        ticket_id=reply.ticket_id,
        text=reply.text,
        buttons=[[[b.label, b.data] for b in row] for row in reply.buttons],
        reply_to=reply.reply_to,
        thread_id=reply.thread_id,
        edit_message_id=reply.edit_message_id,
        attachment_name=attachment.filename if attachment else None,
        attachment=attachment.content if attachment else None,
        attachment_is_photo=attachment.is_photo if attachment else False,
        file_id=reply.file.file_id if reply.file else None,
        file_kind=reply.file.kind if reply.file else None,
        created_at=now,
        not_before=now,
        attempts=0,
    )


def _reply(row: OutboxMessage) -> Reply:
    attachment = None
    if row.attachment is not None:
        attachment = Attachment(
            row.attachment_name or "file", row.attachment, row.attachment_is_photo
        )
    return Reply(
        chat_id=row.chat_id,
        text=row.text,
        buttons=tuple(tuple(Button(label, data) for label, data in r) for r in row.buttons),
        reply_to=row.reply_to,
        thread_id=row.thread_id,
        ticket_id=row.ticket_id,
        kind=row.kind,
        edit_message_id=row.edit_message_id,
        attachment=attachment,
        file=StoredFile(row.file_id, row.file_kind or "document") if row.file_id else None,
    )


_OWED = and_(OutboxMessage.sent_at.is_(None), OutboxMessage.failed_at.is_(None))


class Outbox:
    """The sender's side of the outbox, one transaction per call."""

    def __init__(self, db: Database, config: Config):
        self.db = db
        self.config = config

    def chat_language(self, chat_id: int) -> str:
        """The language of a team chat, for what the sender says to it (merged announcements)."""
        return self.config.chat_language(chat_id)

    def owe(self, replies: Sequence[Reply], now: datetime) -> None:
        """Store `replies` as owed in a transaction of their own: for what the bot owes without
        a change to go with it (telling a person and the leads that their update failed)."""
        self.db.run(lambda session: owe(session, replies, now))

    def claim(self, now: datetime, *, limit: int = CLAIM_LIMIT) -> list[Owed]:
        """Lease the messages that may be sent now, oldest first, a prefix of each chat's
        queue; nobody else claims them until the lease runs out."""
        return self.db.run(lambda session: self._claim(session, now, limit))

    def _claim(self, session: Session, now: datetime, limit: int) -> list[Owed]:
        taken = queues.claim(
            session,
            OutboxMessage,
            key=OutboxMessage.id,
            chat=OutboxMessage.chat_id,
            waiting=_OWED,
            now=now,
            lease=LEASE,
            limit=limit,
        )
        return [Owed(row.id, _reply(row), row.attempts, row.created_at) for row in taken]

    def sent(self, done: Sequence[Sent]) -> None:
        """These messages went out: where each landed, and for messages about a ticket, that
        a reply to them reaches the ticket. One transaction for the lot."""

        def work(session: Session) -> None:
            delivered: list[Delivered] = []
            for s in done:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.id == s.owed.id)
                    .values(
                        sent_at=s.at,
                        claimed_until=None,
                        message_id=s.message_ids[0] if s.message_ids else None,
                    )
                )
                if s.owed.reply.ticket_id is not None:
                    delivered += [
                        Delivered(s.owed.reply, s.owed.reply.chat_id, m, s.at)
                        for m in s.message_ids
                    ]
            if delivered:
                records.remember_sent(session, delivered)

        if done:
            self.db.run(work)

    def later(self, owed: Owed, until: datetime, error: str, now: datetime) -> None:
        """Not now: try again from `until` (Telegram's "retry after", or a back-off)."""

        self.db.run(
            lambda session: queues.later(
                session, OutboxMessage, OutboxMessage.id, owed.id, _OWED, until, error
            )
        )

    def renew(self, ids: Sequence[int], now: datetime) -> None:
        """The sender is alive and still holds these: keep them claimed for another lease."""

        if ids:
            self.db.run(
                lambda session: queues.renew(
                    session, OutboxMessage, OutboxMessage.id, list(ids), _OWED, now + LEASE
                )
            )

    def release(self, owed: Sequence[Owed]) -> None:
        """Claimed but not tried (an older message of the chat must wait): free them now."""

        def work(session: Session) -> None:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id.in_([o.id for o in owed]), _OWED)
                .values(claimed_until=None)
            )

        if owed:
            self.db.run(work)

    def refused(self, owed: Owed, error: str, now: datetime) -> None:
        """Telegram will never take this message: audit it, and tell the leads once a day per
        chat (never about the leads' own chat, which could not receive it either)."""

        def work(session: Session) -> None:
            row = session.get(OutboxMessage, owed.id, with_for_update=True)
            if row is None or row.sent_at is not None or row.failed_at is not None:
                return
            row.failed_at, row.claimed_until, row.error = now, None, error[:1000]
            audit.record(
                session,
                now=now,
                actor=SYSTEM,
                action="message.undeliverable",
                ticket_id=row.ticket_id,
                details={"chat_id": row.chat_id, "kind": row.kind, "error": error[:300]},
            )
            if self._leads_told_lately(session, row, now):
                return
            person = session.get(Person, row.chat_id)  # a private chat's id is its person's
            who = person.name if person else None
            told = [
                Reply(
                    chat_id=c,
                    text=render(
                        "chat/undeliverable.html", chat_language(session, self.config, c), who=who
                    ),
                    kind="leads",
                )
                for c in self._leads(row)
            ]
            owe(session, told, now)

        self.db.run(work)

    def _leads(self, row: OutboxMessage) -> list[int]:
        targets = [self.config.chats[0].id] if self.config.chats else sorted(self.config.leads)
        return [c for c in targets if c != row.chat_id]

    def _leads_told_lately(self, session: Session, row: OutboxMessage, now: datetime) -> bool:
        """Whether the leads already heard about this chat refusing messages today."""
        told = session.scalar(
            select(OutboxMessage.id)
            .where(
                OutboxMessage.chat_id == row.chat_id,
                OutboxMessage.id != row.id,
                OutboxMessage.failed_at.is_not(None),
                OutboxMessage.failed_at > now - LEADS_TOLD_EVERY,
            )
            .limit(1)
        )
        return told is not None

    def fates(self, ids: Sequence[int]) -> dict[int, Fate]:
        """What became of these messages so far (for `sopbot sweep` to say)."""
        if not ids:
            return {}
        with self.db.reading() as session:
            rows = session.execute(
                select(
                    OutboxMessage.id,
                    OutboxMessage.message_id,
                    OutboxMessage.sent_at,
                    OutboxMessage.failed_at,
                    OutboxMessage.not_before,
                    OutboxMessage.error,
                ).where(OutboxMessage.id.in_(list(ids)))
            )
            return {
                r.id: Fate(
                    "sent" if r.sent_at else "refused" if r.failed_at else "waiting",
                    r.message_id,
                    r.not_before,
                    r.error,
                )
                for r in rows
            }

    def owed_count(self) -> int:
        """Messages still owed (for health checks and tests)."""
        with self.db.reading() as session:
            return session.scalar(select(func.count(OutboxMessage.id)).where(_OWED)) or 0

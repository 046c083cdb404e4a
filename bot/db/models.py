"""The schema, as SQLAlchemy 2 typed models. Migrations in `migrations/` must match it exactly."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from bot.db.types import JSONText, KindText, PayloadJSON, UTCDateTime
from bot.domain.question import Kind, Payload
from bot.domain.ticket import Ticket

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Counter(Base):
    """Gapless counters (ticket numbers, audit sequence); the row lock serialises writers."""

    __tablename__ = "counters"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger, default=0)


class Person(Base):
    """Someone the bot has seen, so `@username` can be resolved to a Telegram user id."""

    __tablename__ = "people"
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Chosen with /language (None: follow the Telegram app's, `language_code` as last seen).
    language: Mapped[str | None] = mapped_column(String(16))
    language_code: Mapped[str | None] = mapped_column(String(35))


# The domain's Ticket is mapped onto this table (imperative mapping), so the class that holds
# the rules is the class the ORM loads and saves; bot.domain knows nothing of it.
tickets = Table(
    "tickets",
    Base.metadata,
    # The ticket number people use; taken from the `ticket` counter, so 1, 2, 3 without gaps.
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("procedure_id", String(100), nullable=False),
    Column("procedure_version", String(64), nullable=False),
    Column("title", String(300), nullable=False),
    Column("description", Text, nullable=False, default=""),
    # Queries by status use ix_tickets_status_due_at (status leads it); no index of its own.
    Column("status", String(20), nullable=False),
    Column("close_reason", String(20)),
    Column("reporter_id", BigInteger, nullable=False, index=True),
    Column("reporter_name", String(200), nullable=False),
    Column("chat_id", BigInteger, nullable=False),
    Column("chat_type", String(20), nullable=False),
    Column("message_id", BigInteger),
    Column("thread_id", BigInteger),
    Column("home_chat_id", BigInteger),
    Column("assignee_id", BigInteger, index=True),
    Column("assignee_name", String(200)),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Column("opened_at", UTCDateTime),
    Column("due_at", UTCDateTime),
    Column("paused_at", UTCDateTime),
    Column("resolved_at", UTCDateTime),
    Column("closed_at", UTCDateTime),
    Column("reopen_count", Integer, nullable=False, default=0),
    Column("questions_asked", Integer, nullable=False, default=0),
    Column("invalid_answers", Integer, nullable=False, default=0),
    Column("chase_at", UTCDateTime),
    Column("last_reminded_at", UTCDateTime),
    Column("remind_count", Integer, nullable=False, default=0),
    Column("escalation_level", Integer, nullable=False, default=0),
    Column("snoozed_until", UTCDateTime),
    Column("acknowledged_at", UTCDateTime),
    # The sweep's only query: tickets whose chase time has come. Partial, so the index holds
    # the few thousand tickets that can be chased, not the million closed ones.
    Index(
        "ix_tickets_chase_at",
        "chase_at",
        postgresql_where=text("chase_at IS NOT NULL"),
        sqlite_where=text("chase_at IS NOT NULL"),
    ),
    Index("ix_tickets_status_due_at", "status", "due_at"),
    Index("ix_tickets_home_chat_id_status", "home_chat_id", "status"),
    Index("ix_tickets_opened_at", "opened_at"),
)
Base.registry.map_imperatively(Ticket, tickets)


class TicketField(Base):
    __tablename__ = "ticket_fields"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Queries by ticket use the unique (ticket_id, name) index, which leads with it.
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[Any] = mapped_column(JSONText, nullable=True)  # NULL: skipped
    phase: Mapped[str] = mapped_column(String(20), default="intake")
    set_by_id: Mapped[int | None] = mapped_column(BigInteger)
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("ticket_id", "name"),)


class PendingQuestion(Base):
    """What the bot is waiting to hear from one person in one chat; survives restarts."""

    __tablename__ = "pending_questions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"), unique=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    user_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[Kind] = mapped_column(KindText)
    field_name: Mapped[str | None] = mapped_column(String(100))
    payload: Mapped[Payload] = mapped_column(PayloadJSON, default=Payload)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_pending_questions_chat_user", "chat_id", "user_id", "asked_at"),)


class StepDone(Base):
    __tablename__ = "ticket_steps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Queries by ticket use the unique (ticket_id, step_id) index, which leads with it.
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"))
    step_id: Mapped[str] = mapped_column(String(100))
    done_by_id: Mapped[int] = mapped_column(BigInteger)
    done_by_name: Mapped[str] = mapped_column(String(200))
    done_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (UniqueConstraint("ticket_id", "step_id"),)


class Comment(Base):
    __tablename__ = "comments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    author_id: Mapped[int] = mapped_column(BigInteger)
    author_name: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class Watcher(Base):
    __tablename__ = "watchers"
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)


class BotMessage(Base):
    """A message the bot sent about a ticket, so a reply to it reaches that ticket."""

    __tablename__ = "bot_messages"
    chat_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    message_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    ticket_id: Mapped[int | None] = mapped_column(ForeignKey("tickets.id"))
    kind: Mapped[str] = mapped_column(String(30))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEvent(Base):
    """Append-only: a trigger refuses UPDATE and DELETE; each row chains the previous hash."""

    __tablename__ = "audit_events"
    # The audit sequence number (from the `audit` counter): gapless, so a deletion shows.
    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor_id: Mapped[int | None] = mapped_column(BigInteger)
    actor_name: Mapped[str] = mapped_column(String(200))
    ticket_id: Mapped[int | None] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(40))
    details: Mapped[Any] = mapped_column(JSONText)
    procedure_id: Mapped[str | None] = mapped_column(String(100))
    procedure_version: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)

    __table_args__ = (
        Index("ix_audit_events_ticket_id_id", "ticket_id", "id"),
        Index("ix_audit_events_actor_id_id", "actor_id", "id"),
    )


class Reminder(Base):
    """A digest, escalation or daily plan sent to a chat; `dedupe_key` makes it once only."""

    __tablename__ = "reminders"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(20))
    ticket_ids: Mapped[Any] = mapped_column(JSONText, default=list)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), unique=True)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (Index("ix_reminders_chat_id_sent_at", "chat_id", "sent_at"),)


class Article(Base):
    """A knowledge-base article on disk, mirrored here so it can be searched."""

    __tablename__ = "kb_articles"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(500), unique=True)
    ticket_id: Mapped[int | None] = mapped_column(Integer, index=True)
    procedure_id: Mapped[str | None] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    tags: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text, default="")
    sha256: Mapped[str] = mapped_column(String(64))
    mtime: Mapped[float] = mapped_column(Float, default=0.0)
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CatchupCursor(Base):
    """Where a person's last /catchup ended: the last audit event id they were shown."""

    __tablename__ = "catchup_cursors"
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InboxUpdate(Base):
    """An update from Telegram, stored before Telegram is told it arrived (the next getUpdates
    offset, or the webhook's 200), and handled from here: a crash at any moment leaves it to be
    handled after the restart, and a redelivered one is stored once."""

    __tablename__ = "inbox"
    update_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    # The same message under a new update id (Telegram after a crash, a webhook retry) is the
    # same: m:<chat>:<message>, c:<callback query id>, or u:<update id>.
    dedupe_key: Mapped[str] = mapped_column(String(100), unique=True)
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    payload: Mapped[Any] = mapped_column(JSONText)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "ix_inbox_waiting",
            "chat_id",
            "update_id",
            postgresql_where=text("handled_at IS NULL"),
            sqlite_where=text("handled_at IS NULL"),
        ),
    )


_OWED = text("sent_at IS NULL AND failed_at IS NULL")


class OutboxMessage(Base):
    """A message the bot owes someone, stored with the change that made it owed; the sender
    delivers it (in order per chat, within Telegram's limits) and records where it landed."""

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chat_id: Mapped[int] = mapped_column(BigInteger)
    kind: Mapped[str] = mapped_column(String(30))
    ticket_id: Mapped[int | None] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    buttons: Mapped[Any] = mapped_column(JSONText)  # rows of [label, data]
    reply_to: Mapped[int | None] = mapped_column(BigInteger)
    thread_id: Mapped[int | None] = mapped_column(BigInteger)
    edit_message_id: Mapped[int | None] = mapped_column(BigInteger)
    attachment_name: Mapped[str | None] = mapped_column(String(200))
    attachment: Mapped[bytes | None] = mapped_column(LargeBinary)
    attachment_is_photo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Not to be sent before this moment: Telegram's "retry after", or back-off after a failure.
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # A sender's claim: nobody else sends it before then (a sender that died lets it go).
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    # A file Telegram already holds, sent back by its id (a ticket's attachment).
    file_id: Mapped[str | None] = mapped_column(String(255))
    file_kind: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        # The sender's one query: what is still owed, chat by chat, oldest first. Partial, so
        # the index holds only the few messages not yet sent.
        Index(
            "ix_outbox_owed",
            "chat_id",
            "id",
            postgresql_where=_OWED,
            sqlite_where=_OWED,
        ),
    )


class Setting(Base):
    """Small process-wide facts kept in the database (e.g. the knowledge index's last scan)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[Any] = mapped_column(JSONText)


class Attachment(Base):
    """A file a person sent about a ticket: Telegram's id for it, and (when it could be
    downloaded) the sha256 of the bytes kept in the attachments folder. The audit event that
    added it carries the same facts, so the hash chain covers the file."""

    __tablename__ = "attachments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # None until the ticket exists (a first message that asks which kind of ticket it is).
    ticket_id: Mapped[int | None] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))  # photo, document, voice, audio, video, ...
    file_name: Mapped[str | None] = mapped_column(String(255))
    mime_type: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int | None] = mapped_column(BigInteger)
    sha256: Mapped[str | None] = mapped_column(String(64))  # None: too big to download
    file_id: Mapped[str] = mapped_column(String(255))
    file_unique_id: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)  # the caption, when it was not an answer
    field: Mapped[str | None] = mapped_column(String(100))  # the file field it answers
    media_group_id: Mapped[str | None] = mapped_column(String(64))
    chat_id: Mapped[int | None] = mapped_column(BigInteger)
    message_id: Mapped[int | None] = mapped_column(BigInteger)
    added_by_id: Mapped[int | None] = mapped_column(BigInteger)
    added_by_name: Mapped[str | None] = mapped_column(String(200))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        Index("ix_attachments_ticket_id_id", "ticket_id", "id"),
        Index("ix_attachments_media_group_id", "media_group_id"),
        Index("ix_attachments_chat_id_message_id", "chat_id", "message_id"),
    )


class ApiRequest(Base):
    """A write API request made with an `Idempotency-Key`: stored with the change it made, so
    the same key again gets the first answer and never a second ticket."""

    __tablename__ = "api_requests"
    client: Mapped[str] = mapped_column(String(100), primary_key=True)
    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))  # of the request it was first used for
    status: Mapped[int | None] = mapped_column(Integer)
    body: Mapped[Any] = mapped_column(JSONText, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class WebhookCursor(Base):
    """How far in the change feed a webhook's deliveries were queued (a feed cursor)."""

    __tablename__ = "webhook_cursors"
    webhook: Mapped[str] = mapped_column(String(100), primary_key=True)
    cursor: Mapped[str] = mapped_column(String(64))


_WAITING = text("delivered_at IS NULL AND failed_at IS NULL")


class WebhookDelivery(Base):
    """One change-feed item owed to one webhook; a lane (webhook and ticket) is delivered in
    order, with the same claim/lease/later machinery as the outbox."""

    __tablename__ = "webhook_deliveries"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    webhook: Mapped[str] = mapped_column(String(100))
    lane: Mapped[str] = mapped_column(String(120))
    seq: Mapped[int] = mapped_column(BigInteger)
    body: Mapped[str] = mapped_column(Text)  # the exact bytes signed and sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    not_before: Mapped[datetime] = mapped_column(UTCDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        Index(
            "ix_webhook_deliveries_waiting",
            "lane",
            "id",
            postgresql_where=_WAITING,
            sqlite_where=_WAITING,
        ),
    )


class ApprovalDecision(Base):
    """One approver's decision on an approval step (approve, or reject with a reason)."""

    __tablename__ = "approval_decisions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer)
    step_id: Mapped[str] = mapped_column(String(100))
    round: Mapped[int] = mapped_column(Integer)  # the ticket's reopen count when decided
    approver_id: Mapped[int] = mapped_column(BigInteger)
    approver_name: Mapped[str] = mapped_column(String(200))
    decision: Mapped[str] = mapped_column(String(10))  # approve, reject
    note: Mapped[str] = mapped_column(Text)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime)
    procedure_version: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (UniqueConstraint("ticket_id", "step_id", "round", "approver_id"),)


_UNDECIDED = text("decided_at IS NULL")


class ApprovalRequest(Base):
    """An approval asked for: from when, until when, when to remind its approvers next."""

    __tablename__ = "approval_requests"
    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    step_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    round: Mapped[int] = mapped_column(Integer, primary_key=True)
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    remind_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(10))  # approved, rejected
    procedure_version: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        Index(
            "ix_approval_requests_open",
            "remind_at",
            postgresql_where=_UNDECIDED,
            sqlite_where=_UNDECIDED,
        ),
    )


class DashboardLink(Base):
    """A one-time sign-in link `/dashboard` sent: usable once, within minutes."""

    __tablename__ = "dashboard_links"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the token
    user_id: Mapped[int] = mapped_column(BigInteger)
    user_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DashboardSession(Base):
    """A browser signed in to the live view (through a link or as a Telegram Mini App)."""

    __tablename__ = "dashboard_sessions"
    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 of the cookie
    user_id: Mapped[int] = mapped_column(BigInteger, index=True)
    user_name: Mapped[str] = mapped_column(String(200))
    via: Mapped[str] = mapped_column(String(20))  # link or miniapp
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class RetroAnswer(Base):
    """One answer to a procedure's retrospective question, given as a ticket was resolved."""

    __tablename__ = "retro_answers"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer)
    round: Mapped[int] = mapped_column(Integer)  # the ticket's reopen count when resolved
    procedure_id: Mapped[str] = mapped_column(String(100))
    procedure_version: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(100))
    value: Mapped[Any] = mapped_column(JSONText, nullable=True)  # NULL: skipped
    reasons: Mapped[Any] = mapped_column(JSONText)  # why it was asked: late, reopened, ...
    answered_by_id: Mapped[int | None] = mapped_column(BigInteger)
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)

    __table_args__ = (
        UniqueConstraint("ticket_id", "round", "name"),
        # The weekly digest: one procedure's answers of one week.
        Index("ix_retro_answers_procedure_id_answered_at", "procedure_id", "answered_at"),
    )


class Satisfaction(Base):
    """The reporter's 👍 / 👎 (and comment) on one resolution of a ticket; the row is made when
    they are asked, so each resolution asks once."""

    __tablename__ = "satisfaction"
    ticket_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    round: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    procedure_id: Mapped[str] = mapped_column(String(100))
    procedure_version: Mapped[str] = mapped_column(String(64))
    reporter_id: Mapped[int] = mapped_column(BigInteger)
    asked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    happy: Mapped[bool | None] = mapped_column(Boolean)  # None until they tap
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    comment: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_satisfaction_procedure_id", "procedure_id"),)


class ProcedureVersion(Base):
    """A procedure file's text as it was when first used, by its sha256: what a later version
    is compared with to say what changed."""

    __tablename__ = "procedure_versions"
    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    procedure_id: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(Text)
    first_used_at: Mapped[datetime] = mapped_column(UTCDateTime)


class LastVersion(Base):
    """The version of a procedure a person last worked a ticket under."""

    __tablename__ = "last_versions"
    user_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    procedure_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    version: Mapped[str] = mapped_column(String(64))
    worked_at: Mapped[datetime] = mapped_column(UTCDateTime)

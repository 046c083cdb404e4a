"""The attachments of tickets: recording a file on a ticket (audited), the files that wait for
the ticket their message creates, and listing them. Where a file belongs is `attaching`'s
decision; this module is the record, which ticket creation (`intake`) uses too."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from bot.db.models import Attachment
from bot.domain.ticket import Ticket
from bot.render import render
from bot.services import buttons as data
from bot.services.context import Ctx
from bot.services.messages import Button, IncomingFile

SHOWN = 10  # attachments listed with a button each under a ticket


def store(
    ctx: Ctx,
    files: Sequence[IncomingFile],
    ticket: Ticket | None,
    *,
    note: str | None,
    message_id: int | None = None,
    field: str | None = None,
) -> list[Attachment]:
    """Record `files` (on `ticket`, audited; or waiting for the ticket of `message_id`). A
    file already on the ticket (the same Telegram file) is not added twice."""
    inc = ctx.incoming
    if ticket is not None:
        known = set(
            ctx.session.scalars(
                select(Attachment.file_unique_id).where(Attachment.ticket_id == ticket.id)
            )
        )
        files = [f for f in files if f.file_unique_id is None or f.file_unique_id not in known]
    rows = [
        Attachment(
            ticket_id=ticket.id if ticket else None,
            kind=f.kind,
            file_name=(f.file_name or "")[:255] or None,
            mime_type=(f.mime_type or "")[:100] or None,
            size=f.size,
            sha256=f.sha256,
            file_id=f.file_id,
            file_unique_id=f.file_unique_id,
            note=note,
            field=field,
            media_group_id=f.media_group_id,
            chat_id=inc.chat_id,
            message_id=message_id if message_id is not None else inc.message_id,
            added_by_id=ctx.actor.user_id,
            added_by_name=ctx.actor.name,
            added_at=ctx.now,
        )
        for f in files
    ]
    ctx.session.add_all(rows)
    ctx.session.flush()
    if ticket is not None:
        for row in rows:
            audit(ctx, ticket, row)
        ticket.touch(ctx.now)
    return rows


def adopt(ctx: Ctx, ticket: Ticket, message_id: int | None) -> int:
    """Files sent with the message that made `ticket` join it; how many."""
    if message_id is None:
        return 0
    waiting = list(
        ctx.session.scalars(
            select(Attachment)
            .where(
                Attachment.ticket_id.is_(None),
                Attachment.chat_id == ticket.chat_id,
                Attachment.message_id == message_id,
            )
            .order_by(Attachment.id)
        )
    )
    for row in waiting:
        row.ticket_id = ticket.id
        audit(ctx, ticket, row)
    return len(waiting)


def of_ticket(ctx: Ctx, ticket_id: int) -> list[Attachment]:
    return list(
        ctx.session.scalars(
            select(Attachment).where(Attachment.ticket_id == ticket_id).order_by(Attachment.id)
        )
    )


def buttons(attachments: Sequence[Attachment]) -> tuple[tuple[Button, ...], ...]:
    """One "send it back" button per attachment (the first few)."""
    return tuple(
        (Button(data.label("send_file", text=name_of(a)), data.SendFile(a.id).encode()),)
        for a in attachments[:SHOWN]
    )


def name_of(a: Attachment) -> str:
    return a.file_name or render("chat/file_words.txt", files=[{"kind": a.kind, "name": None}])


def audit(ctx: Ctx, ticket: Ticket, row: Attachment) -> None:
    details: dict[str, Any] = {
        "attachment": row.id,
        "kind": row.kind,
        "file_name": row.file_name,
        "mime_type": row.mime_type,
        "size": row.size,
        "sha256": row.sha256,
        "file_id": row.file_id,
    }
    if row.note:
        details["note"] = row.note[:500]
    if row.sha256 is None:
        details["too_big"] = True
    ctx.audit_ticket("attachment.added", ticket, details)

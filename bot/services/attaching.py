"""Files on tickets: where a file a person sent belongs, and its record.

A file (its bytes already in the attachments folder, see `bot.telegram.files`) goes, in this
order, to:

1. the ticket of the album it belongs to, when an earlier picture of the album arrived;
2. the ticket named by `/attach N` (the caption, or a reply to a file);
3. the ticket whose message it replies to;
4. the ticket whose question is pending here: a caption that is a valid answer answers it,
   any other caption is kept as the file's note, and the question is asked again;
5. otherwise a new ticket, whose first message is the caption (or a word for the file).

A file sent before its ticket exists (the bot first asks which kind of ticket it is) is kept
without a ticket and joins the ticket its message creates (`adopt`). Each file that joins a
ticket is audited (`attachment.added`, with its sha256, size, type, name and Telegram file id),
so the audit chain covers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from bot.db.models import Attachment, PendingQuestion
from bot.domain.fields import Accepted, Reason, Rejected, parse_answer
from bot.domain.files import FileFacts, check_files
from bot.domain.procedure import FieldSpec, Procedure
from bot.domain.question import Kind, Phase
from bot.domain.ticket import Ticket
from bot.render import render
from bot.services import asking, attachments, intake, records, starting, tickets
from bot.services import buttons as data
from bot.services.asking import fields_for, question_for_message
from bot.services.context import Ctx, Registry, toast
from bot.services.messages import IncomingFile, Outcome, Reply, StoredFile


def install(registry: Registry) -> None:
    registry.command("attach", attach_command)
    registry.button(data.SendFile, send_back)


def receive(ctx: Ctx, text: str) -> None:
    """A message that carries files and no command: find where they belong (see above)."""
    files = ctx.incoming.files
    note = text or None
    album = next((f.media_group_id for f in files if f.media_group_id), None)
    if album is not None:
        earlier = ctx.session.scalars(
            select(Attachment)
            .where(Attachment.media_group_id == album, Attachment.chat_id == ctx.incoming.chat_id)
            .limit(1)
        ).first()
        if earlier is not None:  # the album's first picture already said where (and replied)
            ticket = (
                records.lock_ticket(ctx.session, earlier.ticket_id) if earlier.ticket_id else None
            )
            rows = attachments.store(
                ctx, files, ticket, note=note, message_id=earlier.message_id, field=earlier.field
            )
            if ticket is not None and earlier.field is not None:
                _add_to_field(ctx, ticket, earlier.field, rows)
            return
    replied = _replied_ticket(ctx)
    if replied is not None:
        attachments.store(ctx, files, replied, note=note)
        ctx.say("chat/attached.html", ticket=replied, files=_described(files), ticket_id=replied.id)
        return
    pending, ticket = question_for_message(ctx)
    if pending is not None and ticket is not None:
        _with_question(ctx, pending, ticket, text)
        return
    if pending is not None:  # which kind of ticket: the files wait for the ticket it makes
        attachments.store(ctx, files, None, note=note, message_id=pending.payload.message_id)
        ctx.say("chat/attached_later.html", files=_described(files))
        return
    attachments.store(ctx, files, None, note=None)
    starting.start(ctx, text or render("chat/file_words.txt", files=_described(files)), None)


def before_command(ctx: Ctx) -> None:
    """Files sent with a command (`/new bug ...` as a caption): kept for the ticket the command
    makes from this message. `/attach` takes them itself."""
    attachments.store(ctx, ctx.incoming.files, None, note=None)


def attach_command(ctx: Ctx, args: str) -> None:
    """`/attach N [note]` as a file's caption, or in reply to a message with a file."""
    if not ctx.incoming.files:
        ctx.say("chat/usage.html", command="attach")
        return
    ticket, note = tickets.find(ctx, args, "attach")
    if ticket is None:
        return
    added = attachments.store(ctx, ctx.incoming.files, ticket, note=note or None)
    if not added:
        ctx.say("chat/attached_already.html", ticket=ticket, ticket_id=ticket.id)
        return
    ctx.say(
        "chat/attached.html",
        ticket=ticket,
        files=_described(ctx.incoming.files),
        ticket_id=ticket.id,
    )


def send_back(ctx: Ctx, pressed: data.SendFile) -> Outcome | None:
    """The attachment's file, sent again into this chat by its Telegram id."""
    row = ctx.session.get(Attachment, pressed.attachment)
    if row is None or row.ticket_id is None:
        return toast("gone")
    ctx.send(
        Reply(
            chat_id=ctx.incoming.chat_id,
            text=render("chat/attachment_caption.html", attachment=row),
            thread_id=ctx.incoming.thread_id,
            ticket_id=row.ticket_id,
            file=StoredFile(row.file_id, row.kind),
        )
    )
    return None


def _with_question(ctx: Ctx, pending: PendingQuestion, ticket: Ticket, text: str) -> None:
    """Files while a question of `ticket` waits: a caption that answers it answers it."""
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        attachments.store(ctx, ctx.incoming.files, ticket, note=text or None)
        return
    spec = _asked(pending, procedure)
    if spec is not None and spec.type == "file":
        _answer_with_files(ctx, pending, ticket, procedure, spec, text)
        return
    if text and _answers(ctx, pending, procedure, text):
        attachments.store(ctx, ctx.incoming.files, ticket, note=None)
        intake.answer(ctx, ticket, pending, text)
        return
    attachments.store(ctx, ctx.incoming.files, ticket, note=text or None)
    ctx.say(
        "chat/attached.html",
        ticket=ticket,
        files=_described(ctx.incoming.files),
        ticket_id=ticket.id,
        still_asked=True,
    )
    intake.advance(ctx, ticket, procedure, pending.payload.phase)


def _asked(pending: PendingQuestion, procedure: Procedure) -> FieldSpec | None:
    """The field the pending question asks for, if it asks for one."""
    if pending.kind != Kind.FIELD:
        return None
    fields = fields_for(procedure, pending.payload.phase)
    return next((f for f in fields if f.name == pending.field_name), None)


def _answers(ctx: Ctx, pending: PendingQuestion, procedure: Procedure, text: str) -> bool:
    spec = _asked(pending, procedure)
    return spec is not None and isinstance(
        parse_answer(spec, text, ctx.config.tz, ctx.now), Accepted
    )


def _answer_with_files(
    ctx: Ctx,
    pending: PendingQuestion,
    ticket: Ticket,
    procedure: Procedure,
    spec: FieldSpec,
    text: str,
) -> None:
    """Files for a file field: of a kind and size it takes and enough of them answer it (the
    caption is their note); others stay on the ticket and the question is asked again."""
    files = ctx.incoming.files
    phase = pending.payload.phase
    earlier = [a for a in attachments.of_ticket(ctx, ticket.id) if a.field == spec.name]
    outcome = check_files(spec, [_facts(f) for f in files], already=len(earlier))
    counts = isinstance(outcome, Accepted) or outcome.code == Reason.TOO_FEW_FILES
    rows = attachments.store(
        ctx, files, ticket, note=text or None, field=spec.name if counts else None
    )
    if isinstance(outcome, Rejected):
        ticket.invalid_answers += 1
        error = asking.refuse_answer(ctx, ticket, procedure, spec, outcome, text)
        if not counts:
            error = render("chat/file_kept.txt", error=error, files=_described(files))
        asking.ask(ctx, ticket, procedure, spec, phase, errors=[error], repeat=True)
        return
    value = [
        {"attachment": a.id, "name": a.file_name, "kind": a.kind, "size": a.size}
        for a in (*earlier, *rows)
    ]
    asking.store_value(ctx, ticket, procedure, spec, value, phase)
    if pending.payload.changing:
        asking.ask_confirm(ctx, ticket, procedure)
        return
    intake.advance(ctx, ticket, procedure, phase)


def _add_to_field(ctx: Ctx, ticket: Ticket, name: str, rows: list[Attachment]) -> None:
    """An album's later files join the file field its first file answered, up to its most."""
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    spec = procedure.field(name) if procedure is not None else None
    value = records.values_of(ctx.session, ticket.id).get(name)
    if procedure is None or spec is None or not isinstance(value, list):
        return
    room = (spec.max_count or len(value) + len(rows)) - len(value)
    added = [
        {"attachment": a.id, "name": a.file_name, "kind": a.kind, "size": a.size}
        for a in rows[: max(0, room)]
    ]
    if added:
        asking.store_value(ctx, ticket, procedure, spec, value + added, Phase.INTAKE)
    for a in rows[max(0, room) :]:
        a.field = None  # beyond what the field takes: kept on the ticket all the same


def _facts(f: IncomingFile) -> FileFacts:
    return FileFacts(kind=f.kind, mime_type=f.mime_type, file_name=f.file_name, size=f.size)


def _replied_ticket(ctx: Ctx) -> Ticket | None:
    inc = ctx.incoming
    if inc.reply_to_message_id is None:
        return None
    ticket_id = records.ticket_for_message(ctx.session, inc.chat_id, inc.reply_to_message_id)
    if ticket_id is None:
        return None
    pending = records.pending_for_ticket(ctx.session, ticket_id)
    if pending is not None and pending.user_id == inc.user.user_id:
        return None  # a reply to its question: the question decides (step 4)
    return records.lock_ticket(ctx.session, ticket_id)


def _described(files: Sequence[IncomingFile]) -> list[dict[str, Any]]:
    return [
        {"kind": f.kind, "name": f.file_name, "size": f.size, "too_big": f.too_big} for f in files
    ]

"""Starting a ticket: which procedure a first message is for, by `/new <command>`, by a single
keyword match, or by asking the person to choose (a question of its own, before any ticket)."""

from __future__ import annotations

from bot.db.models import PendingQuestion
from bot.domain.question import Kind, Payload
from bot.procedures.errors import ProcedureError
from bot.services import buttons as data
from bot.services import intake, records
from bot.services.context import Ctx
from bot.services.messages import Button


def start(ctx: Ctx, text: str, command: str | None) -> None:
    """Open a draft: by `/new <command>`, by a single keyword match, or by asking."""
    if command:
        procedure = by_command(ctx, command)
        if procedure is not None:
            intake.create_ticket(ctx, procedure, text, ctx.incoming.message_id)
        return
    matches = ctx.procedures.match(text, ctx.lang) if text else []
    if len(matches) == 1:
        procedure = ctx.procedure(matches[0].id)
        if procedure is not None:
            intake.create_ticket(ctx, procedure, text, ctx.incoming.message_id)
        return
    offer_procedures(ctx, text, [p.id for p in matches])


def by_command(ctx: Ctx, command: str):
    """The procedure `/new <command>` names; a broken one is reported like at any step."""
    try:
        return ctx.procedures.by_command(command, ctx.lang)
    except ProcedureError as error:
        return ctx.procedure(error.procedure_id or command)


def names_a_procedure(ctx: Ctx, command: str) -> bool:
    try:
        return ctx.procedures.by_command(command, ctx.lang) is not None
    except ProcedureError:
        return True  # it exists but is broken: _start says so


def offer_procedures(ctx: Ctx, text: str, candidates: list[str]) -> None:
    options = candidates or [s.id for s in ctx.procedures.summaries(ctx.lang) if s.valid]
    if not options:
        ctx.say("chat/no_procedures.html")
        ctx.notify_leads("chat/no_procedures_leads.html")
        return
    titles = {s.id: s.title for s in ctx.procedures.summaries(ctx.lang)}
    offered = tuple(options[:20])
    pending = records.store_pending(
        ctx.session,
        chat_id=ctx.incoming.chat_id,
        user_id=ctx.actor.user_id,
        kind=Kind.CHOOSE,
        payload=Payload(text=text, message_id=ctx.incoming.message_id, options=offered),
        thread_id=ctx.incoming.thread_id,
        asked_at=ctx.now,
    )
    ctx.audit("question.asked", details={"field": "procedure", "options": list(offered)})
    buttons = tuple(
        (
            Button(
                data.label("procedure", text=titles.get(pid, pid)),
                data.ChooseProcedure(pending.id, i).encode(),
            ),
        )
        for i, pid in enumerate(offered)
    )
    ctx.say(
        "chat/choose_procedure.html",
        buttons=buttons,
        several=bool(candidates),
        options=[(i + 1, titles.get(pid, pid)) for i, pid in enumerate(offered)],
    )


def choose_typed(ctx: Ctx, pending: PendingQuestion, text: str) -> None:
    options = pending.payload.options
    word = text.strip().lower()
    titles = {s.id: s.title.lower() for s in ctx.procedures.summaries(ctx.lang)}
    chosen = None
    if word.isascii() and word.isdigit() and 1 <= int(word) <= len(options):
        chosen = options[int(word) - 1]
    else:
        chosen = next((o for o in options if word in (o, titles.get(o))), None)
    if chosen is None:
        records.drop_pending(ctx.session, pending)
        offer_procedures(ctx, text, [])
        return
    create_from_choice(ctx, pending, chosen)


def create_from_choice(ctx: Ctx, pending: PendingQuestion, procedure_id: str) -> None:
    procedure = ctx.procedure(procedure_id)
    if procedure is None:
        return
    text, message_id = pending.payload.text, pending.payload.message_id
    records.drop_pending(ctx.session, pending)
    intake.create_ticket(ctx, procedure, text, message_id)

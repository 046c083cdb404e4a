"""The gate at work: a ticket from its first message until it is open, and every answer to a
pending question, dispatched by the question's kind from one place (`answer`).

Each function runs in the caller's transaction (a `Ctx`), reads the ticket's procedure file
again before deciding what to ask (editing a procedure changes the next question), asks the
domain `Ticket` to change, and says what happened. The mechanics of a question (its buttons,
its words, validating an answer) are `services.asking`; resolving is `services.resolving`.
"""

from __future__ import annotations

from bot.db.models import PendingQuestion
from bot.domain import gate, retro
from bot.domain.fields import CHANGE_WORDS, CONFIRM_WORDS, Accepted, parse_answer
from bot.domain.procedure import Procedure
from bot.domain.question import Kind, Phase
from bot.domain.ticket import Refused, Ticket
from bot.knowledge.text import word_count
from bot.render import render, speaking
from bot.services import (
    approvals,
    asking,
    attachments,
    familiarity,
    knowledge,
    records,
    resolving,
)
from bot.services.asking import fields_for
from bot.services.audit import next_value
from bot.services.context import Ctx
from bot.services.messages import Button, Reply
from bot.words import display

# --- starting a ticket ----------------------------------------------------------------------


def create_ticket(ctx: Ctx, procedure: Procedure, text: str, message_id: int | None) -> Ticket:
    """A new ticket waiting for info, linked to the chat, message and person it came from."""
    familiarity.worked(ctx, procedure)
    ticket = draft_ticket(ctx, procedure, text, message_id)
    errors = asking.apply_named_values(ctx, ticket, procedure, text, Phase.INTAKE)
    _fill_from_text(ctx, ticket, procedure, text)
    if _offer_articles(ctx, ticket, procedure, text):
        return ticket
    advance(ctx, ticket, procedure, Phase.INTAKE, errors=errors)
    return ticket


def draft_ticket(ctx: Ctx, procedure: Procedure, text: str, message_id: int | None) -> Ticket:
    """The draft itself, stored and audited, before the gate asks anything."""
    inc = ctx.incoming
    home = (
        inc.chat_id
        if not inc.is_private
        else (ctx.config.chats[0].id if ctx.config.chats else None)
    )
    ticket = Ticket.draft(
        number=next_value(ctx.session, "ticket"),
        procedure_id=procedure.id,
        procedure_version=procedure.version,
        procedure_title=procedure.title,
        text=text,
        reporter=inc.user,
        chat_id=inc.chat_id,
        chat_type=inc.chat_type,
        message_id=message_id,
        thread_id=inc.thread_id,
        home_chat_id=home,
        now=ctx.now,
    )
    records.add_ticket(ctx.session, ticket)
    ctx.audit(
        "ticket.created",
        ticket_id=ticket.id,
        details={"title": ticket.title, "chat_id": inc.chat_id, "message_id": message_id},
        procedure=procedure,
    )
    attachments.adopt(ctx, ticket, message_id)  # files sent with the message that made it
    return ticket


def _fill_from_text(ctx: Ctx, ticket: Ticket, procedure: Procedure, text: str) -> None:
    """`/new bug <text>` already says what a `from_text` field asks (a one-line summary):
    take it, when the field accepts it, rather than ask for it again."""
    if not text.strip() or gate.named_values(text, procedure.fields):
        return
    values = records.values_of(ctx.session, ticket.id)
    wanted = [s for s in procedure.fields if s.from_text and values.get(s.name) is None]
    for spec in wanted:
        if isinstance(parse_answer(spec, text, ctx.config.tz, ctx.now), Accepted):
            asking.accept_value(ctx, ticket, procedure, spec, text, Phase.INTAKE)


def _offer_articles(ctx: Ctx, ticket: Ticket, procedure: Procedure, text: str) -> bool:
    """Offer matching knowledge articles before the gate starts (deflection)."""
    if not procedure.knowledge.deflect or word_count(text) < 2:
        return False
    matches = knowledge.suggest(ctx.session, text, limit=3)
    if not matches:
        return False
    asking.pending_question(
        ctx,
        ticket,
        kind=Kind.DEFLECT,
        phase=Phase.INTAKE,
        articles=tuple(m.article_id for m in matches),
    )
    ctx.audit(
        "kb.deflection_offered",
        ticket_id=ticket.id,
        details={"articles": [m.path for m in matches]},
        procedure=procedure,
    )
    ctx.say(
        "kb/deflection.html",
        ticket=ticket,
        matches=matches,
        buttons=knowledge.deflection_buttons(ticket.id, matches),
        ticket_id=ticket.id,
        kind="question",
    )
    return True


def self_served(ctx: Ctx, ticket: Ticket) -> None:
    """The person found the answer in the knowledge base: the draft closes as self-served."""
    ctx.moved(ticket, ticket.self_served(ctx.now))
    records.clear_pending(ctx.session, ticket.id)
    ctx.audit_ticket("kb.self_served", ticket)
    ctx.say("chat/self_served.html", ticket=ticket)


# --- what comes next ------------------------------------------------------------------------


def advance(
    ctx: Ctx,
    ticket: Ticket,
    procedure: Procedure,
    phase: Phase,
    *,
    errors: list[str] | None = None,
    user_id: int | None = None,
    chat_id: int | None = None,
) -> None:
    """Ask the next missing field; when none is missing, confirm, resume or resolve."""
    values = asking.phase_values(ctx, ticket, phase)
    spec = gate.next_field(fields_for(procedure, phase), values)
    if spec is not None:
        asking.ask(
            ctx,
            ticket,
            procedure,
            spec,
            phase,
            errors=errors,
            user_id=user_id,
            chat_id=chat_id,
            values=values,
        )
    elif phase == Phase.RESOLUTION and _retro_asked(ctx, ticket):
        advance(ctx, ticket, procedure, Phase.RETRO, user_id=user_id, chat_id=chat_id)
    elif phase.resolving:
        resolving.finish(ctx, ticket, procedure)
    elif ticket.is_draft:
        asking.ask_confirm(ctx, ticket, procedure, errors=errors)
    else:
        resume(ctx, ticket, procedure)


def start_resolution(ctx: Ctx, ticket: Ticket, procedure: Procedure) -> None:
    """Ask the resolver for the procedure's resolution fields through the same gate."""
    pending = asking.pending_question(ctx, ticket, kind=Kind.FIELD, phase=Phase.RESOLUTION)
    pending.payload = pending.payload.but(
        answers={},
        changing=False,
        resume_status=None,
        retro=retro.reasons(procedure.retro, ticket, ctx.now),
    )
    advance(ctx, ticket, procedure, Phase.RESOLUTION)


def _retro_asked(ctx: Ctx, ticket: Ticket) -> bool:
    """Whether this resolve round goes on to the retrospective questions (decided when it
    started: late, reopened, slow, or always)."""
    pending = records.pending_for_ticket(ctx.session, ticket.id)
    return pending is not None and bool(pending.payload.retro)


# --- answers, by the kind of question -------------------------------------------------------


def answer(ctx: Ctx, ticket: Ticket, pending: PendingQuestion, text: str) -> None:
    """A typed message that answers the pending question of `ticket`."""
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        return
    familiarity.worked(ctx, procedure)
    if pending.kind == Kind.CONFIRM:
        _answer_confirm(ctx, ticket, procedure, text)
    elif pending.kind == Kind.PICK_CHANGE:
        spec = procedure.named(text)
        if spec is None or spec not in procedure.fields:
            asking.offer_changes(ctx, ticket, procedure)
        else:
            asking.change_field(ctx, ticket, procedure, spec)
    elif pending.kind == Kind.DEFLECT:
        errors = asking.apply_named_values(ctx, ticket, procedure, text, Phase.INTAKE)
        advance(ctx, ticket, procedure, Phase.INTAKE, errors=errors)
    else:
        _answer_field(ctx, ticket, procedure, pending, text)


def _answer_confirm(ctx: Ctx, ticket: Ticket, procedure: Procedure, text: str) -> None:
    word = text.strip().lower().rstrip(".!。！")
    if word in CONFIRM_WORDS:
        confirm(ctx, ticket, procedure)
    elif word in CHANGE_WORDS:
        asking.offer_changes(ctx, ticket, procedure)
    else:
        errors = asking.apply_named_values(ctx, ticket, procedure, text, Phase.INTAKE)
        if not gate.named_values(text, procedure.fields):
            errors = [render("chat/confirm_hint.txt")]
        advance(ctx, ticket, procedure, Phase.INTAKE, errors=errors)


def _answer_field(
    ctx: Ctx, ticket: Ticket, procedure: Procedure, pending: PendingQuestion, text: str
) -> None:
    phase = pending.payload.phase
    fields = fields_for(procedure, phase)
    if gate.named_values(text, fields):
        errors = asking.apply_named_values(ctx, ticket, procedure, text, phase)
        _after_answer(ctx, ticket, procedure, pending, phase, errors)
        return
    spec = next((f for f in fields if f.name == pending.field_name), None)
    if spec is None:  # the procedure no longer has this field: move on to what it asks now
        advance(ctx, ticket, procedure, phase)
        return
    error = asking.accept_value(ctx, ticket, procedure, spec, text, phase)
    if error:
        asking.ask(ctx, ticket, procedure, spec, phase, errors=[error], repeat=True)
        return
    _after_answer(ctx, ticket, procedure, pending, phase, [])


def _after_answer(
    ctx: Ctx,
    ticket: Ticket,
    procedure: Procedure,
    pending: PendingQuestion,
    phase: Phase,
    errors: list[str],
) -> None:
    if pending.payload.changing and not errors:
        asking.ask_confirm(ctx, ticket, procedure)
        return
    advance(ctx, ticket, procedure, phase, errors=errors)


def choose(ctx: Ctx, ticket: Ticket, pending: PendingQuestion, index: int) -> str | None:
    """A choice or yes/no button; returns what was chosen, for the edited question."""
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        return None
    familiarity.worked(ctx, procedure)
    phase = pending.payload.phase
    spec = next((f for f in fields_for(procedure, phase) if f.name == pending.field_name), None)
    if spec is None:
        advance(ctx, ticket, procedure, phase)
        return None
    if spec.type == "boolean" and index in (0, 1):
        raw = "yes" if index == 1 else "no"
    elif spec.type == "choice" and 0 <= index < len(spec.choices):
        raw = spec.choices[index]
    elif spec.type == "person" and 0 <= index < len(pending.payload.options):
        raw = pending.payload.options[index]
    else:
        advance(ctx, ticket, procedure, phase)
        return None
    error = asking.accept_value(ctx, ticket, procedure, spec, raw, phase)
    if error:
        asking.ask(ctx, ticket, procedure, spec, phase, errors=[error], repeat=True)
        return None
    _after_answer(ctx, ticket, procedure, pending, phase, [])
    # What the person pressed, in their words (a choice's label, yes or no in their language).
    return display(spec, index == 1) if spec.type == "boolean" else spec.choice_label(raw)


def skip(ctx: Ctx, ticket: Ticket, pending: PendingQuestion) -> None:
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        return
    familiarity.worked(ctx, procedure)
    phase = pending.payload.phase
    spec = next((f for f in fields_for(procedure, phase) if f.name == pending.field_name), None)
    if spec is None or pending.kind != Kind.FIELD:
        ctx.say("chat/nothing_to_skip.html")
        return
    if not gate.can_skip(spec, asking.phase_values(ctx, ticket, phase)):
        error = render("chat/cannot_skip.txt", name=spec.label)
        asking.ask(ctx, ticket, procedure, spec, phase, repeat=True, errors=[error])
        return
    if phase.resolving:
        pending.payload = pending.payload.with_answer(spec.name, None)
    else:
        records.set_value(
            ctx.session, ticket.id, spec.name, None, phase=phase, by=ctx.actor.user_id, now=ctx.now
        )
    ctx.audit(
        "field.skipped", ticket_id=ticket.id, details={"field": spec.name}, procedure=procedure
    )
    advance(ctx, ticket, procedure, phase)


def cancel(ctx: Ctx, ticket: Ticket, pending: PendingQuestion | None) -> None:
    """Cancel a draft (nothing is deleted), or stop resolving an opened ticket."""
    try:
        moved = ticket.cancel(ctx.now)
    except Refused:
        moved = None
    if moved is not None:
        ctx.moved(ticket, moved)
        records.clear_pending(ctx.session, ticket.id)
        ctx.audit_ticket("ticket.cancelled", ticket)
        ctx.say("chat/cancelled.html", ticket=ticket)
    elif pending is not None and pending.payload.phase.resolving:
        records.clear_pending(ctx.session, ticket.id)
        ctx.audit_ticket("resolution.cancelled", ticket)
        ctx.say("chat/resolution_cancelled.html", ticket=ticket)
    else:
        ctx.say("chat/nothing_to_cancel.html")


# --- opening, pausing, resuming -------------------------------------------------------------


def confirm(ctx: Ctx, ticket: Ticket, procedure: Procedure) -> None:
    """The person confirmed: open the ticket if the procedure (read again now) is satisfied."""
    values = records.values_of(ctx.session, ticket.id)
    if not gate.is_complete(procedure.fields, values):
        advance(ctx, ticket, procedure, Phase.INTAKE)
        return
    moved = ticket.open(
        procedure_version=procedure.version,
        due_after=procedure.sla.due_after(values),
        now=ctx.now,
    )
    ctx.moved(ticket, moved, procedure)
    records.clear_pending(ctx.session, ticket.id)
    rows = asking.summary_rows(ctx, ticket, procedure)
    ctx.say("chat/opened.html", ticket=ticket, procedure=procedure, tz=ctx.config.tz)
    if ticket.home_chat_id is not None:
        announce(ctx, ticket, procedure, rows, here=ticket.home_chat_id == ctx.incoming.chat_id)
    approvals.request(ctx, ticket, procedure)


def announce(
    ctx: Ctx,
    ticket: Ticket,
    procedure: Procedure,
    rows: list[tuple[str, str]],
    *,
    here: bool = False,
) -> None:
    """Tell the team chat about a newly opened ticket, with buttons to take it, in the chat's
    language (the procedure's texts too)."""
    assert ticket.home_chat_id is not None
    language = ctx.language_of_chat(ticket.home_chat_id)
    if language != ctx.lang:
        procedure = ctx.procedures.load_or_none(ticket.procedure_id, language) or procedure
    with speaking(language):
        if language != ctx.lang:
            rows = asking.summary_rows(ctx, ticket, procedure)
        _announce(ctx, ticket, procedure, rows, here=here)


def _announce(
    ctx: Ctx, ticket: Ticket, procedure: Procedure, rows: list[tuple[str, str]], *, here: bool
) -> None:
    from bot.services import buttons as data

    assert ticket.home_chat_id is not None
    buttons = (
        (
            Button(data.label("assign_me"), data.AssignMe(ticket.id).encode()),
            Button(data.label("steps"), data.ShowSteps(ticket.id).encode()),
            Button(data.label("show"), data.ShowTicket(ticket.id).encode()),
        ),
    )
    ctx.send(
        Reply(
            chat_id=ticket.home_chat_id,
            text=render(
                "chat/announcement.html",
                ticket=ticket,
                procedure=procedure,
                rows=rows,
                tz=ctx.config.tz,
                files=[
                    {"kind": a.kind, "name": a.file_name, "size": a.size}
                    for a in attachments.of_ticket(ctx, ticket.id)
                ],
            ),
            buttons=buttons,
            thread_id=ticket.thread_id if here else None,
            ticket_id=ticket.id,
            kind="announcement",
        )
    )


def ensure_complete(ctx: Ctx, ticket: Ticket, procedure: Procedure) -> bool:
    """Before work on an opened ticket: if its procedure now wants more, ask the reporter.

    The SLA clock stops while the ticket waits for that information.
    """
    values = records.values_of(ctx.session, ticket.id)
    missing = gate.missing_required(procedure.fields, values)
    if not missing:
        return True
    moved, back_to = ticket.pause_for_info(ctx.now)
    ctx.moved(ticket, moved, procedure)
    pending = asking.ask(
        ctx,
        ticket,
        procedure,
        missing[0],
        Phase.INTAKE,
        user_id=ticket.reporter_id,
        chat_id=ticket.chat_id,
    )
    pending.payload = pending.payload.but(resume_status=back_to)
    ctx.say("chat/needs_info.html", ticket=ticket, spec=missing[0])
    return False


def resume(ctx: Ctx, ticket: Ticket, procedure: Procedure) -> None:
    """The missing information arrived: the SLA clock goes on where it stopped."""
    pending = records.pending_for_ticket(ctx.session, ticket.id)
    back_to = pending.payload.resume_status if pending else None
    ctx.moved(ticket, ticket.resume(back_to, ctx.now), procedure)
    records.clear_pending(ctx.session, ticket.id)
    ctx.say("chat/resumed.html", ticket=ticket)

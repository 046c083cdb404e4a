"""Asking: the ticket's one pending question, the words and buttons of each question, and
taking an answer through the field's validation. The flow that decides *what* to ask next is
`services.intake`.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.db.models import PendingQuestion, Person
from bot.domain import gate
from bot.domain.fields import Accepted, Rejected, parse_answer
from bot.domain.procedure import FieldSpec, Procedure
from bot.domain.question import Kind, Payload, Phase
from bot.domain.ticket import Ticket
from bot.render import render
from bot.services import buttons as data
from bot.services import records
from bot.services.context import Ctx
from bot.services.messages import Button, Reply
from bot.words import display, expected_form, rejection


def fields_for(procedure: Procedure, phase: Phase) -> tuple[FieldSpec, ...]:
    if phase == Phase.RETRO:
        return procedure.retro.fields
    return procedure.resolution.fields if phase == Phase.RESOLUTION else procedure.fields


def question_for_message(ctx: Ctx) -> tuple[PendingQuestion | None, Ticket | None]:
    """The question this message answers: the one replied to, else the newest here."""
    inc = ctx.incoming
    uid = inc.user.user_id
    pending = None
    if inc.reply_to_message_id is not None:
        ticket_id = records.ticket_for_message(ctx.session, inc.chat_id, inc.reply_to_message_id)
        if ticket_id is not None:
            candidate = records.pending_for_ticket(ctx.session, ticket_id)
            if candidate is not None and candidate.user_id == uid:
                pending = candidate
    if pending is None:
        pending = records.latest_pending(ctx.session, inc.chat_id, uid)
    if pending is None:
        return None, None
    if pending.ticket_id is None:
        return records.pending_by_id(ctx.session, pending.id), None
    # Lock the ticket first, then re-read its question: a second message sent at the same
    # moment waits here and then answers whatever is asked next, losing nothing.
    ticket = records.lock_ticket(ctx.session, pending.ticket_id)
    fresh = records.pending_for_ticket(ctx.session, pending.ticket_id)
    if ticket is None or fresh is None or fresh.user_id != uid:
        return records.latest_pending(ctx.session, inc.chat_id, uid), None
    return fresh, ticket


def pending_question(
    ctx: Ctx,
    ticket: Ticket,
    *,
    kind: Kind,
    phase: Phase,
    user_id: int | None = None,
    chat_id: int | None = None,
    **payload: Any,
) -> PendingQuestion:
    """The ticket's one pending question, created or reused (its id survives re-asks), with
    the next number `n`: its buttons carry it, so a button of an earlier question is stale."""
    pending = records.pending_for_ticket(ctx.session, ticket.id)
    if pending is None:
        pending = records.new_pending(ctx.session, ticket_id=ticket.id, payload=Payload())
    pending.kind = kind
    pending.field_name = None
    pending.chat_id = chat_id if chat_id is not None else ctx.incoming.chat_id
    pending.user_id = user_id if user_id is not None else ctx.incoming.user.user_id
    pending.thread_id = ctx.incoming.thread_id if pending.chat_id == ctx.incoming.chat_id else None
    pending.asked_at = ctx.now
    pending.message_id = None
    pending.payload = pending.payload.next(phase, **payload)
    return pending


def phase_values(ctx: Ctx, ticket: Ticket, phase: Phase) -> dict[str, Any]:
    """Intake values, plus this round's resolution answers (kept on the pending question)."""
    rows = records.field_rows(ctx.session, ticket.id)
    if phase.resolving:
        intake_only = {n: r.value for n, r in rows.items() if r.phase != Phase.RESOLUTION}
        pending = records.pending_for_ticket(ctx.session, ticket.id)
        return {**intake_only, **(pending.payload.answers if pending else {})}
    return {name: row.value for name, row in rows.items()}


def ask(
    ctx: Ctx,
    ticket: Ticket,
    procedure: Procedure,
    spec: FieldSpec,
    phase: Phase,
    *,
    errors: list[str] | None = None,
    repeat: bool = False,
    user_id: int | None = None,
    chat_id: int | None = None,
    values: dict[str, Any] | None = None,
) -> PendingQuestion:
    """Ask one field's question, with buttons for choices and yes/no, and remember it.
    `values`: the phase's values, when the caller has just read them."""
    if values is None:
        values = phase_values(ctx, ticket, phase)
    pending = pending_question(
        ctx, ticket, kind=Kind.FIELD, phase=phase, user_id=user_id, chat_id=chat_id
    )
    n = pending.payload.n
    pending.field_name = spec.name
    optional = gate.can_skip(spec, values)
    rows: list[tuple[Button, ...]] = []
    if spec.type == "choice":
        rows = [
            (Button(data.label("choice", text=label), data.Choice(ticket.id, n, i).encode()),)
            for i, (_, label) in enumerate(spec.labelled_choices)
        ]
    elif spec.type == "boolean":
        rows = [
            (
                Button(data.label("yes"), data.Choice(ticket.id, n, 1).encode()),
                Button(data.label("no"), data.Choice(ticket.id, n, 0).encode()),
            )
        ]
    elif spec.type == "person":
        people = _people_to_offer(ctx, ticket)
        pending.payload = pending.payload.but(options=tuple(handle for handle, _ in people))
        rows = [
            (Button(data.label("choice", text=name), data.Choice(ticket.id, n, i).encode()),)
            for i, (_, name) in enumerate(people)
        ]
    if optional:
        rows.append((Button(data.label("skip"), data.Skip(ticket.id, n).encode()),))
    ctx.audit(
        "question.asked",
        ticket_id=ticket.id,
        details={"field": spec.name, "phase": phase.value, "repeat": repeat},
        procedure=procedure,
    )
    if not repeat and phase == Phase.INTAKE and ticket.is_draft:
        ticket.questions_asked += 1  # metrics: questions needed before the ticket was complete
    ticket.touch(ctx.now)
    reply_to = None
    if pending.chat_id == ctx.incoming.chat_id:
        reply_to = None if ctx.incoming.is_private else ctx.incoming.message_id
    deliver(
        ctx,
        pending,
        "chat/question.html",
        buttons=tuple(rows),
        ticket=ticket,
        reply_to=reply_to,
        spec=spec,
        form=expected_form(spec),
        optional=optional,
        errors=errors or [],
        phase=phase.value,
        tz=ctx.config.timezone,
    )
    return pending


PEOPLE_OFFERED = 8  # members offered as buttons for a person field


def _people_to_offer(ctx: Ctx, ticket: Ticket) -> list[tuple[str, str]]:
    """Team members the bot knows (they wrote to it), as (@username or id, name), the reporter
    left out: a person field is answered with a tap or an @username."""
    config = ctx.config
    team = config.members | config.leads
    query = select(Person).order_by(Person.last_seen_at.desc()).limit(200)
    found = []
    for person in ctx.session.scalars(query):
        if person.user_id == ticket.reporter_id or (team and person.user_id not in team):
            continue
        handle = f"@{person.username}" if person.username else str(person.user_id)
        found.append((handle, person.name))
        if len(found) == PEOPLE_OFFERED:
            break
    return found


def deliver(
    ctx: Ctx,
    pending: PendingQuestion,
    template: str,
    *,
    buttons: tuple[tuple[Button, ...], ...],
    ticket: Ticket,
    reply_to: int | None,
    **context: Any,
) -> None:
    """Send a question to whoever it waits on: here, or in the ticket's own chat."""
    if pending.chat_id == ctx.incoming.chat_id:
        ctx.say(
            template,
            buttons=buttons,
            ticket_id=ticket.id,
            kind="question",
            reply_to=reply_to,
            ticket=ticket,
            **context,
        )
        return
    ctx.send(
        Reply(
            chat_id=pending.chat_id,
            text=render(template, ctx.language_of_chat(pending.chat_id), ticket=ticket, **context),
            buttons=buttons,
            reply_to=ticket.message_id if ticket.chat_type != "private" else None,
            thread_id=ticket.thread_id,
            ticket_id=ticket.id,
            kind="question",
        )
    )


def ask_confirm(
    ctx: Ctx, ticket: Ticket, procedure: Procedure, *, errors: list[str] | None = None
) -> None:
    """Show what was collected; the ticket opens only when the person confirms it."""
    pending = pending_question(
        ctx,
        ticket,
        kind=Kind.CONFIRM,
        phase=Phase.INTAKE,
        user_id=ticket.reporter_id,
        chat_id=ticket.chat_id,
        changing=False,
    )
    n = pending.payload.n
    buttons = (
        (
            Button(data.label("confirm"), data.Confirm(ticket.id, n).encode()),
            Button(data.label("change"), data.Change(ticket.id, n).encode()),
        ),
    )
    ctx.audit(
        "question.asked",
        ticket_id=ticket.id,
        details={"field": "confirm", "phase": Phase.INTAKE.value},
        procedure=procedure,
    )
    deliver(
        ctx,
        pending,
        "chat/confirm.html",
        buttons=buttons,
        ticket=ticket,
        reply_to=None,
        procedure=procedure,
        rows=summary_rows(ctx, ticket, procedure),
        errors=errors or [],
    )


def summary_rows(ctx: Ctx, ticket: Ticket, procedure: Procedure) -> list[tuple[str, str]]:
    values = records.values_of(ctx.session, ticket.id)
    tz = ctx.config.tz
    visible = gate.visible_values(procedure.fields, values)
    shown = [(s.label, display(s, v, tz)) for s, v in visible]
    known = {s.name for s in (*procedure.fields, *procedure.resolution.fields)}
    # Values for fields the procedure no longer has are kept and still shown.
    shown += [(procedure.label(n), display(None, v)) for n, v in values.items() if n not in known]
    return shown


def changeable_fields(ctx: Ctx, ticket: Ticket, procedure: Procedure) -> list[FieldSpec]:
    """The fields the confirmation summary shows, in the order of their buttons."""
    values = records.values_of(ctx.session, ticket.id)
    return [s for s, _ in gate.visible_values(procedure.fields, values)]


def offer_changes(ctx: Ctx, ticket: Ticket, procedure: Procedure) -> None:
    """List the fields as buttons so the person can pick one to change."""
    pending = pending_question(
        ctx,
        ticket,
        kind=Kind.PICK_CHANGE,
        phase=Phase.INTAKE,
        user_id=ticket.reporter_id,
        chat_id=ticket.chat_id,
    )
    n = pending.payload.n
    fields = changeable_fields(ctx, ticket, procedure)
    buttons = tuple(
        (Button(data.label("field", text=s.label), data.PickField(ticket.id, n, i).encode()),)
        for i, s in enumerate(fields)
    )
    deliver(
        ctx,
        pending,
        "chat/pick_change.html",
        buttons=buttons,
        ticket=ticket,
        reply_to=None,
        fields=fields,
    )


def change_field(ctx: Ctx, ticket: Ticket, procedure: Procedure, spec: FieldSpec) -> None:
    """Ask one field again; after the answer the summary is shown for confirmation again."""
    pending = ask(
        ctx,
        ticket,
        procedure,
        spec,
        Phase.INTAKE,
        user_id=ticket.reporter_id,
        chat_id=ticket.chat_id,
    )
    pending.payload = pending.payload.but(changing=True)


def accept_value(
    ctx: Ctx, ticket: Ticket, procedure: Procedure, spec: FieldSpec, raw: str, phase: Phase
) -> str | None:
    """Validate and store one answer (audited either way); what to tell when it was refused."""
    outcome = parse_answer(spec, raw, ctx.config.tz, ctx.now)
    if not isinstance(outcome, Accepted):
        ticket.invalid_answers += 1
        return refuse_answer(ctx, ticket, procedure, spec, outcome, raw)
    store_value(ctx, ticket, procedure, spec, outcome.value, phase)
    return None


def store_value(
    ctx: Ctx, ticket: Ticket, procedure: Procedure, spec: FieldSpec, value: Any, phase: Phase
) -> None:
    """Keep an accepted value (a resolution's in its question until it is done), audited."""
    if phase.resolving:
        pending = records.pending_for_ticket(ctx.session, ticket.id)
        assert pending is not None  # a resolution round always has its question
        old = pending.payload.answers.get(spec.name)
        pending.payload = pending.payload.with_answer(spec.name, value)
    else:
        old = records.set_value(
            ctx.session,
            ticket.id,
            spec.name,
            value,
            phase=phase,
            by=ctx.actor.user_id,
            now=ctx.now,
        )
    ticket.touch(ctx.now)
    ctx.audit(
        "answer.accepted",
        ticket_id=ticket.id,
        details=_answer_details(ctx, spec.name, value, old, phase),
        procedure=procedure,
    )


def _answer_details(ctx: Ctx, name: str, value: Any, old: Any, phase: Phase) -> dict[str, Any]:
    details = {"field": name, "value": value, "old": old, "phase": phase.value}
    if ctx.incoming.message_id is not None and ctx.incoming.callback_data is None:
        # Which message gave the answer: an edit of that message revises it (`revising`).
        details["message_id"] = ctx.incoming.message_id
    if ctx.incoming.edited:
        details["edited"] = True
    return details


def refuse_answer(
    ctx: Ctx,
    ticket: Ticket,
    procedure: Procedure,
    spec: FieldSpec,
    outcome: Rejected,
    raw: str,
) -> str:
    """Audit an answer the field refused (its code and data); returns what to tell."""
    ctx.audit(
        "answer.rejected",
        ticket_id=ticket.id,
        details={
            "field": spec.name,
            "reason": str(outcome.code),
            "data": outcome.data,
            "text": raw[:500],
        },
        procedure=procedure,
    )
    return rejection(outcome)


def apply_named_values(
    ctx: Ctx, ticket: Ticket, procedure: Procedure, text: str, phase: Phase
) -> list[str]:
    """Store the explicit `name: value` lines of a message; return what was refused and why."""
    errors = []
    for named in gate.named_values(text, fields_for(procedure, phase)):
        spec = procedure.field(named.name)
        if spec is None:
            continue
        error = accept_value(ctx, ticket, procedure, spec, named.raw, phase)
        if error:
            errors.append(render("chat/field_error.txt", name=spec.label, error=error))
    return errors

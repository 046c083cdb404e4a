"""The gate at work: opening tickets, asking for what is missing, confirming, resolving.

Every function here runs inside the caller's transaction (a `Ctx`) and reads the ticket's
procedure file again before deciding what to ask: editing a procedure changes the next question.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from bot.domain import gate, lifecycle
from bot.domain.fields import Accepted, parse_answer
from bot.domain.procedure import FieldSpec, Procedure
from bot.procedures.errors import ProcedureError
from bot.render import shorten
from bot.services import records
from bot.services.audit import next_value
from bot.services.context import Ctx
from bot.services.messages import Button, Reply
from bot.services.rows import PendingRow, TicketRow
from bot.words import display, expected_form, rejection

INTAKE = "intake"
RESOLUTION = "resolution"
TITLE_LENGTH = 120


# --- procedures -----------------------------------------------------------------------------


def load_procedure(
    ctx: Ctx, procedure_id: str, ticket: TicketRow | None = None
) -> Procedure | None:
    """Read the procedure file afresh; when it is broken, say so, tell the leads, keep state."""
    try:
        return ctx.procedures.load(procedure_id)
    except ProcedureError as error:
        problems = [str(p) for p in getattr(error, "problems", [])] or [str(error)]
        ctx.audit(
            "procedure.invalid",
            ticket_id=ticket.id if ticket else None,
            details={"problems": problems[:20], "held_text": ctx.incoming.text[:2000]},
            procedure_id=procedure_id,
        )
        ctx.say("chat/procedure_broken.html", ticket=ticket)
        ctx.notify_leads(
            "chat/procedure_broken_leads.html",
            procedure_id=procedure_id,
            ticket=ticket,
            problems=problems[:10],
        )
        return None


def fields_for(procedure: Procedure, phase: str) -> tuple[FieldSpec, ...]:
    return procedure.resolution.fields if phase == RESOLUTION else procedure.fields


def short_hash(text: str) -> str:
    """Four hex digits tying a button to the thing it was made for (spots stale buttons)."""
    return hashlib.sha256(text.encode()).hexdigest()[:4]


# --- starting a ticket ----------------------------------------------------------------------


def create_ticket(ctx: Ctx, procedure: Procedure, text: str, message_id: int | None) -> TicketRow:
    """A new ticket waiting for info, linked to the chat, message and person it came from."""
    inc = ctx.incoming
    home = (
        inc.chat_id
        if not inc.is_private
        else (ctx.config.chats[0].id if ctx.config.chats else None)
    )
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    ticket = TicketRow(
        {
            "id": next_value(ctx.session, "ticket"),
            "procedure_id": procedure.id,
            "procedure_version": procedure.version,
            "title": shorten(first_line, TITLE_LENGTH) if first_line else procedure.title,
            "description": text,
            "status": lifecycle.WAITING,
            "reporter_id": inc.user.user_id,
            "reporter_name": inc.user.name,
            "chat_id": inc.chat_id,
            "chat_type": inc.chat_type,
            "message_id": message_id,
            "thread_id": inc.thread_id,
            "home_chat_id": home,
            "created_at": ctx.now,
            "updated_at": ctx.now,
            "reopen_count": 0,
            "questions_asked": 0,
            "invalid_answers": 0,
            "remind_count": 0,
            "escalation_level": 0,
        }
    )
    records.add_ticket(ctx.session, ticket)
    ctx.audit(
        "ticket.created",
        ticket_id=ticket.id,
        details={"title": ticket.title, "chat_id": inc.chat_id, "message_id": message_id},
        procedure=procedure,
    )
    errors = apply_named_values(ctx, ticket, procedure, text, INTAKE)
    if _offer_articles(ctx, ticket, procedure, text):
        return ticket
    advance(ctx, ticket, procedure, INTAKE, errors=errors)
    return ticket


def apply_named_values(
    ctx: Ctx, ticket: TicketRow, procedure: Procedure, text: str, phase: str
) -> list[str]:
    """Store the explicit `name: value` lines of a message; return what was refused and why."""
    errors = []
    for named in gate.named_values(text, fields_for(procedure, phase)):
        spec = procedure.field(named.name)
        if spec is None:
            continue
        error = accept_value(ctx, ticket, procedure, spec, named.raw, phase)
        if error:
            errors.append(f"{spec.name}: {error}")
    return errors


def _offer_articles(ctx: Ctx, ticket: TicketRow, procedure: Procedure, text: str) -> bool:
    """Offer matching knowledge articles before the gate starts (deflection)."""
    if not procedure.knowledge.deflect or len(text.split()) < 2:
        return False
    try:
        from bot.services import knowledge
    except ImportError:  # the knowledge base is optional while it is being built
        return False
    matches = knowledge.suggest(ctx.session, text, limit=3)
    if not matches:
        return False
    _pending(ctx, ticket, kind="deflect", phase=INTAKE, articles=[m.article_id for m in matches])
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


def self_served(ctx: Ctx, ticket: TicketRow) -> None:
    """The person found the answer in the knowledge base: the draft closes as self-served."""
    change_status(ctx, ticket, lifecycle.CLOSED, reason="self-served from the knowledge base")
    ticket.close_reason = "self_served"
    ticket.closed_at = ctx.now
    records.clear_pending(ctx.session, ticket.id)
    ctx.audit_ticket("kb.self_served", ticket)
    ctx.say("chat/self_served.html", ticket=ticket)


# --- asking ---------------------------------------------------------------------------------


def _pending(
    ctx: Ctx,
    ticket: TicketRow,
    *,
    kind: str,
    phase: str,
    user_id: int | None = None,
    chat_id: int | None = None,
    **payload: Any,
) -> PendingRow:
    """The ticket's one pending question, created or reused (its id survives re-asks).

    Each question gets the next number `n`; its buttons carry it, so a button of an earlier
    question is recognised as stale.
    """
    pending = records.pending_for_ticket(ctx.session, ticket.id)
    if pending is None:
        pending = records.new_pending(ctx.session, ticket_id=ticket.id, payload={"n": 0})
    pending.kind = kind
    pending.field_name = None
    pending.chat_id = chat_id if chat_id is not None else ctx.incoming.chat_id
    pending.user_id = user_id if user_id is not None else ctx.incoming.user.user_id
    pending.thread_id = ctx.incoming.thread_id if pending.chat_id == ctx.incoming.chat_id else None
    pending.asked_at = ctx.now
    pending.message_id = None
    old = pending.payload or {}
    pending.payload = dict(old, phase=phase, n=int(old.get("n", 0)) + 1, **payload)
    return pending


def advance(
    ctx: Ctx,
    ticket: TicketRow,
    procedure: Procedure,
    phase: str,
    *,
    errors: list[str] | None = None,
    user_id: int | None = None,
    chat_id: int | None = None,
) -> None:
    """Ask the next missing field; when none is missing, confirm, reopen or resolve."""
    values = phase_values(ctx, ticket, phase)
    spec = gate.next_field(fields_for(procedure, phase), values)
    if spec is not None:
        ask(ctx, ticket, procedure, spec, phase, errors=errors, user_id=user_id, chat_id=chat_id)
        return
    if phase == RESOLUTION:
        finish_resolution(ctx, ticket, procedure)
    elif ticket.opened_at is None:
        ask_confirm(ctx, ticket, procedure, errors=errors)
    else:
        resume(ctx, ticket, procedure)


def phase_values(ctx: Ctx, ticket: TicketRow, phase: str) -> dict[str, Any]:
    """Intake values, plus this round's resolution answers (kept on the pending question)."""
    values = records.values_of(ctx.session, ticket.id)
    if phase == RESOLUTION:
        intake_only = {k: v for k, v in values.items() if k not in _resolution_names(ctx, ticket)}
        pending = records.pending_for_ticket(ctx.session, ticket.id)
        answers = (pending.payload or {}).get("answers", {}) if pending else {}
        return {**intake_only, **answers}
    return values


def _resolution_names(ctx: Ctx, ticket: TicketRow) -> set[str]:
    rows = records.field_rows(ctx.session, ticket.id)
    return {name for name, row in rows.items() if row.phase == RESOLUTION}


def ask(
    ctx: Ctx,
    ticket: TicketRow,
    procedure: Procedure,
    spec: FieldSpec,
    phase: str,
    *,
    errors: list[str] | None = None,
    repeat: bool = False,
    user_id: int | None = None,
    chat_id: int | None = None,
) -> None:
    """Ask one field's question, with buttons for choices and yes/no, and remember it."""
    pending = _pending(ctx, ticket, kind="field", phase=phase, user_id=user_id, chat_id=chat_id)
    n = pending.payload["n"]
    pending.field_name = spec.name
    values = phase_values(ctx, ticket, phase)
    optional = gate.can_skip(spec, values)
    rows: list[tuple[Button, ...]] = []
    if spec.type == "choice":
        rows = [
            (Button(label=shorten(c, 40), data=f"c:{ticket.id}:{n}:{i}"),)
            for i, c in enumerate(spec.choices)
        ]
    elif spec.type == "boolean":
        rows = [(Button("Yes", f"c:{ticket.id}:{n}:1"), Button("No", f"c:{ticket.id}:{n}:0"))]
    if optional:
        rows.append((Button("Skip", f"x:{ticket.id}:{n}"),))
    ctx.audit(
        "question.asked",
        ticket_id=ticket.id,
        details={"field": spec.name, "phase": phase, "repeat": repeat},
        procedure=procedure,
    )
    if not repeat and phase == INTAKE and ticket.opened_at is None:
        ticket.questions_asked += 1  # metrics: questions needed before the ticket was complete
    ticket.updated_at = ctx.now
    reply_to = None
    if pending.chat_id == ctx.incoming.chat_id:
        reply_to = None if ctx.incoming.is_private else ctx.incoming.message_id
    _deliver(
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
        phase=phase,
        tz=ctx.config.timezone,
    )


def _deliver(
    ctx: Ctx,
    pending: PendingRow,
    template: str,
    *,
    buttons,
    ticket: TicketRow,
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
    from bot.render import render

    ctx.send(
        Reply(
            chat_id=pending.chat_id,
            text=render(template, ticket=ticket, **context),
            buttons=buttons,
            reply_to=ticket.message_id if ticket.chat_type != "private" else None,
            thread_id=ticket.thread_id,
            ticket_id=ticket.id,
            kind="question",
        )
    )


def ask_confirm(ctx: Ctx, ticket: TicketRow, procedure: Procedure, *, errors=None) -> None:
    """Show what was collected; the ticket opens only when the person confirms it."""
    pending = _pending(
        ctx,
        ticket,
        kind="confirm",
        phase=INTAKE,
        user_id=ticket.reporter_id,
        chat_id=ticket.chat_id,
        changing=False,
    )
    n = pending.payload["n"]
    buttons = (
        (Button("Confirm", f"y:{ticket.id}:{n}"), Button("Change a field", f"e:{ticket.id}:{n}")),
    )
    ctx.audit(
        "question.asked",
        ticket_id=ticket.id,
        details={"field": "confirm", "phase": INTAKE},
        procedure=procedure,
    )
    _deliver(
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


def summary_rows(ctx: Ctx, ticket: TicketRow, procedure: Procedure) -> list[tuple[str, str]]:
    values = records.values_of(ctx.session, ticket.id)
    shown = [(s.name, display(s, v)) for s, v in gate.visible_values(procedure.fields, values)]
    known = {s.name for s in (*procedure.fields, *procedure.resolution.fields)}
    # Values for fields the procedure no longer has are kept and still shown.
    shown += [(name, display(None, v)) for name, v in values.items() if name not in known]
    return shown


def offer_changes(ctx: Ctx, ticket: TicketRow, procedure: Procedure) -> None:
    """List the fields as buttons so the person can pick one to change."""
    pending = _pending(
        ctx,
        ticket,
        kind="pick_change",
        phase=INTAKE,
        user_id=ticket.reporter_id,
        chat_id=ticket.chat_id,
    )
    n = pending.payload["n"]
    values = records.values_of(ctx.session, ticket.id)
    fields = [s for s, _ in gate.visible_values(procedure.fields, values)]
    buttons = tuple(
        (Button(shorten(s.name, 40), f"f:{ticket.id}:{n}:{i}"),) for i, s in enumerate(fields)
    )
    _deliver(
        ctx,
        pending,
        "chat/pick_change.html",
        buttons=buttons,
        ticket=ticket,
        reply_to=None,
        fields=fields,
    )


def change_field(ctx: Ctx, ticket: TicketRow, procedure: Procedure, spec: FieldSpec) -> None:
    """Ask one field again; after the answer the summary is shown for confirmation again."""
    ask(ctx, ticket, procedure, spec, INTAKE, user_id=ticket.reporter_id, chat_id=ticket.chat_id)
    pending = records.pending_for_ticket(ctx.session, ticket.id)
    pending.payload = dict(pending.payload, changing=True)


# --- answering ------------------------------------------------------------------------------


def accept_value(
    ctx: Ctx, ticket: TicketRow, procedure: Procedure, spec: FieldSpec, raw: str, phase: str
) -> str | None:
    """Validate and store one answer (audited either way); the reason when it was refused."""
    outcome = parse_answer(spec, raw, ctx.config.tz)
    if not isinstance(outcome, Accepted):
        ticket.invalid_answers += 1
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
    if phase == RESOLUTION:
        pending = records.pending_for_ticket(ctx.session, ticket.id)
        answers = dict(pending.payload.get("answers", {}))
        old = answers.get(spec.name)
        answers[spec.name] = outcome.value
        pending.payload = dict(pending.payload, answers=answers)
    else:
        old = records.set_value(
            ctx.session,
            ticket.id,
            spec.name,
            outcome.value,
            phase=phase,
            by=ctx.actor.user_id,
            now=ctx.now,
        )
    ticket.updated_at = ctx.now
    ctx.audit(
        "answer.accepted",
        ticket_id=ticket.id,
        details={"field": spec.name, "value": outcome.value, "old": old, "phase": phase},
        procedure=procedure,
    )
    return None


def answer(ctx: Ctx, ticket: TicketRow, pending: PendingRow, text: str) -> None:
    """A typed message that answers the pending question of `ticket`."""
    procedure = load_procedure(ctx, ticket.procedure_id, ticket)
    if procedure is None:
        return
    phase = pending.payload.get("phase", INTAKE)
    if pending.kind == "confirm":
        word = text.strip().lower().rstrip(".!")
        if word in ("yes", "y", "ok", "confirm"):
            confirm(ctx, ticket, procedure)
        elif word in ("no", "n", "change"):
            offer_changes(ctx, ticket, procedure)
        else:
            errors = apply_named_values(ctx, ticket, procedure, text, INTAKE)
            if not gate.named_values(text, procedure.fields):
                errors = ["Please answer yes to open the ticket, or no to change a field."]
            advance(ctx, ticket, procedure, INTAKE, errors=errors)
        return
    if pending.kind == "pick_change":
        spec = procedure.field(text.strip().lower())
        if spec is None or spec not in procedure.fields:
            offer_changes(ctx, ticket, procedure)
        else:
            change_field(ctx, ticket, procedure, spec)
        return
    if pending.kind == "deflect":
        errors = apply_named_values(ctx, ticket, procedure, text, INTAKE)
        advance(ctx, ticket, procedure, INTAKE, errors=errors)
        return
    fields = fields_for(procedure, phase)
    if gate.named_values(text, fields):
        errors = apply_named_values(ctx, ticket, procedure, text, phase)
        _after_answer(ctx, ticket, procedure, pending, phase, errors)
        return
    spec = next((f for f in fields if f.name == pending.field_name), None)
    if spec is None:  # the procedure no longer has this field: move on to what it asks now
        advance(ctx, ticket, procedure, phase)
        return
    error = accept_value(ctx, ticket, procedure, spec, text, phase)
    if error:
        ask(ctx, ticket, procedure, spec, phase, errors=[error], repeat=True)
        return
    _after_answer(ctx, ticket, procedure, pending, phase, [])


def _after_answer(
    ctx: Ctx,
    ticket: TicketRow,
    procedure: Procedure,
    pending: PendingRow,
    phase: str,
    errors: list[str],
) -> None:
    if pending.payload.get("changing") and not errors:
        ask_confirm(ctx, ticket, procedure)
        return
    advance(ctx, ticket, procedure, phase, errors=errors)


def choose(ctx: Ctx, ticket: TicketRow, pending: PendingRow, index: int) -> str | None:
    """A choice or yes/no button; returns what was chosen, for the edited question."""
    procedure = load_procedure(ctx, ticket.procedure_id, ticket)
    if procedure is None:
        return None
    phase = pending.payload.get("phase", INTAKE)
    spec = next((f for f in fields_for(procedure, phase) if f.name == pending.field_name), None)
    if spec is None:
        advance(ctx, ticket, procedure, phase)
        return None
    if spec.type == "boolean" and index in (0, 1):
        raw = "yes" if index == 1 else "no"
    elif spec.type == "choice" and 0 <= index < len(spec.choices):
        raw = spec.choices[index]
    else:
        advance(ctx, ticket, procedure, phase)
        return None
    error = accept_value(ctx, ticket, procedure, spec, raw, phase)
    if error:
        ask(ctx, ticket, procedure, spec, phase, errors=[error], repeat=True)
        return None
    _after_answer(ctx, ticket, procedure, pending, phase, [])
    return raw


def skip(ctx: Ctx, ticket: TicketRow, pending: PendingRow) -> None:
    procedure = load_procedure(ctx, ticket.procedure_id, ticket)
    if procedure is None:
        return
    phase = pending.payload.get("phase", INTAKE)
    spec = next((f for f in fields_for(procedure, phase) if f.name == pending.field_name), None)
    if spec is None or pending.kind != "field":
        ctx.say("chat/nothing_to_skip.html")
        return
    values = phase_values(ctx, ticket, phase)
    if not gate.can_skip(spec, values):
        ask(
            ctx,
            ticket,
            procedure,
            spec,
            phase,
            repeat=True,
            errors=[f"{spec.name} is required and cannot be skipped."],
        )
        return
    if phase == RESOLUTION:
        answers = dict(pending.payload.get("answers", {}), **{spec.name: None})
        pending.payload = dict(pending.payload, answers=answers)
    else:
        records.set_value(
            ctx.session, ticket.id, spec.name, None, phase=phase, by=ctx.actor.user_id, now=ctx.now
        )
    ctx.audit(
        "field.skipped", ticket_id=ticket.id, details={"field": spec.name}, procedure=procedure
    )
    advance(ctx, ticket, procedure, phase)


def cancel(ctx: Ctx, ticket: TicketRow, pending: PendingRow | None) -> None:
    """Cancel a draft (nothing is deleted), or stop resolving an opened ticket."""
    if ticket.opened_at is None and ticket.status == lifecycle.WAITING:
        change_status(ctx, ticket, lifecycle.CANCELLED, reason="cancelled by the reporter")
        ticket.close_reason = "cancelled"
        ticket.closed_at = ctx.now
        records.clear_pending(ctx.session, ticket.id)
        ctx.audit_ticket("ticket.cancelled", ticket)
        ctx.say("chat/cancelled.html", ticket=ticket)
        return
    if pending is not None and pending.payload.get("phase") == RESOLUTION:
        records.clear_pending(ctx.session, ticket.id)
        ctx.audit_ticket("resolution.cancelled", ticket)
        ctx.say("chat/resolution_cancelled.html", ticket=ticket)
        return
    ctx.say("chat/nothing_to_cancel.html")


# --- opening, pausing, resuming -------------------------------------------------------------


def confirm(ctx: Ctx, ticket: TicketRow, procedure: Procedure) -> None:
    """The person confirmed: open the ticket if the procedure (read again now) is satisfied."""
    values = records.values_of(ctx.session, ticket.id)
    if not gate.is_complete(procedure.fields, values):
        advance(ctx, ticket, procedure, INTAKE)
        return
    change_status(ctx, ticket, lifecycle.OPEN, procedure=procedure)
    ticket.opened_at = ctx.now
    ticket.procedure_version = procedure.version
    due = procedure.sla.due_after(values)
    ticket.due_at = ctx.now + due if due else None
    ticket.chase_at = ticket.due_at
    records.clear_pending(ctx.session, ticket.id)
    rows = summary_rows(ctx, ticket, procedure)
    ctx.say("chat/opened.html", ticket=ticket, procedure=procedure, tz=ctx.config.tz)
    if ticket.home_chat_id is not None and ticket.home_chat_id != ctx.incoming.chat_id:
        announce(ctx, ticket, procedure, rows)
    elif ticket.home_chat_id == ctx.incoming.chat_id:
        announce(ctx, ticket, procedure, rows, here=True)


def announce(
    ctx: Ctx, ticket: TicketRow, procedure: Procedure, rows, *, here: bool = False
) -> None:
    """Tell the team chat about a newly opened ticket, with buttons to take it."""
    from bot.render import render

    buttons = (
        (
            Button("Assign to me", f"as:{ticket.id}"),
            Button("Steps", f"ss:{ticket.id}"),
            Button("Show", f"sh:{ticket.id}"),
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
            ),
            buttons=buttons,
            thread_id=ticket.thread_id if here else None,
            ticket_id=ticket.id,
            kind="announcement",
        )
    )


def ensure_complete(ctx: Ctx, ticket: TicketRow, procedure: Procedure) -> bool:
    """Before work on an opened ticket: if its procedure now wants more, ask the reporter.

    The SLA clock stops while the ticket waits for that information.
    """
    values = records.values_of(ctx.session, ticket.id)
    if not gate.missing_required(procedure.fields, values):
        return True
    resume_status = ticket.status
    change_status(
        ctx,
        ticket,
        lifecycle.WAITING,
        procedure=procedure,
        reason="the procedure now needs more information",
    )
    ticket.paused_at = ctx.now
    ticket.chase_at = None
    spec = gate.missing_required(procedure.fields, values)[0]
    ask(ctx, ticket, procedure, spec, INTAKE, user_id=ticket.reporter_id, chat_id=ticket.chat_id)
    pending = records.pending_for_ticket(ctx.session, ticket.id)
    pending.payload = dict(pending.payload, resume_status=resume_status)
    ctx.say("chat/needs_info.html", ticket=ticket, spec=spec)
    return False


def resume(ctx: Ctx, ticket: TicketRow, procedure: Procedure) -> None:
    """The missing information arrived: restart the SLA clock where it stopped."""
    pending = records.pending_for_ticket(ctx.session, ticket.id)
    target = (pending.payload.get("resume_status") if pending else None) or lifecycle.OPEN
    if ticket.status == lifecycle.WAITING:
        change_status(ctx, ticket, target, procedure=procedure, reason="information complete")
    if ticket.paused_at is not None and ticket.due_at is not None:
        ticket.due_at = ticket.due_at + (ctx.now - ticket.paused_at)
    ticket.paused_at = None
    ticket.chase_at = ticket.due_at
    records.clear_pending(ctx.session, ticket.id)
    ctx.say("chat/resumed.html", ticket=ticket)


def change_status(
    ctx: Ctx,
    ticket: TicketRow,
    target: str,
    *,
    procedure: Procedure | None = None,
    reason: str | None = None,
) -> None:
    """Move the ticket along its lifecycle (or refuse), audited under the procedure version
    that governed the move: the one just read, else the one the ticket carries."""
    lifecycle.check_transition(ticket.status, target)
    old = ticket.status
    ticket.status = target
    ticket.updated_at = ctx.now
    details: dict[str, Any] = {"from": old, "to": target}
    if reason:
        details["reason"] = reason
    if procedure is not None:
        ctx.audit("status.changed", ticket_id=ticket.id, details=details, procedure=procedure)
    else:
        ctx.audit_ticket("status.changed", ticket, details)


# --- resolving ------------------------------------------------------------------------------


def missing_steps(ctx: Ctx, ticket: TicketRow, procedure: Procedure) -> list[str]:
    values = records.values_of(ctx.session, ticket.id)
    done = records.steps_done(ctx.session, ticket.id)
    return [
        s.title
        for s in procedure.steps
        if not s.optional and s.applies(values) and s.id not in done
    ]


def start_resolution(ctx: Ctx, ticket: TicketRow, procedure: Procedure) -> None:
    """Ask the resolver for the procedure's resolution fields through the same gate."""
    pending = _pending(ctx, ticket, kind="field", phase=RESOLUTION)
    pending.payload = {"phase": RESOLUTION, "n": pending.payload["n"], "answers": {}}
    advance(ctx, ticket, procedure, RESOLUTION)


def finish_resolution(ctx: Ctx, ticket: TicketRow, procedure: Procedure) -> None:
    pending = records.pending_for_ticket(ctx.session, ticket.id)
    answers = (pending.payload.get("answers", {}) if pending else {}) or {}
    for name, value in answers.items():
        records.set_value(
            ctx.session, ticket.id, name, value, phase=RESOLUTION, by=ctx.actor.user_id, now=ctx.now
        )
    change_status(ctx, ticket, lifecycle.RESOLVED, procedure=procedure)
    ticket.resolved_at = ctx.now
    ticket.chase_at = None
    records.clear_pending(ctx.session, ticket.id)
    path = _write_article(ctx, ticket, procedure, answers)
    ctx.say("chat/resolved.html", ticket=ticket, path=path)
    if ticket.chat_id != ctx.incoming.chat_id:
        from bot.render import render

        ctx.send(
            Reply(
                chat_id=ticket.chat_id,
                ticket_id=ticket.id,
                kind="notice",
                text=render("chat/resolved_for_reporter.html", ticket=ticket),
            )
        )


def _write_article(ctx: Ctx, ticket: TicketRow, procedure: Procedure, answers: dict) -> str | None:
    try:
        from bot.services import knowledge
    except ImportError:  # the knowledge base is optional while it is being built
        return None
    values = {
        k: v for k, v in records.values_of(ctx.session, ticket.id).items() if k not in answers
    }
    steps = sorted(records.steps_done(ctx.session, ticket.id).values(), key=lambda s: s.done_at)
    return knowledge.write_article(
        ctx, ticket=ticket, procedure=procedure, values=values, resolution=answers, steps=steps
    )


def due_in(ticket: TicketRow, now: datetime) -> str:
    from bot.domain.durations import format_duration

    if ticket.due_at is None:
        return ""
    delta = ticket.due_at - now
    return (
        f"due in {format_duration(delta)}"
        if delta.total_seconds() >= 0
        else (f"overdue by {format_duration(delta)}")
    )

"""The checklist: /steps N, its buttons, and marking a step done (the Ticket checks the role
and `requires`; doing a step may first ask for information the procedure now needs)."""

from __future__ import annotations

import re

from bot.domain.procedure import Procedure, Step
from bot.domain.ticket import Refused, Ticket
from bot.services import approvals, familiarity, intake, records, tickets
from bot.services import buttons as data
from bot.services.buttons import short_hash
from bot.services.context import Ctx, Registry, toast
from bot.services.messages import Button, Outcome
from bot.services.ticket_views import viewing
from bot.words import refusal as refusal_words

LIST_LIMIT = 30
_NUMBER = re.compile(r"^#?(\d{1,9})$")


def install(registry: Registry) -> None:
    registry.command("steps", steps)
    registry.button(data.ShowSteps, viewing(show_steps))
    registry.button(data.StepDone, _step_done_button)


def steps(ctx: Ctx, args: str) -> None:
    ticket, _ = tickets.find(ctx, args, "steps")
    if ticket is not None:
        show_steps(ctx, ticket)


def show_steps(ctx: Ctx, ticket: Ticket, just_done: Step | None = None) -> None:
    """The checklist, re-read from the procedure, with a button for each step not yet done;
    headed by the step just marked done, if any (one message rather than two)."""
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        return
    values = records.values_of(ctx.session, ticket.id)
    done = records.steps_done(ctx.session, ticket.id)
    applicable = [(i, s) for i, s in enumerate(procedure.steps) if s.applies(values)]
    buttons = tuple(
        (
            Button(
                data.label("step_done", text=s.title),
                data.StepDone(ticket.id, i, short_hash(s.id)).encode(),
            ),
        )
        for i, s in applicable
        if s.id not in done and ticket.is_workable and s.approval is None
    )
    ctx.say(
        "chat/steps.html",
        ticket=ticket,
        decisions=approvals.shown(ctx, ticket),
        tz=ctx.config.tz,
        just_done=just_done,
        steps=[(s, done.get(s.id)) for _, s in applicable],
        buttons=buttons,
        ticket_id=ticket.id,
    )


def mark_step(ctx: Ctx, ticket: Ticket, procedure: Procedure, step: Step) -> bool:
    """Mark a step done if its role and required fields allow it; audit either way."""
    try:
        ticket.check_step(
            step,
            lead=ctx.is_lead,
            values=records.values_of(ctx.session, ticket.id),
            done=records.steps_done(ctx.session, ticket.id),
            labels={f.name: f.label for f in procedure.fields},
            titles={s.id: s.title for s in procedure.steps},
        )
    except Refused as refused:
        ctx.audit(
            "step.refused",
            ticket_id=ticket.id,
            details={
                **refused.refusal.data,
                "step": step.id,
                "reason": refused.refusal.why.value,
            },
            procedure=procedure,
        )
        ctx.say("chat/refused.html", reason=refusal_words(refused.refusal, ticket.id))
        return False
    familiarity.worked(ctx, procedure)
    if not intake.ensure_complete(ctx, ticket, procedure):
        return False
    records.mark_done(ctx.session, ticket.id, step.id, ctx.actor, ctx.now)
    ctx.audit(
        "step.done",
        ticket_id=ticket.id,
        details={"step": step.id, "title": step.title},
        procedure=procedure,
    )
    ctx.moved(ticket, ticket.step_done(ctx.now), procedure)
    approvals.request(ctx, ticket, procedure)  # approvals that waited for this step
    return True


def _step_done_button(ctx: Ctx, pressed: data.StepDone) -> Outcome | None:
    ticket = records.lock_ticket(ctx.session, pressed.ticket)
    if ticket is None:
        return toast("gone")
    procedure = ctx.procedure(ticket.procedure_id, ticket)
    if procedure is None:
        return None
    steps = procedure.steps
    if pressed.index >= len(steps) or short_hash(steps[pressed.index].id) != pressed.hash:
        show_steps(ctx, ticket)
        return toast("checklist_changed")
    step = steps[pressed.index]
    if not mark_step(ctx, ticket, procedure, step):
        return None
    show_steps(ctx, ticket, just_done=step)  # what is left, with its buttons
    return toast("done")

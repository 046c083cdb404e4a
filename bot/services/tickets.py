"""Working tickets from chat: list, show, set, assign, steps, comment, resolve, reopen, close.

The same rules hold for commands and buttons: both land in these functions, which check the
lifecycle, the step's role and `requires`, and audit what they do or refuse.
"""

from __future__ import annotations

import re

from sqlalchemy import or_, select

from bot.db.models import Comment, Ticket, Watcher
from bot.domain import lifecycle
from bot.domain.fields import Accepted, parse_answer
from bot.domain.procedure import Procedure, Step
from bot.services import intake, records
from bot.services.context import Ctx, Registry, toast
from bot.services.messages import Button, Outcome
from bot.services.rows import TicketRow
from bot.words import display, due_words, rejection, status_name

LIST_LIMIT = 30
_NUMBER = re.compile(r"^#?(\d{1,9})$")


def install(registry: Registry) -> None:
    registry.command("mine", mine, summary="your tickets")
    registry.command("open", open_tickets, summary="tickets still open")
    registry.command("show", show, summary="/show N: one ticket")
    registry.command("set", set_field, summary="/set N field value")
    registry.command("assign", assign, summary="/assign N @user")
    registry.command("steps", steps, summary="/steps N: the checklist")
    registry.command("comment", comment, summary="/comment N text")
    registry.command("resolve", resolve, summary="/resolve N")
    registry.command("reopen", reopen, summary="/reopen N reason")
    registry.command("close", close, summary="/close N")
    registry.command("watch", watch, summary="/watch N: follow a ticket")
    registry.callback("as", _assign_me_button)
    registry.callback("sh", _viewing(render_ticket))
    registry.callback("ss", _viewing(show_steps))
    registry.callback("sd", _step_done_button)


# --- finding tickets ------------------------------------------------------------------------


def split_number(args: str) -> tuple[int | None, str]:
    """`12 rest of text` or `#12 rest` -> (12, "rest of text")."""
    head, _, rest = args.strip().partition(" ")
    m = _NUMBER.match(head)
    return (int(m.group(1)), rest.strip()) if m else (None, args.strip())


def find(ctx: Ctx, args: str, usage: str) -> tuple[TicketRow | None, str]:
    """The ticket named first in `args`, locked; tells the person when it is missing."""
    number, rest = split_number(args)
    if number is None:
        ctx.say("chat/usage.html", usage=usage)
        return None, rest
    ticket = records.lock_ticket(ctx.session, number)
    if ticket is None:
        ctx.say("chat/no_such_ticket.html", number=number)
    return ticket, rest


def _refuse(ctx: Ctx, ticket: TicketRow, action: str, reason: str) -> None:
    ctx.audit_ticket("action.refused", ticket, {"action": action, "reason": reason})
    ctx.say("chat/refused.html", ticket=ticket, reason=reason)


# --- lists and details ----------------------------------------------------------------------


def mine(ctx: Ctx, args: str) -> None:
    """Tickets the person reported or is assigned, still active."""
    uid = ctx.actor.user_id
    rows = (
        ctx.session.execute(
            select(Ticket)
            .where(Ticket.status.in_(lifecycle.ACTIVE))
            .where(or_(Ticket.reporter_id == uid, Ticket.assignee_id == uid))
            .order_by(Ticket.id.desc())
            .limit(LIST_LIMIT)
        )
        .scalars()
        .all()
    )
    ctx.say("chat/list.html", title="Your tickets", tickets=rows, now=ctx.now)


def open_tickets(ctx: Ctx, args: str) -> None:
    """Active tickets; in a team chat only that chat's."""
    query = select(Ticket).where(Ticket.status.in_(lifecycle.ACTIVE))
    if not ctx.incoming.is_private:
        query = query.where(Ticket.home_chat_id == ctx.incoming.chat_id)
    rows = (
        ctx.session.execute(
            query.order_by(Ticket.due_at.is_(None), Ticket.due_at, Ticket.id).limit(LIST_LIMIT)
        )
        .scalars()
        .all()
    )
    ctx.say("chat/list.html", title="Open tickets", tickets=rows, now=ctx.now)


def show(ctx: Ctx, args: str) -> None:
    ticket, _ = find(ctx, args, "/show N")
    if ticket is not None:
        render_ticket(ctx, ticket)


def render_ticket(ctx: Ctx, ticket: TicketRow) -> None:
    try:
        procedure = ctx.procedures.load(ticket.procedure_id)
    except Exception:  # a broken procedure must not hide the ticket itself
        procedure = None
    values = records.values_of(ctx.session, ticket.id)
    rows = (
        intake.summary_rows(ctx, ticket, procedure)
        if procedure
        else [(k, display(None, v)) for k, v in values.items()]
    )
    done = records.steps_done(ctx.session, ticket.id)
    step_rows = [
        (s, done.get(s.id)) for s in (procedure.steps if procedure else ()) if s.applies(values)
    ]
    comments = (
        ctx.session.execute(
            select(Comment)
            .where(Comment.ticket_id == ticket.id)
            .order_by(Comment.id.desc())
            .limit(5)
        )
        .scalars()
        .all()
    )
    ctx.say(
        "chat/ticket.html",
        ticket=ticket,
        procedure=procedure,
        rows=rows,
        steps=step_rows,
        comments=list(reversed(comments)),
        status=ticket.status,
        due=due_words(ticket.due_at, ctx.now),
        buttons=((Button("Steps", f"ss:{ticket.id}"), Button("Assign to me", f"as:{ticket.id}")),),
        ticket_id=ticket.id,
    )


# --- editing --------------------------------------------------------------------------------


def set_field(ctx: Ctx, args: str) -> None:
    """`/set N field value`: validated like an answer; old and new value audited."""
    ticket, rest = find(ctx, args, "/set N field value")
    if ticket is None:
        return
    name, _, raw = rest.partition(" ")
    if not name or not raw.strip():
        ctx.say("chat/usage.html", usage="/set N field value")
        return
    if ticket.status in (lifecycle.CLOSED, lifecycle.CANCELLED):
        _refuse(ctx, ticket, "set", f"ticket #{ticket.id} is {status_name(ticket.status)}")
        return
    procedure = intake.load_procedure(ctx, ticket.procedure_id, ticket)
    if procedure is None:
        return
    spec = next((f for f in procedure.fields if f.name == name.lower()), None)
    if spec is None:
        names = ", ".join(f.name for f in procedure.fields)
        _refuse(ctx, ticket, "set", f"{procedure.title} has no field {name!r} (fields: {names})")
        return
    outcome = parse_answer(spec, raw, ctx.config.tz)
    if not isinstance(outcome, Accepted):
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
        ctx.say("chat/invalid_value.html", ticket=ticket, spec=spec, reason=rejection(outcome))
        return
    old = records.set_value(
        ctx.session,
        ticket.id,
        spec.name,
        outcome.value,
        phase="intake",
        by=ctx.actor.user_id,
        now=ctx.now,
    )
    ticket.updated_at = ctx.now
    ctx.audit(
        "field.changed",
        ticket_id=ticket.id,
        details={"field": spec.name, "old": old, "new": outcome.value},
        procedure=procedure,
    )
    ctx.say(
        "chat/field_set.html",
        ticket=ticket,
        name=spec.name,
        old=display(spec, old),
        new=display(spec, outcome.value),
    )


def assign(ctx: Ctx, args: str) -> None:
    """`/assign N @user` (or `me`): the person must have written to the bot before."""
    ticket, rest = find(ctx, args, "/assign N @user")
    if ticket is None:
        return
    who = rest.split()[0] if rest.split() else ""
    if who.lower() in ("", "me"):
        assign_to(ctx, ticket, ctx.actor.user_id, ctx.actor.name)
        return
    person = records.person_by_username(ctx.session, who)
    if person is None:
        _refuse(
            ctx,
            ticket,
            "assign",
            f"I don't know {who}: they need to write to me once (for example /start) first",
        )
        return
    assign_to(ctx, ticket, person.user_id, person.name)


def assign_to(ctx: Ctx, ticket: TicketRow, user_id: int, name: str) -> bool:
    if ticket.status not in lifecycle.WORKABLE:
        _refuse(
            ctx,
            ticket,
            "assign",
            f"ticket #{ticket.id} is {status_name(ticket.status)}, not open for work",
        )
        return False
    old = ticket.assignee_name
    ticket.assignee_id, ticket.assignee_name = user_id, name
    ticket.updated_at = ctx.now
    ctx.audit_ticket("ticket.assigned", ticket, {"old": old, "new": name, "user_id": user_id})
    if ticket.status in (lifecycle.OPEN, lifecycle.REOPENED):
        intake.change_status(ctx, ticket, lifecycle.IN_PROGRESS, reason=f"assigned to {name}")
    ctx.say("chat/assigned.html", ticket=ticket)
    return True


def comment(ctx: Ctx, args: str) -> None:
    ticket, text = find(ctx, args, "/comment N text")
    if ticket is None:
        return
    if not text:
        ctx.say("chat/usage.html", usage="/comment N text")
        return
    ctx.session.add(
        Comment(
            ticket_id=ticket.id,
            author_id=ctx.actor.user_id,
            author_name=ctx.actor.name,
            text=text,
            created_at=ctx.now,
        )
    )
    ticket.updated_at = ctx.now
    ctx.audit_ticket("comment.added", ticket, {"text": text})
    ctx.say("chat/commented.html", ticket=ticket)


def watch(ctx: Ctx, args: str) -> None:
    ticket, _ = find(ctx, args, "/watch N")
    if ticket is None:
        return
    if ctx.session.get(Watcher, (ticket.id, ctx.actor.user_id)) is None:
        ctx.session.add(Watcher(ticket_id=ticket.id, user_id=ctx.actor.user_id))
        ctx.audit_ticket("ticket.watched", ticket)
    ctx.say("chat/watching.html", ticket=ticket)


# --- steps ----------------------------------------------------------------------------------


def steps(ctx: Ctx, args: str) -> None:
    ticket, _ = find(ctx, args, "/steps N")
    if ticket is not None:
        show_steps(ctx, ticket)


def show_steps(ctx: Ctx, ticket: TicketRow, just_done: Step | None = None) -> None:
    """The checklist, re-read from the procedure, with a button for each step not yet done;
    headed by the step just marked done, if any (one message rather than two)."""
    procedure = intake.load_procedure(ctx, ticket.procedure_id, ticket)
    if procedure is None:
        return
    values = records.values_of(ctx.session, ticket.id)
    done = records.steps_done(ctx.session, ticket.id)
    applicable = [(i, s) for i, s in enumerate(procedure.steps) if s.applies(values)]
    buttons = tuple(
        (Button(f"Done: {s.title}"[:60], f"sd:{ticket.id}:{i}:{intake.short_hash(s.id)}"),)
        for i, s in applicable
        if s.id not in done and ticket.status in lifecycle.WORKABLE
    )
    ctx.say(
        "chat/steps.html",
        ticket=ticket,
        just_done=just_done,
        steps=[(s, done.get(s.id)) for _, s in applicable],
        buttons=buttons,
        ticket_id=ticket.id,
    )


def mark_step(ctx: Ctx, ticket: TicketRow, procedure: Procedure, step: Step) -> bool:
    """Mark a step done if its role and required fields allow it; audit either way."""
    reason = _step_refusal(ctx, ticket, procedure, step)
    if reason:
        ctx.audit(
            "step.refused",
            ticket_id=ticket.id,
            details={"step": step.id, "reason": reason},
            procedure=procedure,
        )
        ctx.say("chat/refused.html", ticket=ticket, reason=reason)
        return False
    if not intake.ensure_complete(ctx, ticket, procedure):
        return False
    records.mark_done(
        ctx.session,
        ticket.id,
        records.StepRow(step.id, ctx.actor.user_id, ctx.actor.name, ctx.now),
    )
    ticket.updated_at = ctx.now
    ctx.audit(
        "step.done",
        ticket_id=ticket.id,
        details={"step": step.id, "title": step.title},
        procedure=procedure,
    )
    if ticket.status in (lifecycle.OPEN, lifecycle.REOPENED):
        intake.change_status(
            ctx, ticket, lifecycle.IN_PROGRESS, procedure=procedure, reason="work started"
        )
    return True


def _step_refusal(ctx: Ctx, ticket: TicketRow, procedure: Procedure, step: Step) -> str | None:
    if ticket.status not in lifecycle.WORKABLE:
        return f"ticket #{ticket.id} is {status_name(ticket.status)}, not open for work"
    if step.role == "lead" and not ctx.is_lead:
        return f"only a lead may mark “{step.title}” done"
    values = records.values_of(ctx.session, ticket.id)
    missing = [name for name in step.requires if values.get(name) is None]
    if missing:
        return f"“{step.title}” needs {', '.join(missing)} first (use /set {ticket.id} field value)"
    if step.id in records.steps_done(ctx.session, ticket.id):
        return f"“{step.title}” is already done"
    return None


# --- resolve, reopen, close -----------------------------------------------------------------


def resolve(ctx: Ctx, args: str) -> None:
    """Resolution goes through the gate: required steps done, then the resolution fields."""
    ticket, _ = find(ctx, args, "/resolve N")
    if ticket is None:
        return
    if ticket.status not in lifecycle.WORKABLE:
        _refuse(
            ctx,
            ticket,
            "resolve",
            f"ticket #{ticket.id} is {status_name(ticket.status)} and cannot be resolved",
        )
        return
    procedure = intake.load_procedure(ctx, ticket.procedure_id, ticket)
    if procedure is None or not intake.ensure_complete(ctx, ticket, procedure):
        return
    missing = intake.missing_steps(ctx, ticket, procedure)
    if missing:
        _refuse(ctx, ticket, "resolve", "these steps are not done yet: " + "; ".join(missing))
        return
    intake.start_resolution(ctx, ticket, procedure)


def reopen(ctx: Ctx, args: str) -> None:
    """Rework: a resolved or closed ticket comes back, with a reason, counted in metrics."""
    ticket, reason = find(ctx, args, "/reopen N reason")
    if ticket is None:
        return
    if not reason:
        ctx.say("chat/usage.html", usage="/reopen N reason (say why it needs more work)")
        return
    if ticket.status not in (lifecycle.RESOLVED, lifecycle.CLOSED) or ticket.opened_at is None:
        _refuse(
            ctx,
            ticket,
            "reopen",
            f"ticket #{ticket.id} is {status_name(ticket.status)}; only resolved or "
            "closed tickets can be reopened",
        )
        return
    procedure = intake.load_procedure(ctx, ticket.procedure_id, ticket)
    if procedure is None:
        return
    intake.change_status(ctx, ticket, lifecycle.REOPENED, procedure=procedure, reason=reason)
    ticket.reopen_count += 1
    ticket.closed_at = None
    ticket.close_reason = None
    due = procedure.sla.due_after(records.values_of(ctx.session, ticket.id))
    ticket.due_at = ctx.now + due if due else None
    ticket.chase_at = ticket.due_at
    ticket.remind_count = 0
    ticket.escalation_level = 0
    ctx.say("chat/reopened.html", ticket=ticket, reason=reason)


def close(ctx: Ctx, args: str) -> None:
    """Close a resolved ticket; closing one that was never resolved is for leads only."""
    ticket, _ = find(ctx, args, "/close N")
    if ticket is None:
        return
    if ticket.status != lifecycle.RESOLVED and not (
        ctx.is_lead and ticket.status in lifecycle.WORKABLE
    ):
        _refuse(
            ctx,
            ticket,
            "close",
            f"ticket #{ticket.id} is {status_name(ticket.status)}; only resolved tickets "
            "can be closed (a lead may close an open one)",
        )
        return
    was_resolved = ticket.status == lifecycle.RESOLVED
    intake.change_status(ctx, ticket, lifecycle.CLOSED)
    ticket.closed_at = ctx.now
    ticket.close_reason = "done" if was_resolved else "withdrawn"
    ticket.chase_at = None
    records.clear_pending(ctx.session, ticket.id)
    ctx.say("chat/closed.html", ticket=ticket)


# --- buttons --------------------------------------------------------------------------------


def _ticket_from(ctx: Ctx, parts: list[str]) -> TicketRow | None:
    if not parts or not parts[0].isdigit():
        return None
    return records.lock_ticket(ctx.session, int(parts[0]))


def _assign_me_button(ctx: Ctx, parts: list[str]) -> Outcome | None:
    ticket = _ticket_from(ctx, parts)
    if ticket is None:
        return toast("gone")
    if ticket.assignee_id == ctx.actor.user_id:
        return toast("already_yours", number=ticket.id)
    return toast("assigned") if assign_to(ctx, ticket, ctx.actor.user_id, ctx.actor.name) else None


def _viewing(view):
    """A button that shows something about the ticket it names (`sh:N`, `ss:N`)."""

    def handler(ctx: Ctx, parts: list[str]) -> Outcome | None:
        ticket = _ticket_from(ctx, parts)
        if ticket is None:
            return toast("gone")
        view(ctx, ticket)
        return None

    return handler


def _step_done_button(ctx: Ctx, parts: list[str]) -> Outcome | None:
    if len(parts) != 3 or not parts[1].isdigit():
        return toast("invalid")
    ticket = _ticket_from(ctx, parts)
    if ticket is None:
        return toast("gone")
    procedure = intake.load_procedure(ctx, ticket.procedure_id, ticket)
    if procedure is None:
        return None
    index = int(parts[1])
    if index >= len(procedure.steps) or intake.short_hash(procedure.steps[index].id) != parts[2]:
        show_steps(ctx, ticket)
        return toast("checklist_changed")
    step = procedure.steps[index]
    if not mark_step(ctx, ticket, procedure, step):
        return None
    show_steps(ctx, ticket, just_done=step)  # what is left, with its buttons
    return toast("done")
